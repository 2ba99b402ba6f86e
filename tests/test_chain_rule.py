import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import integrands, question

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
