"""Every entry point goes through one boundary: all four covariance forms, errors that name the
function the user called, f traced once, and estimators defined outside the package."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gaussjax as gj

MEAN = jnp.array([0.2, -0.1, 0.4])
CHOL = jnp.array([[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.1, 0.6]])
DIAG = jnp.array([1.0, 0.5, 2.0])
RULE = gj.GaussHermite(order=5)


def cubic(x):
    return x[0] ** 2 * x[1] + 0.5 * x[2] ** 3 - x[0] * x[2] + 2.0 * x[1]


COVARIANCES = {
    "cov": CHOL @ CHOL.T,
    "scale_tril": CHOL,
    "cov_factor": jnp.concatenate([CHOL, 0.3 * jnp.eye(3)[:, :1]], axis=1),
    "cov_diag": DIAG,
}


@pytest.mark.parametrize("name", list(COVARIANCES))
def test_every_entry_point_accepts_every_covariance_form(name):
    @jax.jit
    def results(value):
        covariance = {name: value}

        def z(m, v):
            return gj.expectation(cubic, m, rule=RULE, **{name: v})

        grads = {
            method: gj.mean_cov_grads(cubic, MEAN, rule=RULE, method=method, **covariance)
            for method in ("autodiff", "bonnet_price", "score")
        }
        return (
            z(MEAN, value),
            jax.grad(z, argnums=(0, 1))(MEAN, value),
            gj.estimate(cubic, MEAN, rule=RULE, **covariance).value,
            grads,
            gj.estimate_grad(cubic, MEAN, rule=RULE, **covariance).value,
        )

    want_value, want_grad, estimated, grads, estimated_grad = results(COVARIANCES[name])
    assert jnp.allclose(estimated, want_value)
    for got in (*grads.values(), estimated_grad):
        for a, b in zip(got, want_grad, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-10)


def test_chain_rule_through_a_factor_agrees_with_chain_rule_through_the_covariance():
    # L(K) lower triangular with a positive diagonal is the Cholesky factor of L(K) L(K)^T, so
    # the rule sees the same nodes and dZ/dK agrees to rounding, while the pieces differ.
    A = jnp.array([[0.5, -0.2], [0.1, 0.4], [0.3, 0.0]])
    mean_fn = lambda K: A @ K[:, 0]  # noqa: E731
    tril_fn = lambda K: jnp.tril(CHOL + 0.1 * A @ K @ A.T)  # noqa: E731
    K = jnp.array([[0.3, -0.2], [0.5, 0.1]])
    f = lambda x: jnp.exp(-0.5 * x @ x) + jnp.sin(x[0])  # noqa: E731
    through_cov = gj.chain_rule(f, mean_fn, lambda K: tril_fn(K) @ tril_fn(K).T, K, rule=RULE)
    through_tril = gj.chain_rule(f, mean_fn, tril_fn, K, cov_form="scale_tril", rule=RULE)
    assert through_tril.cov_form == "scale_tril" and through_tril.dZ_dcov.shape == (3, 3)
    assert through_tril.dcov_dK.shape == (3, 3, 2, 2)
    np.testing.assert_allclose(through_tril.dZ_dK, through_cov.dZ_dK, rtol=1e-10)
    np.testing.assert_allclose(through_tril.contraction, through_tril.dZ_dK, rtol=1e-12)
    diag = gj.chain_rule(
        f, mean_fn, lambda K: jnp.exp(A @ K[:, 1]), K, cov_form="cov_diag", rule=RULE
    )
    assert diag.dZ_dcov.shape == (3,) and diag.dcov_dK.shape == (3, 2, 2)
    np.testing.assert_allclose(diag.contraction, diag.dZ_dK, rtol=1e-12)


def unit(mean):
    return jnp.eye(mean.shape[-1])


ENTRY_POINTS = {
    "gj.expectation": lambda f, m, c=unit, **kw: gj.expectation(f, m, c(m), **kw),
    "gj.estimate": lambda f, m, c=unit, **kw: gj.estimate(f, m, c(m), **kw),
    "gj.mean_cov_grads": lambda f, m, c=unit, **kw: gj.mean_cov_grads(f, m, c(m), **kw),
    "gj.estimate_grad": lambda f, m, c=unit, **kw: gj.estimate_grad(f, m, c(m), **kw),
    "gj.chain_rule": lambda f, m, c=unit, **kw: gj.chain_rule(f, lambda K: K, c, m, **kw),
}


def step(x):
    return (x[0] > 0.1).astype(x.dtype)


ERRORS = [
    ("mean must be a non-empty 1-D", ValueError, lambda call: call(cubic, jnp.ones((2, 3)))),
    (
        "MonteCarlo is a random rule and needs a key",
        ValueError,
        lambda call: call(cubic, MEAN, rule=gj.MonteCarlo(num_samples=8)),
    ),
    ("rule must be a gaussjax rule", TypeError, lambda call: call(cubic, MEAN, rule="GH")),
    ("estimator must be one of", ValueError, lambda call: call(cubic, MEAN, estimator="x")),
    ("f must be a callable", TypeError, lambda call: call(3.0, MEAN)),
    (
        "batch_size must be a positive int",
        ValueError,
        lambda call: call(cubic, MEAN, batch_size=-1),
    ),
]


CASES = [  # mean_cov_grads takes method= instead of estimator=
    (entry, *error)
    for entry in ENTRY_POINTS
    for error in ERRORS
    if not (entry == "gj.mean_cov_grads" and "estimator" in error[0])
]


@pytest.mark.parametrize("entry, message, kind, make", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_error_names_the_entry_point_the_user_called(entry, message, kind, make):
    with pytest.raises(kind, match=f"^{entry}: {message}"):
        make(ENTRY_POINTS[entry])


@pytest.mark.parametrize("entry", ["gj.mean_cov_grads", "gj.estimate_grad", "gj.chain_rule"])
def test_errors_raised_while_differentiating_name_the_entry_point(entry):
    with pytest.raises(ValueError, match=f"^{entry}: f depends on x only through"):
        ENTRY_POINTS[entry](step, MEAN, rule=RULE)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_run_time_errors_name_the_entry_point(entry):
    with pytest.raises(Exception, match=f"{entry}: cov is not positive definite"):
        jax.block_until_ready(ENTRY_POINTS[entry](cubic, MEAN, lambda m: -unit(m), rule=RULE))


def test_chain_rule_names_itself_for_bad_shapes_from_mean_fn_and_cov_fn():
    with pytest.raises(ValueError, match=r"^gj.chain_rule: cov must have shape \(3, 3\)"):
        gj.chain_rule(cubic, lambda K: K, lambda K: jnp.eye(2), MEAN)
    with pytest.raises(ValueError, match="^gj.chain_rule: cov_form must be one of"):
        gj.chain_rule(cubic, lambda K: K, lambda K: jnp.eye(3), MEAN, cov_form="precision")
    with pytest.raises(TypeError, match="^gj.chain_rule: K must be a floating array"):
        gj.chain_rule(cubic, lambda K: K, lambda K: jnp.eye(3), jnp.arange(3))


RULES = [
    gj.GaussHermite(order=4),
    gj.SparseGrid(level=3),
    gj.Cubature(degree=3),
    gj.Unscented(),
    gj.MonteCarlo(num_samples=64),
    gj.QuasiMonteCarlo(num_samples=64),
]


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_f_is_traced_once_by_expectation_estimate_and_their_gradients(rule):
    calls = []

    def fresh_f():  # a new function each time, so that no tracing cache hides a second trace
        def f(x):
            calls.append(1)
            return jnp.sin(x).sum()

        return f

    key, cov = jax.random.key(0), CHOL @ CHOL.T
    runs = [
        lambda f: gj.expectation(f, MEAN, cov, rule=rule, key=key),
        lambda f: gj.estimate(f, MEAN, cov, rule=rule, key=key),
        lambda f: jax.grad(lambda m: gj.estimate(f, m, cov, rule=rule, key=key).value)(MEAN),
        lambda f: jax.grad(
            lambda m: gj.expectation(f, m, cov, rule=rule, key=key, estimator="score")
        )(MEAN),
    ]
    for run in runs:
        calls.clear()
        f = fresh_f()
        jax.jit(lambda run=run, f=f: run(f))()
        assert len(calls) == 1


class FrozenCovariance(gj.AbstractEstimator):
    """Pathwise in the mean; the covariance is treated as a constant."""

    def integrate(self, problem):
        factor = jax.lax.stop_gradient(problem.factor)
        return problem.weighted_sum(lambda xi: problem.f(problem.mean + factor @ xi))


def test_an_estimator_defined_outside_the_package_works_through_every_entry_point():
    cov = CHOL @ CHOL.T
    frozen = FrozenCovariance()
    g_mean, g_cov = gj.mean_cov_grads(cubic, MEAN, cov, rule=RULE)
    got_mean, got_cov = jax.grad(
        lambda m, c: gj.expectation(cubic, m, c, rule=RULE, estimator=frozen), argnums=(0, 1)
    )(MEAN, cov)
    np.testing.assert_allclose(got_mean, g_mean, rtol=1e-12)
    assert jnp.all(got_cov == 0) and jnp.any(g_cov != 0)
    est = gj.estimate(cubic, MEAN, cov, rule=RULE, estimator=frozen)
    assert jnp.allclose(est.value, gj.expectation(cubic, MEAN, cov, rule=RULE))
    report = gj.chain_rule(
        cubic, lambda K: K[0], lambda K: cov + jnp.diag(K[1] ** 2), jnp.stack([MEAN, DIAG]),
        rule=RULE, estimator=frozen,
    )  # fmt: skip
    np.testing.assert_allclose(report.dZ_dK_through_cov, 0.0)
    np.testing.assert_allclose(report.contraction, report.dZ_dK, rtol=1e-12)


def test_changing_a_traced_hyperparameter_does_not_recompile():
    traces = []

    @jax.jit
    def z(rule, mean):
        traces.append(1)
        return gj.expectation(lambda x: jnp.sum(x**4), mean, jnp.eye(3), rule=rule)

    values = [z(gj.Unscented(alpha=alpha, kappa=1.0), MEAN * 0) for alpha in (0.5, 0.7, 0.9)]
    assert len(traces) == 1
    # the unscented rule is exact only to degree 3: its value of E[sum x_i^4] moves with alpha
    np.testing.assert_allclose(values, [3 * alpha**2 * 4.0 for alpha in (0.5, 0.7, 0.9)])
