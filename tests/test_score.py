"""estimator="score": closed forms for f with jumps, agreement with pathwise, higher derivatives,
black-box callbacks, baselines and errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import norm

import gaussjax as gj
from gaussjax._rules._rotated import Rotated, widened_references

W = jnp.array([0.6, -0.4, 0.3])
MEAN = jnp.array([0.2, -0.1, 0.4])
CHOL = jnp.array([[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.1, 0.6]])
COV = CHOL @ CHOL.T


def sym(g):
    return 0.5 * (g + g.T)


def estimate_grad(f, **options):
    """gj.estimate_grad at (MEAN, COV), compiled in one piece."""
    return jax.jit(lambda m, c, k: gj.estimate_grad(f, m, c, key=k, **options))(
        MEAN, COV, options.pop("key")
    )


def grads(z_fn, mean=MEAN, cov=COV):
    """(dZ/dmean, symmetric dZ/dcov) of z_fn(mean, cov)."""
    g_mean, g_cov = jax.jit(jax.grad(z_fn, argnums=(0, 1)))(mean, cov)
    return g_mean, sym(g_cov)


def score_z(f, rule, **options):
    return lambda m, c: gj.expectation(f, m, c, rule=rule, estimator="score", **options)


# ---- closed forms for f with a jump or a kink --------------------------------------------------


def step_exact(m, c, threshold=0.1):
    return norm.cdf((W @ m - threshold) / jnp.sqrt(W @ c @ W))


def step(x):
    return (W @ x > 0.1).astype(x.dtype)


@pytest.mark.slow
def test_step_pathwise_by_hand_is_zero_and_score_is_right(key):
    rule = gj.MonteCarlo(num_samples=2**14)
    exact = grads(step_exact)
    xi = jax.random.normal(key, (2**14, 3))
    by_hand = grads(lambda m, c: jnp.mean(jax.vmap(step)(m + xi @ jnp.linalg.cholesky(c).T)))
    assert all(bool(jnp.all(g == 0)) for g in by_hand)  # what reparameterised MC silently gives
    est = estimate_grad(step, rule=rule, estimator="score", key=key, num_repeats=8)
    for value, error, truth in zip(est.value, est.error, exact, strict=True):
        assert bool(jnp.all(jnp.abs(value - truth) < 5 * error + 1e-12))
        assert bool(jnp.all(error < 0.01))


def probit_exact(m, c):
    return norm.cdf(W @ m / jnp.sqrt(1.0 + W @ c @ W))


def relu_exact(m, c):
    mu, s = W @ m, jnp.sqrt(W @ c @ W)
    return mu * norm.cdf(mu / s) + s * norm.pdf(mu / s)


@pytest.mark.parametrize(
    "f, exact, tolerance",
    [
        (lambda x: norm.cdf(W @ x), probit_exact, 1e-8),
        (lambda x: jnp.maximum(W @ x, 0.0), relu_exact, 2e-3),
    ],
    ids=["probit", "relu"],
)
def test_probit_and_relu_against_closed_forms(f, exact, tolerance):
    z_fn = score_z(f, gj.GaussHermite(order=16))
    assert jnp.allclose(z_fn(MEAN, COV), exact(MEAN, COV), atol=tolerance)
    for got, want in zip(grads(z_fn), grads(exact), strict=True):
        np.testing.assert_allclose(got, want, atol=tolerance)


# ---- agreement with pathwise; exactness for polynomials ------------------------------------------


def cubic(x):
    return x[0] ** 2 * x[1] + 0.5 * x[2] ** 3 - x[0] * x[2] + 2.0 * x[1]


def test_three_methods_agree_for_a_polynomial():
    rule = gj.GaussHermite(order=4)  # exact to degree 7 per axis: f times quadratics is degree 5
    results = [
        jax.jit(
            lambda m, c, method=method: gj.mean_cov_grads(cubic, m, c, method=method, rule=rule)
        )(MEAN, COV)
        for method in ("autodiff", "bonnet_price", "score")
    ]
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-10)
    np.testing.assert_allclose(results[0][1], results[0][1].T, atol=1e-12)


@pytest.mark.parametrize(
    "covariance",
    [
        dict(cov=COV),
        dict(scale_tril=CHOL),
        dict(cov_diag=jnp.array([1.0, 0.5, 2.0])),
        dict(cov_factor=jnp.concatenate([CHOL, 0.3 * jnp.eye(3)[:, :2]], axis=1)),
    ],
    ids=["cov", "scale_tril", "cov_diag", "cov_factor_wide"],
)
def test_score_matches_pathwise_for_every_covariance_argument(covariance):
    (name, value), rule = next(iter(covariance.items())), gj.GaussHermite(order=5)

    def z_fn(estimator):
        f = lambda x: {"poly": cubic(x), "vec": x**2 * x[0]}  # noqa: E731
        return lambda m, v: gj.expectation(f, m, rule=rule, estimator=estimator, **{name: v})

    pathwise = jax.jit(jax.jacrev(z_fn("pathwise"), argnums=(0, 1)))(MEAN, value)
    score = jax.jit(jax.jacrev(z_fn("score"), argnums=(0, 1)))(MEAN, value)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-9), pathwise, score)


@pytest.mark.slow
def test_hessian_and_jacfwd_of_score_against_closed_form():
    a = jnp.array([0.5, -0.3, 0.2])
    f = lambda x: jnp.exp(a @ x)  # noqa: E731
    exact = lambda m, c: jnp.exp(a @ m + 0.5 * a @ c @ a)  # noqa: E731
    z_fn = score_z(f, gj.GaussHermite(order=8))
    hessian = jax.jit(jax.hessian(z_fn))(MEAN, COV)
    np.testing.assert_allclose(hessian, jnp.outer(a, a) * exact(MEAN, COV))
    fwd = jax.jit(jax.jacfwd(z_fn, argnums=(0, 1)))(MEAN, COV)
    for got, want in zip(fwd, jax.grad(exact, argnums=(0, 1))(MEAN, COV), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9)
    # second derivatives in the covariance are again score estimates: d2Z/dcov dmean
    mixed = jax.jit(jax.jacfwd(jax.grad(z_fn, argnums=1), argnums=0))(MEAN, COV)
    want = jax.jacfwd(jax.grad(exact, argnums=1), argnums=0)(MEAN, COV)
    np.testing.assert_allclose(mixed, 0.5 * (want + want.transpose(1, 0, 2)), rtol=1e-8)


def test_price_identity_holds_for_score():
    z_fn = score_z(lambda x: jnp.cos(x).sum() + cubic(x), gj.GaussHermite(order=10))
    hess = jax.jit(jax.hessian(z_fn))(MEAN, COV)
    np.testing.assert_allclose(hess, 2 * grads(z_fn)[1], atol=1e-9)


def test_chain_rule_with_score_matches_pathwise():
    A = jnp.array([[1.0, 0.5], [0.0, 1.0], [0.3, -0.2]])
    mean_fn = lambda K: A @ K @ jnp.ones(2)  # noqa: E731
    cov_fn = lambda K: jnp.eye(3) + A @ K @ K.T @ A.T  # noqa: E731
    K = jnp.array([[0.3, -0.1], [0.2, 0.4]])
    options = dict(rule=gj.GaussHermite(order=5))
    score = jax.jit(
        lambda K: gj.chain_rule(cubic, mean_fn, cov_fn, K, estimator="score", **options)
    )(K)
    pathwise = jax.jit(lambda K: gj.chain_rule(cubic, mean_fn, cov_fn, K, **options))(K)
    np.testing.assert_allclose(score.contraction, score.dZ_dK, atol=1e-10)
    np.testing.assert_allclose(score.dZ_dK, pathwise.dZ_dK, atol=1e-9)


# ---- closed-over parameters, baselines, batching, dtypes ---------------------------------------


def test_closed_over_parameters_get_pathwise_gradients():
    # f is a small network whose weights it closes over: they get ordinary pathwise gradients
    # while mean gets the score estimate
    def z_fn(params, m, estimator):
        def f(x):
            return jnp.tanh(params["hidden"] @ x) @ params["out"]

        return gj.expectation(f, m, COV, rule=gj.GaussHermite(order=10), estimator=estimator)

    params = {
        "hidden": jnp.array([[0.5, 0.1, -0.4], [0.2, -0.3, 0.1]]),
        "out": jnp.array([1.0, -0.5]),
    }
    grad_fn = jax.jit(jax.grad(z_fn, argnums=(0, 1)), static_argnums=2)
    pathwise, score = grad_fn(params, MEAN, "pathwise"), grad_fn(params, MEAN, "score")
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), score[0], pathwise[0])
    np.testing.assert_allclose(score[1], pathwise[1], atol=1e-4)  # tanh is not a polynomial
    mixed_fn = jax.jit(jax.jacfwd(jax.grad(z_fn, argnums=1), argnums=0), static_argnums=2)
    mixed, want = mixed_fn(params, MEAN, "score"), mixed_fn(params, MEAN, "pathwise")
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-3), mixed, want)


def test_leave_one_out_baseline_is_unbiased_with_few_samples(key):
    # f(x) = x, N(0, 1): the leave-one-out estimate of dZ/dmu = 1 is the sample variance (mean 1);
    # subtracting the plain mean of the same samples would give (N - 1) / N = 0.75 on average.
    rule = gj.MonteCarlo(num_samples=4)
    grad = jax.grad(
        lambda m, k: gj.expectation(
            lambda x: x[0], m, jnp.eye(1), rule=rule, key=k, estimator="score"
        )[()]
    )
    draws = jax.jit(jax.vmap(grad, (None, 0)))(jnp.zeros(1), jax.random.split(key, 8000))[:, 0]
    standard_error = jnp.std(draws) / jnp.sqrt(draws.size)
    assert abs(float(jnp.mean(draws)) - 1.0) < 4 * standard_error < 0.05


def test_baseline_cuts_variance_and_turning_it_off_keeps_the_mean(key):
    f = lambda x: 10.0 + jnp.sin(x).sum()  # noqa: E731
    rule = gj.MonteCarlo(num_samples=256)
    with_baseline = estimate_grad(f, rule=rule, estimator="score", key=key)
    without = estimate_grad(f, rule=rule, estimator=gj.Score(baseline=False), key=key)
    assert bool(jnp.all(5 * with_baseline.error[0] < without.error[0]))
    exact = jnp.cos(MEAN) * jnp.exp(-0.5 * jnp.diag(COV))
    for est in (with_baseline, without):
        assert bool(jnp.all(jnp.abs(est.value[0] - exact) < 5 * est.error[0]))


def test_score_variance_exceeds_pathwise_for_smooth_f(key):
    f = lambda x: jnp.sin(x).sum()  # noqa: E731
    rule = gj.MonteCarlo(num_samples=256)
    pathwise = estimate_grad(f, rule=rule, key=key)
    score = estimate_grad(f, rule=rule, estimator="score", key=key)
    assert bool(jnp.all(pathwise.error[0] < score.error[0]))
    np.testing.assert_allclose(pathwise.value[0], score.value[0], atol=5 * score.error[0].max())


def test_batch_size_does_not_change_the_score_gradient(key):
    rule = gj.MonteCarlo(num_samples=1000)
    whole = grads(score_z(step, rule, key=key))
    chunked = grads(score_z(step, rule, key=key, batch_size=128))
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_float32_is_kept():
    z_fn = score_z(cubic, gj.GaussHermite(order=4))
    g_mean, g_cov = grads(z_fn, MEAN.astype(jnp.float32), COV.astype(jnp.float32))
    assert g_mean.dtype == g_cov.dtype == jnp.float32
    want = grads(z_fn)
    np.testing.assert_allclose(g_mean, want[0], rtol=1e-4, atol=1e-4)


# ---- black-box f ---------------------------------------------------------------------------------


def count_above(x, threshold=0.25):
    """A simulator: how many coordinates exceed a threshold, computed in NumPy."""

    def simulate(points):
        return np.sum(np.asarray(points) > threshold, axis=-1).astype(np.float64)

    shape = jax.ShapeDtypeStruct(x.shape[:-1], x.dtype)
    return jax.pure_callback(simulate, shape, x, vmap_method="expand_dims")


def count_exact(m, c, threshold=0.25):
    return jnp.sum(norm.cdf((m - threshold) / jnp.sqrt(jnp.diag(c))))


@pytest.mark.slow
def test_black_box_simulator_under_jit_and_vmap(key):
    z_fn = score_z(count_above, gj.MonteCarlo(num_samples=2**14), key=key)
    grad = jax.grad(z_fn, argnums=(0, 1))
    means = jnp.stack([MEAN, -MEAN, 2 * MEAN])
    batched = jax.jit(jax.vmap(grad, (0, None)))(means, COV)
    for i, m in enumerate(means):
        eager = jax.jit(grad)(m, COV)
        np.testing.assert_allclose(batched[0][i], eager[0], rtol=1e-10)
        np.testing.assert_allclose(batched[1][i], eager[1], rtol=1e-10)
        # the standard error of each entry is below 0.01 here (gj.estimate_grad measures it)
        np.testing.assert_allclose(batched[0][i], jax.grad(count_exact)(m, COV), atol=0.04)
        want = sym(jax.grad(count_exact, 1)(m, COV))
        np.testing.assert_allclose(sym(batched[1][i]), want, atol=0.04)


def test_black_box_sequential_callback_with_monte_carlo(key):
    def simulate(x):
        return jax.pure_callback(
            lambda p: np.float64(np.sum(np.asarray(p) > 0.25)),
            jax.ShapeDtypeStruct((), x.dtype),
            x,
            vmap_method="sequential",
        )

    rule = gj.MonteCarlo(num_samples=512)
    est = estimate_grad(simulate, rule=rule, estimator="score", key=key, num_repeats=4)
    exact = jax.grad(count_exact)(MEAN, COV)
    assert bool(jnp.all(jnp.abs(est.value[0] - exact) < 5 * est.error[0]))


# ---- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("batch_size", [None, 5], ids=["whole", "chunked"])
def test_pathwise_on_a_callback_says_use_score(jit, batch_size):
    rule = gj.GaussHermite(order=3)

    def grad(m):
        return jax.grad(
            lambda m: gj.expectation(count_above, m, COV, rule=rule, batch_size=batch_size)
        )(m)

    with pytest.raises(ValueError, match="estimator='score'"):
        (jax.jit(grad) if jit else grad)(MEAN)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize(
    "f",
    [step, lambda x: x[0] > 0.0, lambda x: jnp.floor(x).sum()],
    ids=["step", "bool", "floor"],
)
def test_pathwise_on_a_piecewise_constant_f_says_use_score(jit, f):
    def grad(m):
        return jax.grad(lambda m: gj.expectation(f, m, COV, rule=gj.GaussHermite(order=3)))(m)

    with pytest.raises(ValueError, match="derivative is zero.*estimator='score'"):
        (jax.jit(grad) if jit else grad)(MEAN)
    gj.expectation(f, MEAN, COV, rule=gj.GaussHermite(order=3))  # the value alone is fine


def test_pathwise_check_spares_constant_and_partly_smooth_f():
    rule = gj.GaussHermite(order=3)
    constant = jax.grad(lambda m: gj.expectation(lambda x: jnp.ones(()), m, COV, rule=rule))
    np.testing.assert_array_equal(constant(MEAN), jnp.zeros(3))
    mixed = lambda x: (jnp.sin(x).sum(), step(x))  # noqa: E731
    rule = gj.GaussHermite(order=10)
    g = jax.grad(lambda m: gj.expectation(mixed, m, COV, rule=rule)[0])(MEAN)
    np.testing.assert_allclose(g, jnp.cos(MEAN) * jnp.exp(-0.5 * jnp.diag(COV)), atol=1e-6)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_bad_estimator_name(jit):
    def z(m):
        return gj.expectation(cubic, m, COV, estimator="reinforce")

    with pytest.raises(ValueError, match="estimator must be one of 'pathwise', 'score'"):
        (jax.jit(z) if jit else z)(MEAN)


def test_low_rank_cov_factor_is_an_error_for_score():
    with pytest.raises(ValueError, match=r"cov_factor has shape \(3, 2\)"):
        gj.expectation(cubic, MEAN, cov_factor=CHOL[:, :2], estimator="score")


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_singular_factor_is_a_runtime_error_for_score(jit):
    tril = CHOL.at[1, 1].set(0.0)

    def grad(m):
        return jax.grad(
            lambda m: gj.expectation(
                cubic, m, scale_tril=tril, estimator="score", rule=gj.GaussHermite(order=3)
            )
        )(m)

    error = jax.errors.JaxRuntimeError if jit else ValueError
    with pytest.raises(error, match="invertible"):
        (jax.jit(grad) if jit else grad)(MEAN)


def test_mean_cov_grads_errors():
    with pytest.raises(ValueError, match="method must be one of"):
        gj.mean_cov_grads(cubic, MEAN, COV, method="finite_differences")
    with pytest.raises(TypeError, match="must return a scalar"):
        gj.mean_cov_grads(jnp.sin, MEAN, COV)
    with pytest.raises(ValueError, match="num_repeats"):
        gj.estimate_grad(
            cubic,
            MEAN,
            COV,
            rule=gj.MonteCarlo(num_samples=8),
            key=jax.random.key(0),
            num_repeats=1,
        )


def test_grad_of_jit_and_estimate_with_score(key):
    # grad outside jit: the jvp rule is traced after the jitted function, so nothing it uses
    # (key, integer values f closes over) may be captured from that earlier trace
    def z_fn(m, k, power):
        f = lambda x: jnp.sum(x**power) + jnp.exp(x[0])  # noqa: E731
        rule = gj.MonteCarlo(num_samples=2**12)
        return gj.estimate(f, m, COV, rule=rule, key=k, estimator="score").value

    g_outside = jax.grad(jax.jit(z_fn))(MEAN, key, 2)
    g_inside = jax.jit(jax.grad(z_fn))(MEAN, key, 2)
    np.testing.assert_allclose(g_outside, g_inside, rtol=1e-10)
    exact = 2 * MEAN + jnp.array([jnp.exp(MEAN[0] + COV[0, 0] / 2), 0.0, 0.0])
    np.testing.assert_allclose(g_outside, exact, atol=0.3)


@pytest.mark.parametrize(
    "rule",
    [gj.GaussHermite(order=6), gj.Cubature(degree=3), gj.Unscented(), gj.SparseGrid(level=2)],
)
def test_estimate_grad_of_a_deterministic_rule_uses_the_rules_own_indicator(rule):
    f = lambda x: jnp.sin(x[0]) + x[1] ** 3  # noqa: E731
    est = gj.estimate_grad(f, MEAN, COV, rule=rule)

    def grad_by(other_rule):
        return jax.grad(lambda m, c: gj.expectation(f, m, c, rule=other_rule), argnums=(0, 1))(
            MEAN, COV
        )

    # the indicator: the largest widened difference from the reference and the turned rules
    others = widened_references(rule, 2)
    assert [type(other) for other, _ in others] == [type(rule.error_reference()), Rotated, Rotated]
    by_other = [(grad_by(other), factor) for other, factor in others]
    for k, (value, error) in enumerate(zip(est.value, est.error, strict=True)):
        differences = [factor * jnp.abs(value - grads[k]) for grads, factor in by_other]
        want = functools.reduce(jnp.maximum, differences)
        assert jnp.all(jnp.isfinite(error))
        assert jnp.allclose(error, want, rtol=1e-12, atol=1e-15)
