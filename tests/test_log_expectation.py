"""gj.log_expectation: log E[exp(log_f(x))] in log space, where E[f] itself underflows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import logistic_likelihood

import gaussjax as gj

A = jnp.array([0.5, -0.3, 0.2])
MEAN = jnp.array([0.2, -0.1, 0.4])
CHOL = jnp.array([[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.1, 0.6]])
COV = CHOL @ CHOL.T


def log_f(x):
    return A @ x - 2000.0  # exp(log_f) underflows to 0 in float64


def exact(m, c):
    return A @ m + 0.5 * A @ c @ A - 2000.0


@pytest.mark.parametrize(
    "options",
    [
        dict(rule=gj.GaussHermite(order=12)),
        dict(rule=gj.GaussHermite(order=3), adapt="laplace"),
        dict(rule=gj.GaussHermite(order=12), estimator="score"),
        dict(rule=gj.GaussHermite(order=12), batch_size=100),
    ],
    ids=["plain", "adapted", "score", "batched"],
)
def test_an_underflowing_exponential_has_its_exact_log_and_gradient(options):
    z = jax.jit(lambda m, c: gj.log_expectation(log_f, m, c, **options))
    np.testing.assert_allclose(z(MEAN, COV), exact(MEAN, COV), rtol=1e-14)
    grads = jax.jit(jax.grad(lambda m, c: gj.log_expectation(log_f, m, c, **options), (0, 1)))
    for got, want in zip(grads(MEAN, COV), jax.grad(exact, (0, 1))(MEAN, COV), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-10)
    assert gj.expectation(lambda x: jnp.exp(log_f(x)), MEAN, COV, **options) == 0.0


def test_two_thousand_observations_give_a_finite_log_z_within_1e_8():
    _, log_likelihood = logistic_likelihood(4, 2000, seed=1)
    mean, cov = jnp.array([0.1, -0.2, 0.0, 0.3]), 0.5 * jnp.eye(4)

    def log_z(order):
        rule = gj.GaussHermite(order=order)
        return jax.jit(
            lambda m: gj.log_expectation(log_likelihood, m, cov, rule=rule, adapt="laplace")
        )(mean)

    value, reference = log_z(8), log_z(10)
    assert jnp.isfinite(value) and value < -700
    assert abs(value - reference) < 1e-8  # measured: 1.2e-9 (orders 8 and 10)


def test_an_array_valued_log_f_is_taken_elementwise():
    z = gj.log_expectation(
        lambda x: jnp.stack([log_f(x), 2 * log_f(x)]), MEAN, COV, rule=gj.GaussHermite(12)
    )
    np.testing.assert_allclose(z, [exact(MEAN, COV), 2 * A @ MEAN + 2 * A @ COV @ A - 4000.0])


def test_a_tolerance_on_log_z_is_met_without_a_rule():
    _, log_likelihood = logistic_likelihood(2, 500, seed=2)
    mean, cov = jnp.array([0.1, -0.2]), 0.5 * jnp.eye(2)
    reference = gj.log_expectation(
        log_likelihood, mean, cov, rule=gj.GaussHermite(order=30), adapt="laplace"
    )
    value = jax.jit(lambda m: gj.log_expectation(log_likelihood, m, cov, atol=1e-9, rtol=0.0))(mean)
    assert abs(value - reference) < 1e-9


def test_a_sum_that_negative_weights_make_non_positive_is_a_clear_error():
    # a spike at the sparse grid's node of most negative weight outweighs everything else
    from gaussjax._rules._sparse_grid import SparseGrid

    rule = SparseGrid(level=2)
    nodes, weights = rule.table(6)
    spike = jnp.asarray(nodes[np.argmin(weights)])

    def spiky(x):
        return -1e4 * jnp.sum((x - spike) ** 2)

    with pytest.raises(ValueError, match="not positive, so it has no logarithm"):
        gj.log_expectation(spiky, jnp.zeros(6), jnp.eye(6), rule=rule)
    with pytest.raises(jax.errors.JaxRuntimeError, match="logarithm"):
        jax.block_until_ready(
            jax.jit(lambda m: gj.log_expectation(spiky, m, jnp.eye(6), rule=rule))(jnp.zeros(6))
        )
