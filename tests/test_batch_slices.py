"""`jax.vmap` over a batch of Gaussians too large to sum at once: a slice of the batch at a time
(`_batch.in_slices`), with the values and derivatives of the whole batch, in bounded memory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gaussjax as gj
from gaussjax import _batch

RULE = gj.GaussHermite(order=20)
SIZE = 1000  # Gaussians: 20,000 points, sliced with the limit below
LIMIT = 20 * 96  # points a slice (96 Gaussians): 10 whole slices and a shorter one


@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    means = jnp.asarray(rng.normal(size=SIZE))
    variances = jnp.asarray(rng.uniform(0.1, 2.0, size=SIZE))
    labels = jnp.asarray(np.where(rng.uniform(size=SIZE) < 0.5, -1, 1))  # integers, closed over
    return means, variances, labels


def log_likelihood(means, variances, labels, **options):
    """sum_k E[log sigmoid(y_k f)], f ~ N(m_k, v_k): elementwise, once per node under vmap."""

    def one(m, v, y):
        f = lambda x: jax.nn.log_sigmoid(y * x[0])  # noqa: E731
        return gj.expectation(f, m[None], v[None, None], rule=RULE, **options)

    return jnp.sum(jax.vmap(one)(means, variances, labels))


def network(means, variances, labels, **options):
    """The same Gaussians through a layer of 128 units (a wide sum: its value on all nodes)."""
    weights = jnp.linspace(-0.5, 1.5, 128)

    def one(m, v, y):
        f = lambda x: jnp.tanh(jnp.outer(x, weights)).sum() * y  # noqa: E731
        return gj.expectation(f, m[None], v[None, None], rule=RULE, **options)

    return jnp.sum(jax.vmap(one)(means, variances, labels))


def slice_at(monkeypatch, points: int, per_node: bool = True):
    """Make gaussjax sum `points` points at a time (as many as 1 GiB holds in practice)."""
    point_bytes = _batch.bytes_per_point(1, jnp.float64, stores_points=not per_node)
    monkeypatch.setattr(_batch, "MAX_BYTES_AT_ONCE", points * point_bytes)


def sliced(function, *args) -> bool:
    return "scan" in str(jax.make_jaxpr(function)(*args))


def derivatives(total, data):
    """Jitted (and traced anew): the value, the gradient in the means and in the variances, and
    the Hessian in the means times a direction (forward over reverse), over the whole batch."""
    direction = jnp.cos(jnp.arange(SIZE))

    def all_of_them(means, variances, labels):
        value, grads = jax.value_and_grad(total, argnums=(0, 1))(means, variances, labels)
        in_means = lambda m: jax.grad(total)(m, variances, labels)  # noqa: E731
        return value, grads, jax.jvp(in_means, (means,), (direction,))[1]

    return jax.jit(all_of_them)(*data)


@pytest.mark.parametrize("total", [log_likelihood, network])
def test_slices_give_the_whole_batchs_values_and_derivatives(total, data, monkeypatch):
    whole = derivatives(total, data)
    slice_at(monkeypatch, LIMIT, per_node=total is log_likelihood)
    assert sliced(jax.grad(total), *data)
    assert sliced(total, *data) == (total is network)  # an elementwise f stores no points
    in_slices = derivatives(total, data)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(in_slices), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_the_gradient_of_a_sliced_batch_holds_one_slice(data, monkeypatch):
    def temporary_bytes(function):
        compiled = jax.jit(jax.grad(function, argnums=(0, 1))).lower(*data).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    # at most 8 numbers per Gaussian (its inputs, result and gradient, and copies in slices)
    # and 16 bytes per point of one slice; the whole batch needs about 15 bytes per point
    bound = 8 * 8 * SIZE + 16 * LIMIT
    assert temporary_bytes(log_likelihood) > bound
    slice_at(monkeypatch, LIMIT)
    assert temporary_bytes(log_likelihood) < bound


def test_batch_size_bounds_the_points_over_the_whole_batch(data):
    whole = derivatives(log_likelihood, data)
    chunked = lambda *args: log_likelihood(*args, batch_size=LIMIT)  # noqa: E731
    assert sliced(chunked, *data)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(derivatives(chunked, data))):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def by_sampling(means, variances, labels):
    keys = jax.random.split(jax.random.key(0), SIZE)

    def one(m, v, key):
        f = lambda x: jnp.exp(-((x[0] - 0.3) ** 2))  # noqa: E731
        rule = gj.MonteCarlo(num_samples=64)
        return gj.expectation(f, m[None], v[None, None], rule=rule, key=key)

    return jnp.sum(jax.vmap(one)(means, variances, keys))


def adapted(means, variances, labels):
    def one(m, v, y):
        f = lambda x: jax.nn.sigmoid(4 * y * x[0])  # noqa: E731
        return gj.expectation(f, m[None], v[None, None], rule=RULE, adapt="laplace")

    return jnp.sum(jax.vmap(one)(means, variances, labels))


@pytest.mark.parametrize("total", [by_sampling, adapted])
def test_random_and_adapted_rules_read_their_batched_keys_and_fits(total, data, monkeypatch):
    def loops(gradient):  # the Laplace fit has loops of its own
        return gradient.lower(*data).as_text().count("stablehlo.while")

    gradient = jax.jit(jax.value_and_grad(total, argnums=(0, 1)))
    whole, loops_whole = gradient(*data), loops(gradient)
    slice_at(monkeypatch, 64 * 96)
    gradient = jax.jit(jax.value_and_grad(total, argnums=(0, 1)))
    assert loops(gradient) > loops_whole
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(gradient(*data)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_a_named_vmap_axis_and_a_vmap_inside_grad_are_summed_whole(data, monkeypatch):
    means, variances, labels = data
    slice_at(monkeypatch, LIMIT)

    def one(m, v, y):
        f = lambda x: jax.nn.log_sigmoid(y * x[0])  # noqa: E731
        return gj.expectation(f, m[None], v[None, None], rule=RULE)

    named = jax.vmap(one, axis_name="data")
    assert not sliced(jax.grad(lambda m: named(m, variances, labels).sum()), means)
    per_member = jax.vmap(jax.grad(one))
    assert not sliced(per_member, means, variances, labels)
    np.testing.assert_allclose(
        jax.jit(per_member)(means, variances, labels),
        jax.jit(jax.grad(log_likelihood))(means, variances, labels),
        rtol=1e-13,
    )


def test_a_vmap_of_vmaps_slices_its_inner_batch(data, monkeypatch):
    rows = [a.reshape(10, SIZE // 10) for a in data]  # 10 rows of 100 Gaussians

    def total(means, variances, labels):
        return jnp.sum(jax.vmap(log_likelihood)(means, variances, labels))

    def gradient():  # jitted, traced anew
        return jax.jit(jax.value_and_grad(total, argnums=(0, 1)))(*rows)

    whole = gradient()
    slice_at(monkeypatch, LIMIT)  # 96 Gaussians of a row at a time
    assert sliced(jax.grad(total), *rows)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(gradient()), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
