import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import integrands, parameterisation, question, ridge_expectations

import gaussjax as gj

P, Q = 3, 2
N = 3 * Q
RULE = gj.GaussHermite(order=7)


def question_parameterisation():
    """The question's own example: mu(K) = [AKv; (AK)^2 v; (AK)^3 v], Sigma(K) = S0 + (BK)(BK)^T."""
    rng = np.random.default_rng(1)
    A = 0.5 * rng.standard_normal((Q, P))
    B = 0.2 * rng.standard_normal((N, P))
    mean_fn, cov_fn = question(A, np.array([1.0, -0.5]), B, 0.05 * np.eye(N))
    return mean_fn, cov_fn, jnp.asarray(0.5 * rng.standard_normal((P, Q)))


def test_shapes_of_every_piece():
    mean_fn, cov_fn, K = question_parameterisation()
    f = integrands(N)["saturating"][0]
    report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=RULE)
    assert report.value.shape == ()
    assert report.dZ_dmean.shape == (N,)
    assert report.dZ_dcov.shape == (N, N)
    assert report.dmean_dK.shape == (N, P, Q)
    assert report.dcov_dK.shape == (N, N, P, Q)
    assert report.dZ_dK.shape == (P, Q)
    assert jnp.allclose(report.dZ_dcov, report.dZ_dcov.T)


def test_the_two_contractions_equal_jax_grad_and_the_closed_form():
    mean_fn, cov_fn, K = question_parameterisation()
    f, exact = integrands(N)["saturating"]
    report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=gj.GaussHermite(order=10))
    by_einsum = jnp.einsum("k,kij->ij", report.dZ_dmean, report.dmean_dK) + jnp.einsum(
        "kl,klij->ij", report.dZ_dcov, report.dcov_dK
    )
    assert jnp.allclose(by_einsum, report.dZ_dK, rtol=1e-12, atol=1e-15)
    assert jnp.allclose(report.contraction, report.dZ_dK, rtol=1e-12, atol=1e-15)
    assert jnp.allclose(
        report.dZ_dK_through_mean + report.dZ_dK_through_cov, report.dZ_dK, rtol=1e-12
    )
    exact_grad = jax.grad(lambda K: exact(mean_fn(K), cov_fn(K)))(K)
    assert jnp.allclose(report.dZ_dK, exact_grad, rtol=1e-9, atol=1e-12)
    assert jnp.allclose(report.value, exact(mean_fn(K), cov_fn(K)), rtol=1e-10)


def test_pieces_are_the_jacobians_and_gradients_they_claim_to_be():
    mean_fn, cov_fn, K = question_parameterisation()
    f = integrands(N)["cosine"][0]
    report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=RULE)
    assert jnp.allclose(report.dmean_dK, jax.jacfwd(mean_fn)(K))
    assert jnp.allclose(report.dcov_dK, jax.jacfwd(cov_fn)(K))
    mean, cov = mean_fn(K), cov_fn(K)
    dZ_dmean, dZ_dcov = jax.grad(lambda m, c: gj.expectation(f, m, c, rule=RULE), argnums=(0, 1))(
        mean, cov
    )
    assert jnp.allclose(report.dZ_dmean, dZ_dmean) and jnp.allclose(report.dZ_dcov, dZ_dcov)


def test_covariance_that_does_not_depend_on_K_has_no_cov_term():
    mean_fn, _, K = question_parameterisation()
    f = integrands(N)["exp_linear"][0]
    report = gj.chain_rule(f, mean_fn, lambda K: 0.1 * jnp.eye(N), K, rule=RULE)
    assert jnp.allclose(report.dZ_dK_through_cov, 0.0)
    assert jnp.allclose(report.dZ_dK_through_mean, report.dZ_dK)


def test_works_under_jit_and_with_monte_carlo(key):
    mean_fn, cov_fn, K = question_parameterisation()
    f, exact = integrands(N)["saturating"]
    report = jax.jit(
        lambda K, key: gj.chain_rule(
            f, mean_fn, cov_fn, K, rule=gj.MonteCarlo(num_samples=50_000), key=key
        )
    )(K, key)
    assert jnp.allclose(report.contraction, report.dZ_dK, rtol=1e-10)
    exact_grad = jax.grad(lambda K: exact(mean_fn(K), cov_fn(K)))(K)
    assert float(jnp.linalg.norm(report.dZ_dK - exact_grad) / jnp.linalg.norm(exact_grad)) < 0.05


def test_mean_fn_must_be_callable():
    with pytest.raises(TypeError, match="mean_fn and cov_fn must be callables"):
        gj.chain_rule(jnp.sum, None, lambda K: K, jnp.eye(2))


def relu_ridge(n: int):
    """A ReLU of a ridge, f(x) = max(w x + b, 0), with E[f] in closed form, moved by K."""
    mean_fn, cov_fn, K = parameterisation(n)
    w, b = jnp.linspace(1.0, 0.5, n), -0.3

    def exact(K):
        return ridge_expectations(w @ mean_fn(K) + b, w @ cov_fn(K) @ w)["relu"]

    return (lambda x: jnp.maximum(w @ x + b, 0.0)), exact, mean_fn, cov_fn, K


@pytest.mark.parametrize("order", [4, 6, 10])
def test_dZ_dK_error_covers_the_actual_error_on_a_relu_ridge(order):
    # The kink keeps every Gauss-Hermite rule inexact (dZ/dK off by 1e-2 to 5e-2 relative).
    f, exact, mean_fn, cov_fn, K = relu_ridge(3)
    rule = gj.GaussHermite(order=order)
    report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=rule)
    reported = report.dZ_dK_error(gj.estimate_grad(f, mean_fn(K), cov_fn(K), rule=rule))
    actual = jnp.abs(report.dZ_dK - jax.grad(exact)(K))
    assert reported.shape == K.shape
    assert bool(jnp.all(actual <= reported))
    assert float(jnp.max(actual / reported)) > 0.1  # a bound that tells something


def test_dZ_dK_error_is_the_absolute_contraction_by_hand():
    # K[0, 0] moves both means, in opposite directions: a signed contraction would cancel.
    mean_fn = lambda K: jnp.array([K[0, 0] - 2 * K[1, 1], jnp.sin(K[0, 1]) - K[0, 0]])  # noqa: E731
    cov_fn = lambda K: jnp.eye(2) + K @ K.T  # noqa: E731
    K = jnp.array([[0.3, -0.5], [0.8, 0.1]])
    report = gj.chain_rule(jnp.sum, mean_fn, cov_fn, K, rule=gj.GaussHermite(order=2))
    rng = np.random.default_rng(0)
    e_mean, e_cov = rng.uniform(size=2), rng.uniform(size=(2, 2))
    gradient = gj.Estimate(value=(report.dZ_dmean, report.dZ_dcov), error=(e_mean, e_cov))
    dmean_dK, dcov_dK = np.asarray(report.dmean_dK), np.asarray(report.dcov_dK)
    want = np.einsum("k,kij->ij", e_mean, np.abs(dmean_dK)) + np.einsum(
        "kl,klij->ij", e_cov, np.abs(dcov_dK)
    )
    error = report.dZ_dK_error(gradient)
    assert np.allclose(error, want, rtol=1e-14)
    signed = np.einsum("k,kij->ij", e_mean, dmean_dK) + np.einsum("kl,klij->ij", e_cov, dcov_dK)
    assert float(error[0, 0]) > abs(signed[0, 0]) + 0.1


@pytest.mark.parametrize("cov_form", ["scale_tril", "cov_diag"])
def test_dZ_dK_error_in_the_covariance_argument_estimate_grad_takes(cov_form):
    f, _, mean_fn, _, K = relu_ridge(2)
    cov_fn = {
        "scale_tril": lambda K: jnp.tril(K @ K.T) + 0.5 * jnp.eye(2),
        "cov_diag": lambda K: jnp.sum(K**2, axis=1) + 0.2,
    }[cov_form]
    rule = gj.GaussHermite(order=4)
    report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=rule, cov_form=cov_form)
    gradient = gj.estimate_grad(f, mean_fn(K), **{cov_form: cov_fn(K)}, rule=rule)
    e_mean, e_cov = gradient.error
    axes = e_cov.ndim
    want = np.tensordot(e_mean, np.abs(report.dmean_dK), 1) + np.tensordot(
        e_cov, np.abs(report.dcov_dK), axes
    )
    assert np.allclose(report.dZ_dK_error(gradient), want, rtol=1e-14)
    assert bool(jnp.all(report.dZ_dK_error(gradient) > 0))


def dict_mean_fn(K):
    return jnp.tanh(K["gain"]) @ jnp.array([0.7, -0.4]) + K["offset"]


def dict_cov_fn(K):
    return 0.2 * jnp.eye(2) + 0.1 * K["gain"] @ K["gain"].T + jnp.diag(K["offset"] ** 2)


def test_dZ_dK_error_for_a_dict_K():
    f = relu_ridge(2)[0]
    rule = gj.GaussHermite(order=4)
    K = {"gain": jnp.array([[0.5, -0.2], [0.1, 0.4]]), "offset": jnp.array([0.3, -0.1])}
    report = gj.chain_rule(f, dict_mean_fn, dict_cov_fn, K, rule=rule)
    gradient = gj.estimate_grad(f, dict_mean_fn(K), dict_cov_fn(K), rule=rule)
    error = report.dZ_dK_error(gradient)
    assert set(error) == {"gain", "offset"} and error["offset"].shape == (2,)
    e_mean, e_cov = gradient.error
    for name in K:
        want = np.tensordot(e_mean, np.abs(report.dmean_dK[name]), 1) + np.tensordot(
            e_cov, np.abs(report.dcov_dK[name]), 2
        )
        assert np.allclose(error[name], want, rtol=1e-14)
        assert bool(jnp.all(error[name] > 0))


def test_dZ_dK_error_of_a_batch_of_reports_matches_a_python_loop():
    # A batch laid out as jax.vmap(gj.chain_rule) lays it out (tests/test_chain_rule_batched.py),
    # stacked here so that no vmapped program has to be compiled.
    rule = gj.GaussHermite(order=2)
    K = {"gain": jnp.array([[0.5, -0.2], [0.1, 0.4]]), "offset": jnp.array([0.3, -0.1])}
    members = [
        gj.chain_rule(
            jnp.sum, dict_mean_fn, dict_cov_fn, jax.tree.map(lambda k, c=c: c * k, K), rule=rule
        )
        for c in (1.0, -1.0, 0.5)
    ]
    reports = jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)
    rng = np.random.default_rng(1)
    errors = (rng.uniform(size=(3, 2)), rng.uniform(size=(3, 2, 2)))
    bounds = reports.dZ_dK_error(gj.Estimate(value=errors, error=errors))
    assert bounds["gain"].shape == (3, 2, 2)
    for i in range(3):
        report, error = jax.tree.map(lambda leaf, i=i: leaf[i], (reports, errors))
        single = report.dZ_dK_error(gj.Estimate(value=error, error=error))
        for name in K:
            assert np.allclose(bounds[name][i], single[name], rtol=1e-14)
    with pytest.raises(ValueError, match="vmapped over the same batch"):
        reports.dZ_dK_error(gj.Estimate(value=None, error=(errors[0][0], errors[1][0])))


def test_an_unknown_error_makes_dZ_dK_error_inf_only_where_it_reaches_K():
    mean_fn = lambda K: jnp.array([K[0], K[1]])  # noqa: E731 - mean_1 does not move with K[0]
    cov_fn = lambda K: jnp.diag(K**2 + 1.0)  # noqa: E731
    report = gj.chain_rule(jnp.sum, mean_fn, cov_fn, jnp.array([0.5, 2.0]), rule=RULE)
    error = (jnp.array([0.1, jnp.inf]), jnp.full((2, 2), 0.01))
    bound = report.dZ_dK_error(gj.Estimate(value=error, error=error))
    assert np.allclose(bound, [0.1 + 0.01 * 2 * 0.5, np.inf])


def test_dZ_dK_error_refuses_an_estimate_of_another_shape():
    f, _, mean_fn, cov_fn, K = relu_ridge(2)
    rule = gj.GaussHermite(order=3)
    report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=rule)
    other = gj.estimate_grad(relu_ridge(3)[0], jnp.zeros(3), jnp.eye(3), rule=rule)
    with pytest.raises(ValueError, match=r"ChainRule.dZ_dK_error: the gradient's errors have"):
        report.dZ_dK_error(other)
    diag = gj.estimate_grad(f, mean_fn(K), cov_diag=jnp.diag(cov_fn(K)), rule=rule)
    with pytest.raises(ValueError, match=r"shapes \(\(2,\), \(2,\)\).*\(\(2,\), \(2, 2\)\)"):
        jax.jit(lambda gradient: report.dZ_dK_error(gradient))(diag)
    with pytest.raises(ValueError, match="ChainRule.dZ_dK_error: gradient.error must be the pair"):
        report.dZ_dK_error(gj.estimate(f, mean_fn(K), cov_fn(K), rule=rule))
    with pytest.raises(TypeError, match="ChainRule.dZ_dK_error: gradient must be the gj.Estimate"):
        report.dZ_dK_error(diag.error)
