"""`jax.vmap` over many Gaussians with a rule of few nodes: an elementwise f is called once per
node (`_weighted_sum.unrolled_total`), any other f once on all nodes, and values and
derivatives are those of a loop and of closed forms either way."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gaussjax as gj

RULE_1D = gj.GaussHermite(order=20)
RULE_2D = gj.GaussHermite(order=5)  # 25 nodes, exact for polynomials of degree 9 or less
DIRECTION = jnp.array([1.0, 2.0])
WIDE = jnp.linspace(-1.0, 1.5, 128).reshape(2, 64)


def sin_expectation(mean, variance, **options):
    return gj.expectation(lambda x: jnp.sin(x[0]), mean[None], cov_diag=variance[None], **options)


def quartic(x):
    """(DIRECTION . x)^4, written elementwise: under vmap it is called once per node."""
    return (x[0] + 2 * x[1]) ** 4


def quartic_exact(mean, cov):
    """E[s^4] for s = DIRECTION . x ~ N(m, v): m^4 + 6 m^2 v + 3 v^2."""
    m, v = DIRECTION @ mean, DIRECTION @ cov @ DIRECTION
    return m**4 + 6 * m**2 * v + 3 * v**2


def count(primitive: str, jaxpr) -> int:
    """How many times `primitive` is applied in `jaxpr`, inner jaxprs included."""
    return len(re.findall(rf"= {primitive}\b", str(jaxpr)))


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    means = jnp.asarray(rng.normal(size=7))
    variances = jnp.asarray(rng.uniform(0.1, 2.0, size=7))
    return means, variances


def test_under_vmap_f_is_called_once_per_node_and_otherwise_once(batch):
    def sins(function, *args):
        return count("sin", jax.make_jaxpr(function)(*args))

    one = [a[0] for a in batch]
    assert sins(lambda m, v: sin_expectation(m, v, rule=RULE_1D), *one) == 1  # on all nodes
    assert sins(jax.vmap(lambda m, v: sin_expectation(m, v, rule=RULE_1D)), *batch) == 20
    with_batch_size = jax.vmap(lambda m, v: sin_expectation(m, v, rule=RULE_1D, batch_size=20))
    assert sins(with_batch_size, *batch) == 1  # batch_size: the chunked sum, as before
    many_nodes = jax.vmap(lambda m, v: sin_expectation(m, v, rule=gj.GaussHermite(order=40)))
    assert sins(many_nodes, *batch) == 1


def wide(x):
    """A product with 128 numbers (more than `SMALL_OPERANDS`): a network's first layer."""
    return jnp.sin(jnp.sum(jnp.tanh(x @ WIDE)))


def test_a_small_product_is_called_once_per_node_and_a_wide_one_on_all_nodes():
    def expectation(mean, cov, f):
        return gj.expectation(f, mean, cov, rule=RULE_2D)

    means = jnp.asarray(np.random.default_rng(0).normal(size=(5, 2)))
    covs = jnp.broadcast_to(0.05 * jnp.eye(2), (5, 2, 2))
    elementwise = jax.vmap(lambda m, c: expectation(m, c, lambda x: jnp.sin(x[0] + 2 * x[1])))
    product = jax.vmap(lambda m, c: expectation(m, c, lambda x: jnp.sin(DIRECTION @ x)))
    assert count("sin", jax.make_jaxpr(elementwise)(means, covs)) == 25
    assert count("sin", jax.make_jaxpr(product)(means, covs)) == 25
    assert (
        count("sin", jax.make_jaxpr(jax.vmap(lambda m, c: expectation(m, c, wide)))(means, covs))
        == 1
    )
    # E[sin(s)], s ~ N(d.m, d.C.d), is sin(d.m) exp(-d.C.d / 2)
    scale = DIRECTION @ covs[0] @ DIRECTION
    exact = jnp.sin(means @ DIRECTION) * jnp.exp(-scale / 2)
    np.testing.assert_allclose(product(means, covs), exact, rtol=1e-7)  # the rule: 1e-8 off


def test_in_reverse_mode_a_wide_but_short_f_is_called_once_per_node(monkeypatch):
    from gaussjax import _per_node

    def total(means, covs):
        one = lambda m, c: gj.expectation(wide, m, c, rule=RULE_2D)  # noqa: E731
        return jnp.sum(jax.vmap(one)(means, covs))

    means = jnp.asarray(np.random.default_rng(0).normal(size=(5, 2)))
    covs = jnp.broadcast_to(0.3 * jnp.eye(2), (5, 2, 2))

    def gradient():  # a new function each time: traced anew, not taken from JAX's cache
        return jax.value_and_grad(lambda *args: total(*args), argnums=(0, 1))

    assert count("sin", jax.make_jaxpr(total)(means, covs)) == 1  # the value: on all nodes
    assert count("sin", jax.make_jaxpr(gradient())(means, covs)) == 25
    per_node = jax.jit(gradient())(means, covs)
    monkeypatch.setattr(_per_node, "UNROLLED_EQUATIONS", 0)  # every f too long
    assert count("sin", jax.make_jaxpr(gradient())(means, covs)) == 1
    on_all_nodes = jax.jit(gradient())(means, covs)
    for a, b in zip(jax.tree.leaves(per_node), jax.tree.leaves(on_all_nodes), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)  # the terms in another order


def test_values_and_derivatives_match_closed_forms_and_a_loop(batch):
    means, variances = batch

    def total(means, variances):
        return jnp.sum(jax.vmap(lambda m, v: sin_expectation(m, v, rule=RULE_1D))(means, variances))

    # E[sin x] = sin(m) exp(-v/2), and the Price identity d2Z/dm2 = 2 dZ/dv
    damping = jnp.exp(-variances / 2)
    values = jax.jit(jax.vmap(lambda m, v: sin_expectation(m, v, rule=RULE_1D)))(means, variances)
    np.testing.assert_allclose(values, jnp.sin(means) * damping, rtol=1e-13, atol=1e-15)
    loop = jnp.stack([sin_expectation(m, v, rule=RULE_1D) for m, v in zip(means, variances)])
    np.testing.assert_allclose(values, loop, rtol=1e-13, atol=1e-15)
    d_mean, d_variance = jax.jit(jax.grad(total, argnums=(0, 1)))(means, variances)
    np.testing.assert_allclose(d_mean, jnp.cos(means) * damping, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d_variance, -jnp.sin(means) * damping / 2, rtol=1e-12, atol=1e-14)
    second = jax.jit(jax.hessian(total))(means, variances)
    np.testing.assert_allclose(jnp.diag(second), 2 * d_variance, rtol=1e-12, atol=1e-14)


def test_a_full_covariance_matches_the_exact_moment_and_its_gradient():
    rng = np.random.default_rng(4)
    means = jnp.asarray(rng.normal(size=(5, 2)))
    A = rng.normal(size=(5, 2, 2))
    covs = jnp.asarray(A @ np.swapaxes(A, 1, 2) + 0.2 * np.eye(2))

    def ours(means, covs):
        return jnp.sum(
            jax.vmap(lambda m, c: gj.expectation(quartic, m, c, rule=RULE_2D))(means, covs)
        )

    def exact(means, covs):
        return jnp.sum(jax.vmap(quartic_exact)(means, covs))

    def one(mean, cov):
        return gj.expectation(quartic, mean, cov, rule=RULE_2D)

    powers_once = count("integer_pow", jax.make_jaxpr(one)(means[0], covs[0]))
    powers = count("integer_pow", jax.make_jaxpr(ours)(means, covs))
    assert powers - powers_once == 24  # under vmap, f once per node: 25 times, not once
    value, grads = jax.jit(jax.value_and_grad(ours, argnums=(0, 1)))(means, covs)
    exact_value, exact_grads = jax.value_and_grad(exact, argnums=(0, 1))(means, covs)
    np.testing.assert_allclose(value, exact_value, rtol=1e-12)
    for got, want in zip(grads, exact_grads):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


def test_a_pytree_and_an_integer_valued_f():
    means = jnp.linspace(-1.0, 1.0, 4)[:, None]

    def f(x):
        return {"square": x[0] ** 2, "positive": (x[0] > 0).astype(jnp.int32)}

    got = jax.vmap(lambda m: gj.expectation(f, m, cov_diag=jnp.ones(1), rule=RULE_1D))(means)
    np.testing.assert_allclose(got["square"], means[:, 0] ** 2 + 1, rtol=1e-13)
    assert got["positive"].dtype == means.dtype
    one_by_one = [gj.expectation(f, m, cov_diag=jnp.ones(1), rule=RULE_1D) for m in means]
    np.testing.assert_allclose(got["positive"], [z["positive"] for z in one_by_one], rtol=1e-13)
