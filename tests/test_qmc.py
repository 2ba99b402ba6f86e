"""QuasiMonteCarlo: Sobol structure survives scrambling, the error estimate and the rate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import ndtr

import gaussjax as gj
from gaussjax._rules._quasi_monte_carlo import sobol_directions

DIM = 5
A = jnp.linspace(-0.4, 0.4, DIM)
TRUE = float(jnp.exp(A @ A / 2))
MC_SIGMA = float(jnp.sqrt(jnp.exp(2 * A @ A) - jnp.exp(A @ A)))  # sd of exp(a^T xi)


def f(x):
    return jnp.exp(A @ x)


def sobol_points(num, dim):
    """Unscrambled Sobol points in natural order, from the direction numbers, in NumPy."""
    v = sobol_directions(dim).astype(np.uint64)
    points = np.zeros((num, dim), np.uint64)
    for i in range(num):
        for k in range(32):
            if (i >> k) & 1:
                points[i] ^= v[:, k]
    return points / 2.0**32


def test_unscrambled_points_are_sobol():
    expected = [
        [0, 0, 0],
        [0.5, 0.5, 0.5],
        [0.25, 0.75, 0.75],
        [0.75, 0.25, 0.25],
        [0.125, 0.625, 0.375],
        [0.625, 0.125, 0.875],
    ]
    assert np.array_equal(sobol_points(6, 3), expected)


def test_direction_numbers_cover_64_dimensions_each_a_one_dimensional_net():
    u = sobol_points(256, 64)
    for j in range(64):
        assert sorted(np.floor(u[:, j] * 256).astype(int)) == list(range(256))


def scrambled_units(rule, dim, key):
    indices = jnp.arange(rule.num_nodes(dim), dtype=jnp.int32)
    xi, w = jax.jit(jax.vmap(lambda i: rule.node(i, dim, jnp.float64, key)))(indices)
    return np.asarray(ndtr(xi)), np.asarray(w)


def test_scrambled_blocks_keep_the_net_property():
    rule = gj.QuasiMonteCarlo(num_samples=4 * 256, num_replicates=4)
    u, w = scrambled_units(rule, 6, jax.random.key(0))
    assert np.allclose(w, 1 / 1024)
    for block in u.reshape(4, 256, 6):
        for j in range(6):  # every coordinate: one point per interval of width 1/256
            assert sorted(np.floor(block[:, j] * 256).astype(int)) == list(range(256))
        for k in range(9):  # dims 1 and 2 form a (0, 8, 2)-net: one point per 2^-k x 2^(k-8) box
            boxes = np.floor(block[:, 0] * 2**k) * 2 ** (8 - k) + np.floor(
                block[:, 1] * 2 ** (8 - k)
            )
            assert len(set(boxes)) == 256
    assert not np.allclose(u[:256], u[256:512])  # the replicates are scrambled independently


def test_value_does_not_depend_on_batch_size():
    rule, key = gj.QuasiMonteCarlo(num_samples=512), jax.random.key(1)
    mean, cov = jnp.zeros(DIM), jnp.eye(DIM)
    whole = jax.jit(lambda m: gj.expectation(f, m, cov, rule=rule, key=key))(mean)
    chunked = jax.jit(lambda m: gj.expectation(f, m, cov, rule=rule, key=key, batch_size=100))(mean)
    est = jax.jit(lambda m: gj.estimate(f, m, cov, rule=rule, key=key))(mean)
    assert jnp.allclose(whole, chunked, rtol=1e-12) and jnp.allclose(whole, est.value, rtol=1e-12)


def repeated(rule, trials, seed=0):
    keys = jax.random.split(jax.random.key(seed), trials)
    run = jax.jit(
        jax.vmap(lambda k: gj.estimate(f, jnp.zeros(DIM), jnp.eye(DIM), rule=rule, key=k))
    )
    est = run(keys)
    return np.asarray(est.value) - TRUE, np.asarray(est.error)


def test_error_estimate_covers_the_true_error_in_repeated_trials():
    errors, reported = repeated(gj.QuasiMonteCarlo(num_samples=2**11, num_replicates=8), 64)
    ratio = np.abs(errors) / reported
    assert np.mean(ratio <= 3.0) >= 0.9  # t with 7 degrees of freedom: 98% within 3
    assert 0.3 < np.median(ratio) < 1.5  # neither far too small nor far too large (t7: 0.71)
    # unbiased: the mean over trials is within a few of its own standard errors of the truth
    assert abs(errors.mean()) < 4 * errors.std() / np.sqrt(len(errors))


def test_error_falls_at_the_advertised_rate_and_beats_monte_carlo_tenfold():
    rmse = {}
    for n in (2**8, 2**12):
        errors, _ = repeated(gj.QuasiMonteCarlo(num_samples=n, num_replicates=1), 24, seed=n)
        rmse[n] = np.sqrt(np.mean(errors**2))
    # about N^-1: sixteen times more points, at least eight times smaller error
    assert rmse[2**8] / rmse[2**12] > 8
    # QMC with N points beats Monte Carlo with 10 N points (standard error sigma / sqrt(10 N))
    assert rmse[2**12] < MC_SIGMA / np.sqrt(10 * 2**12)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_points_stay_strictly_inside_the_unit_cube(dtype):
    rule = gj.QuasiMonteCarlo(num_samples=2**10, num_replicates=1)
    xi, _ = jax.jit(jax.vmap(lambda i: rule.node(i, 3, dtype, jax.random.key(5))))(
        jnp.arange(2**10)
    )
    assert xi.dtype == dtype
    assert jnp.isfinite(xi).all() and jnp.abs(xi).max() < 6.5
