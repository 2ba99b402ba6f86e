import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from references import integrands, parameterisation

import gaussjax as gj
from gaussjax._rules._rotated import WIDEN_COARSER

ORDER_BY_DIMENSION = {1: 40, 2: 30, 3: 24, 4: 20}
NAMES = list(integrands(1))


def relative(a, b):
    return float(jnp.linalg.norm(jnp.ravel(a - b)) / jnp.linalg.norm(jnp.ravel(b)))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("name", NAMES)
def test_closed_forms_value_and_dZ_dK(n, name):
    f, exact = integrands(n)[name]
    mean_fn, cov_fn, K = parameterisation(n)
    rule = gj.GaussHermite(order=ORDER_BY_DIMENSION[n])

    def z_rule(K):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule)

    def z_exact(K):
        return exact(mean_fn(K), cov_fn(K))

    value, grad = jax.jit(jax.value_and_grad(z_rule))(K)
    exact_value, exact_grad = jax.value_and_grad(z_exact)(K)
    assert relative(value, exact_value) < 1e-10
    assert relative(grad, exact_grad) < 1e-10


@pytest.mark.parametrize("name", NAMES)
def test_monte_carlo_within_four_standard_errors(name, key):
    n = 3
    f, exact = integrands(n)[name]
    mean_fn, cov_fn, K = parameterisation(n)
    mean, cov = mean_fn(K), cov_fn(K)
    est = gj.estimate(f, mean, cov, rule=gj.MonteCarlo(num_samples=20_000), key=key)
    assert abs(est.value - exact(mean, cov)) < 4 * est.error
    assert 0 < est.error < 0.05 * abs(exact(mean, cov)) + 0.01


def test_monte_carlo_gradient_is_unbiased_and_close(key):
    f, exact = integrands(2)["exp_linear"]
    mean, cov = jnp.array([0.1, -0.2]), jnp.array([[0.5, 0.1], [0.1, 0.3]])
    rule = gj.MonteCarlo(num_samples=200_000)
    grad = jax.grad(lambda m: gj.expectation(f, m, cov, rule=rule, key=key))(mean)
    assert relative(grad, jax.grad(exact)(mean, cov)) < 0.01


def gaussian_2d():
    return jnp.array([0.3, -0.5]), jnp.array([[0.6, 0.2], [0.2, 0.4]])


def test_all_covariance_arguments_agree():
    mean, cov = gaussian_2d()
    f, exact = integrands(2)["cosine"]
    rule = gj.GaussHermite(order=20)
    L = jnp.linalg.cholesky(cov)
    diag = jnp.diag(cov)
    want = exact(mean, cov)
    assert jnp.allclose(gj.expectation(f, mean, cov, rule=rule), want, rtol=1e-12)
    assert jnp.allclose(gj.expectation(f, mean, scale_tril=L, rule=rule), want, rtol=1e-12)
    assert jnp.allclose(gj.expectation(f, mean, cov_factor=L, rule=rule), want, rtol=1e-12)
    diag_value = gj.expectation(f, mean, cov_diag=diag, rule=rule)
    assert jnp.allclose(diag_value, exact(mean, jnp.diag(diag)), rtol=1e-12)


def test_scale_tril_ignores_upper_triangle():
    mean, cov = gaussian_2d()
    L = jnp.linalg.cholesky(cov)
    f = integrands(2)["exp_linear"][0]
    rule = gj.GaussHermite(order=10)
    garbage = L.at[0, 1].set(7.0)
    assert jnp.allclose(
        gj.expectation(f, mean, scale_tril=garbage, rule=rule),
        gj.expectation(f, mean, scale_tril=L, rule=rule),
    )


def test_low_rank_cov_factor_integrates_over_r_dimensions():
    n, r = 5, 2
    factor = jnp.linspace(-0.5, 0.7, n * r).reshape(n, r)
    mean = jnp.linspace(0.1, 0.3, n)
    f, exact = integrands(n)["exp_linear"]
    rule = gj.GaussHermite(order=12)
    value = gj.expectation(f, mean, cov_factor=factor, rule=rule)
    assert jnp.allclose(value, exact(mean, factor @ factor.T), rtol=1e-12)
    assert rule.num_nodes(r) == 144
    grad = jax.grad(lambda F: gj.expectation(f, mean, cov_factor=F, rule=rule))(factor)
    exact_grad = jax.grad(lambda F: exact(mean, F @ F.T))(factor)
    assert relative(grad, exact_grad) < 1e-12


def test_check_grads_in_mean_and_cov():
    mean, cov = gaussian_2d()
    f = integrands(2)["saturating"][0]
    rule = gj.GaussHermite(order=8)
    # finite differences perturb cov in every direction: symmetrise, as cov must be symmetric.
    # Compiled: check_grads evaluates each function dozens of times (the same checks, faster).
    z = jax.jit(lambda m, c: gj.expectation(f, m, (c + c.T) / 2, rule=rule))
    check_grads(z, (mean, cov), order=2)
    check_grads(
        jax.jit(lambda m, L: gj.expectation(f, m, scale_tril=L, rule=rule)),
        (mean, jnp.linalg.cholesky(cov)),
        order=2,
    )
    check_grads(
        jax.jit(lambda m, d: gj.expectation(f, m, cov_diag=d, rule=rule)),
        (mean, jnp.diag(cov)),
        order=1,
    )


def test_cov_gradient_is_symmetric_and_satisfies_price():
    mean, cov = jnp.array([0.2, -0.1, 0.4]), jnp.eye(3) * 0.3 + 0.05
    f = integrands(3)["saturating"][0]
    rule = gj.GaussHermite(order=20)

    def z(m, c):
        return gj.expectation(f, m, c, rule=rule)

    dZ_dcov = jax.grad(z, argnums=1)(mean, cov)
    d2Z_dmean2 = jax.hessian(z)(mean, cov)
    assert jnp.allclose(dZ_dcov, dZ_dcov.T, atol=1e-15)
    assert jnp.allclose(d2Z_dmean2, 2 * dZ_dcov, rtol=1e-10, atol=1e-13)
    bonnet = gj.expectation(jax.grad(f), mean, cov, rule=rule)
    price = 0.5 * gj.expectation(jax.hessian(f), mean, cov, rule=rule)
    assert jnp.allclose(jax.grad(z)(mean, cov), bonnet, rtol=1e-10)
    assert jnp.allclose(dZ_dcov, price, rtol=1e-10, atol=1e-13)


def test_jit_jacfwd_jacrev_and_hessian_agree():
    mean, cov = gaussian_2d()
    f = integrands(2)["exp_linear"][0]
    exact = integrands(2)["exp_linear"][1]
    rule = gj.GaussHermite(order=16)

    def z(m):
        return gj.expectation(f, m, cov, rule=rule)

    assert jnp.allclose(jax.jit(z)(mean), exact(mean, cov), rtol=1e-12)
    assert jnp.allclose(jax.jacfwd(z)(mean), jax.jacrev(z)(mean), rtol=1e-12)
    assert jnp.allclose(jax.hessian(z)(mean), jax.hessian(exact)(mean, cov), rtol=1e-10)


def test_vmap_over_a_batch_of_gaussians_matches_a_loop():
    f = integrands(2)["probit"][0]
    rule = gj.GaussHermite(order=12)
    means = jnp.linspace(-1.0, 1.0, 10).reshape(5, 2)
    covs = jnp.stack([jnp.eye(2) * (0.1 + 0.1 * i) for i in range(5)])
    batched = jax.jit(jax.vmap(lambda m, c: gj.expectation(f, m, c, rule=rule)))(means, covs)
    looped = jnp.stack([gj.expectation(f, m, c, rule=rule) for m, c in zip(means, covs)])
    assert batched.shape == (5,)
    assert jnp.allclose(batched, looped, rtol=1e-13)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
@pytest.mark.parametrize("rule", [gj.GaussHermite(order=5), gj.MonteCarlo(num_samples=300)])
def test_batch_size_gives_the_same_value_and_gradient(rule, batch_size, key):
    mean, cov = jnp.array([0.2, -0.1, 0.4]), jnp.eye(3) * 0.3 + 0.05
    f = integrands(3)["cosine"][0]

    def z(m, c, batch_size):
        return gj.expectation(f, m, c, rule=rule, key=key, batch_size=batch_size)

    whole = jax.value_and_grad(z, argnums=(0, 1))(mean, cov, None)
    chunked = jax.jit(jax.value_and_grad(z, argnums=(0, 1)), static_argnums=2)(
        mean, cov, batch_size
    )
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(chunked)):
        assert jnp.allclose(a, b, rtol=1e-12, atol=1e-15)


def test_pytree_outputs_keep_their_structure():
    mean, cov = gaussian_2d()
    rule = gj.GaussHermite(order=4)

    def f(x):
        return {"first": x, "second": jnp.outer(x, x), "count": (x[0] > 0).astype(int)}

    z = gj.expectation(f, mean, cov, rule=rule)
    assert set(z) == {"first", "second", "count"}
    assert jnp.allclose(z["first"], mean)
    assert jnp.allclose(z["second"], cov + jnp.outer(mean, mean))
    assert z["second"].shape == (2, 2) and z["count"].shape == ()
    est = gj.estimate(f, mean, cov, rule=rule)
    assert jax.tree.structure(est.error) == jax.tree.structure(z)


@pytest.mark.parametrize("rule", [gj.GaussHermite(order=6), gj.MonteCarlo(num_samples=64)])
def test_float32_is_kept(rule, key):
    mean = jnp.array([0.1, 0.2], dtype=jnp.float32)
    cov = jnp.eye(2, dtype=jnp.float32)

    def f(x):
        return jnp.cos(x).sum()

    z = gj.expectation(f, mean, cov, rule=rule, key=key)
    grad = jax.grad(lambda m: gj.expectation(f, m, cov, rule=rule, key=key))(mean)
    assert z.dtype == jnp.float32 and grad.dtype == jnp.float32
    est = gj.estimate(f, mean, cov, rule=rule, key=key)
    assert est.value.dtype == jnp.float32


def test_integer_mean_is_promoted_to_float():
    z = gj.expectation(
        lambda x: x @ x, jnp.array([1, 2]), jnp.eye(2, dtype=int), rule=gj.GaussHermite(order=2)
    )
    assert jnp.issubdtype(z.dtype, jnp.floating)
    assert jnp.allclose(z, 7.0)


def test_estimate_gauss_hermite_error_is_the_widened_difference_from_the_lower_order():
    mean, cov = gaussian_2d()
    f = integrands(2)["saturating"][0]
    est = gj.estimate(f, mean, cov, rule=gj.GaussHermite(order=6))
    lower = gj.expectation(f, mean, cov, rule=gj.GaussHermite(order=5))
    # on a smooth f the turned copies differ by less: the coarser reference sets the error
    assert jnp.allclose(est.error, WIDEN_COARSER * jnp.abs(est.value - lower))
    exact = integrands(2)["saturating"][1](mean, cov)
    assert abs(est.value - exact) < est.error
    assert gj.estimate(f, mean, cov, rule=gj.GaussHermite(order=1)).error == jnp.inf


def test_default_rule_is_used_when_none_is_given():
    mean, cov = gaussian_2d()
    f, exact = integrands(2)["probit"]
    assert jnp.allclose(gj.expectation(f, mean, cov), exact(mean, cov), rtol=1e-12)
    assert isinstance(gj.default_rule(2), gj.AbstractRule)


@pytest.mark.slow
def test_a_hundred_million_node_rule_runs_in_bounded_memory():
    rule = gj.GaussHermite(order=10)
    mean, cov = jnp.zeros(8, jnp.float32), 0.1 * jnp.eye(8, dtype=jnp.float32)
    assert rule.num_nodes(8) == 10**8

    def z(m):
        return gj.expectation(lambda x: jnp.sum(x**2), m, cov, rule=rule, batch_size=2**20)

    # 10^8 nodes x 8 coordinates would be 3.2 GB materialised; chunks hold 2^20 at a time.
    value, grad = jax.jit(jax.value_and_grad(z))(mean)
    assert np.isclose(float(value), 0.8, rtol=1e-4)
    assert np.allclose(grad, 0.0, atol=1e-4)


def test_past_one_chunk_a_gradient_recomputes_each_chunk_and_keeps_its_value(monkeypatch):
    from gaussjax import _weighted_sum

    assert _weighted_sum.MAX_NODES_KEPT == _weighted_sum.DEFAULT_BATCH_SIZE  # past one chunk
    # Chunks of 2^15 nodes, so that 279,936 nodes in 7 dimensions make nine: one is held at a
    # time (0.18-0.22 of the kept program's memory with JAX 0.7.2-0.12; two chunks of 2^18 held
    # 0.47-0.53, XLA's planning deciding the side of a half).
    monkeypatch.setattr(_weighted_sum, "DEFAULT_BATCH_SIZE", 2**15)
    monkeypatch.setattr(_weighted_sum, "MAX_NODES_KEPT", 2**15)
    rule = gj.GaussHermite(order=6)
    f = lambda x: jnp.tanh(x @ jnp.linspace(0.2, 1.4, 7)) ** 2  # noqa: E731

    def compiled():
        z = lambda m: gj.expectation(f, m, 0.3 * jnp.eye(7), rule=rule)  # noqa: E731
        return jax.jit(jax.value_and_grad(z)).lower(jnp.full(7, 0.1)).compile()

    recomputed = compiled()
    monkeypatch.setattr(_weighted_sum, "MAX_NODES_KEPT", 2**22)  # as gaussjax used to
    kept = compiled()
    memory = [c.memory_analysis().temp_size_in_bytes for c in (recomputed, kept)]
    assert memory[0] < memory[1] / 3
    for a, b in zip(recomputed(jnp.full(7, 0.1)), kept(jnp.full(7, 0.1)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_small_and_large_covariances_are_factored_alike(n):
    from gaussjax._covariance import mean_and_factor

    A = np.random.default_rng(n).standard_normal((n, n))
    cov = jnp.asarray(A @ A.T + 0.1 * np.eye(n))
    _, factor = mean_and_factor(jnp.zeros(n), {"cov": cov}, "test")
    np.testing.assert_allclose(factor, np.linalg.cholesky(cov), rtol=1e-12, atol=1e-14)
    grad = jax.grad(lambda c: jnp.sum(mean_and_factor(jnp.zeros(n), {"cov": c}, "test")[1]))
    grad_lapack = jax.grad(lambda c: jnp.sum(jnp.linalg.cholesky((c + c.T) / 2)))
    np.testing.assert_allclose(grad(cov), grad_lapack(cov), rtol=1e-10, atol=1e-12)
