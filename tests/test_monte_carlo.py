import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gaussjax as gj


def test_samples_are_standard_normal(key):
    rule = gj.MonteCarlo(num_samples=20_000)
    mean = gj.expectation(lambda x: x, jnp.zeros(3), jnp.eye(3), rule=rule, key=key)
    second = gj.expectation(lambda x: jnp.outer(x, x), jnp.zeros(3), jnp.eye(3), rule=rule, key=key)
    assert np.allclose(mean, 0.0, atol=4 / np.sqrt(20_000))
    assert np.allclose(second, np.eye(3), atol=6 * np.sqrt(2 / 20_000))


@pytest.mark.parametrize("num", [1000, 1001])  # 1001: a chunk of 1002, the last weighted zero
def test_error_is_the_standard_error_of_the_mean(key, num):
    rule = gj.MonteCarlo(num_samples=num)
    assert rule.chunk_size(2, 2**18) == num + num % 2  # an odd chunk holds one more, weight 0
    f = lambda x: jnp.sin(3 * x[0]) + x[1] ** 2  # noqa: E731
    est = gj.estimate(f, jnp.zeros(2), jnp.eye(2), rule=rule, key=key)
    samples = jax.vmap(lambda i: rule.node(i, 2, jnp.float64, key)[0])(jnp.arange(num))
    values = jax.vmap(f)(samples)
    assert np.isclose(est.value, values.mean(), rtol=1e-13)
    assert np.isclose(est.error, values.std(ddof=1) / np.sqrt(num), rtol=1e-10)


def test_standard_error_covers_the_truth_at_the_advertised_rate():
    rule = gj.MonteCarlo(num_samples=500)
    keys = jax.random.split(jax.random.key(1), 200)

    def estimate(key):
        est = gj.estimate(
            lambda x: jnp.exp(0.5 * x[0]), jnp.zeros(2), jnp.eye(2), rule=rule, key=key
        )
        return est.value, est.error

    values, errors = jax.jit(jax.vmap(estimate))(keys)
    inside = np.mean(np.abs(values - np.exp(0.125)) < 2 * errors)
    assert 0.9 < inside <= 1.0  # two standard errors: 95% nominal


def test_different_keys_give_different_values_and_the_same_key_the_same():
    rule = gj.MonteCarlo(num_samples=100)
    z = lambda key: gj.expectation(jnp.sum, jnp.zeros(2), jnp.eye(2), rule=rule, key=key)  # noqa: E731
    assert z(jax.random.key(0)) == z(jax.random.key(0))
    assert z(jax.random.key(0)) != z(jax.random.key(1))


def test_reports_size_and_degree():
    rule = gj.MonteCarlo(num_samples=128)
    assert rule.num_nodes(7) == 128 and rule.degree is None and rule.is_random


def test_rejects_num_samples_below_one():
    with pytest.raises(ValueError, match="num_samples >= 1"):
        gj.MonteCarlo(num_samples=0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("size", [16, 15])  # chunk_size makes chunks even; any size works
def test_a_chunk_of_samples_is_the_samples_one_by_one(key, dtype, size):
    rule = gj.MonteCarlo(num_samples=100)
    nodes, weights = rule.chunk(jnp.asarray(3), size, 5, dtype, key)  # samples 3 size onwards
    one_by_one = jax.vmap(lambda i: rule.node(i, 5, dtype, key)[0])(3 * size + jnp.arange(size))
    assert nodes.dtype == dtype and nodes.shape == (size, 5)
    np.testing.assert_array_equal(nodes, one_by_one)
    np.testing.assert_array_equal(weights, np.full(size, 0.01, dtype))
    assert len(np.unique(np.asarray(nodes))) == nodes.size


@pytest.mark.parametrize("dtype, tolerance", [(jnp.float64, 2e-15), (jnp.float32, 1e-6)])
def test_the_turn_polynomials_are_cos_and_sin_to_rounding(dtype, tolerance):
    from gaussjax._rules._monte_carlo import cos_sin_turn

    u = np.linspace(0.0, 1.0, 100_003, endpoint=False)
    cos, sin = cos_sin_turn(jnp.asarray(u, dtype))
    assert cos.dtype == sin.dtype == dtype
    np.testing.assert_allclose(cos, np.cos(2 * np.pi * u.astype(dtype)), rtol=0, atol=tolerance)
    np.testing.assert_allclose(sin, np.sin(2 * np.pi * u.astype(dtype)), rtol=0, atol=tolerance)


def test_samples_follow_the_normal_law_and_box_muller_partners_are_independent(key):
    from scipy.stats import kstest

    num, dim = 2**15, 3  # coordinates 0 and 1 are one Box-Muller pair, 2 half of another
    xi, _ = gj.MonteCarlo(num_samples=num).chunk(jnp.asarray(0), num, dim, jnp.float64, key)
    xi = np.asarray(xi)
    for j in range(dim):
        assert kstest(xi[:, j], "norm").pvalue > 0.01
    bound = 4 / np.sqrt(num)  # correlations of independent pairs: standard deviation 1/sqrt(N)
    assert abs(np.corrcoef(xi[:, 0], xi[:, 1])[0, 1]) < bound
    assert abs(np.corrcoef(xi[:, 0] ** 2, xi[:, 1] ** 2)[0, 1]) < bound
    assert abs(np.corrcoef(xi[:, 1] ** 2, xi[:, 2] ** 2)[0, 1]) < bound
