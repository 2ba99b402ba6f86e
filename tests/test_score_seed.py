"""dZ/dK for a step function through the seed parameterisation, by the score estimator.

mu(K) = [A K v; (A K)^2 v; (A K)^3 v], Sigma(K) = Sigma0 + (B K)(B K)^T (A: q x p, v: (q,),
K: p x q, B: n x p, n = 3q), f(x) = 1{w^T x > c}, so Z(K) = Phi((w^T mu - c) / sqrt(w^T Sigma w))
and jax.grad of that closed form is the oracle. The pathwise gradient would be exactly zero here
(gaussjax refuses it with an error that says to use the score estimator).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import norm
from references import question

import gaussjax as gj


def seed_problem(q: int, p: int):
    n = 3 * q
    rng = np.random.default_rng(0)
    A = rng.normal(size=(q, p)) / np.sqrt(p)
    v = np.array([1.0, -0.5, 0.25][:q])
    B = rng.normal(size=(n, p)) / np.sqrt(p)
    K = jnp.asarray(rng.normal(size=(p, q)) * 0.5)
    w, c = jnp.asarray(rng.normal(size=n)), 0.3
    mean_fn, cov_fn = question(A, v, B, 0.5 * np.eye(n))

    def step(x):
        return (w @ x > c).astype(x.dtype)

    def exact(K):
        return norm.cdf((w @ mean_fn(K) - c) / jnp.sqrt(w @ cov_fn(K) @ w))

    return step, mean_fn, cov_fn, K, exact


@pytest.mark.slow
def test_step_dZ_dK_with_monte_carlo_within_its_standard_error(key):
    # 16 independent runs of 2^14 samples (2^18 in all), q = 2 (n = 6). Measured: the standard
    # error of the mean of the 16 runs is 0.4-0.9% of |dZ/dK| per entry, so 5 standard errors
    # is a test that a wrong derivative (or a missing factor 1/2 in dZ/dcov) fails.
    step, mean_fn, cov_fn, K, exact = seed_problem(q=2, p=3)
    rule = gj.MonteCarlo(num_samples=2**14)

    def dZ_dK(k):
        return jax.grad(
            lambda K: gj.expectation(
                step, mean_fn(K), cov_fn(K), rule=rule, key=k, estimator="score"
            )
        )(K)

    runs = jax.jit(lambda keys: jax.lax.map(dZ_dK, keys))(jax.random.split(key, 16))
    value, error = runs.mean(0), runs.std(0, ddof=1) / 4.0
    want = jax.grad(exact)(K)
    assert bool(jnp.all(jnp.abs(value - want) < 5 * error))
    assert float(jnp.linalg.norm(error) / jnp.linalg.norm(want)) < 0.02
    with pytest.raises(ValueError, match="estimator='score'"):
        jax.grad(lambda K: gj.expectation(step, mean_fn(K), cov_fn(K), rule=rule, key=key))(K)


def test_step_dZ_dK_with_quasi_monte_carlo_within_one_percent(key):
    # q = 1 (n = 3): with scrambled Sobol points (scipy's, as a stand-in rule) the relative
    # error was 0.08-0.45% over 8 scramblings at 2^16 points; at n = 6 it was 0.1-1.8%.
    step, mean_fn, cov_fn, K, exact = seed_problem(q=1, p=2)
    rule = gj.QuasiMonteCarlo(num_samples=2**16)
    report = jax.jit(
        lambda K: gj.chain_rule(step, mean_fn, cov_fn, K, rule=rule, key=key, estimator="score")
    )(K)
    want = jax.grad(exact)(K)
    assert float(jnp.linalg.norm(report.dZ_dK - want) / jnp.linalg.norm(want)) < 0.01
    np.testing.assert_allclose(report.contraction, report.dZ_dK, atol=1e-10)
