"""Many Gaussians of few nodes under `jax.vmap`: f once per node, against f once on all nodes.

    python benchmarks/few_nodes.py     # about five minutes on 2 cores

Under `jax.vmap` and without `batch_size`, a rule of at most `UNROLLED_NODES` (32) nodes calls
f once per node when f is elementwise (`gaussjax/_per_node.py`), in reverse mode also when
nodes x f's primitives are at most `UNROLLED_EQUATIONS`, and once on all of a chunk's nodes
otherwise. This script measures gaussjax's own choice, then forces each way in turn, in one
process, and reports the first call (trace, compile, run) of the value and of value and
gradient, and each one's time against a hand-written vectorised grid (interleaved,
`timing.py`). Cases: E[log sigmoid(y f)]
over one-dimensional Gaussians with 20 nodes (10^4 for the first call, 10^6 for the speed),
elementwise; a two-layer tanh network of 64 units (matrix products and a sum) over 10^5
two-dimensional Gaussians with 25 nodes; and a saturating cost exp(-d^T P d / 2) over 2 x 10^5
three-dimensional Gaussians with 27 nodes.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from timing import interleaved
from workload import bernoulli_data, bernoulli_gaussjax, bernoulli_grid, gauss_hermite_grid

import gaussjax as gj
from gaussjax import _per_node

jax.config.update("jax_enable_x64", True)
CHOOSES = _per_node.elementwise  # gaussjax's own judgement, restored at the end

rng = np.random.default_rng(1)
W1 = jnp.asarray(rng.normal(size=(2, 64)))
W2 = jnp.asarray(rng.normal(size=(64, 64)) / 8)
TARGET, PRECISION = jnp.linspace(0.4, -0.4, 3), jnp.diag(jnp.array([1.0, 2.0, 0.5]))


def network(x):
    return jnp.sum(jnp.tanh(jnp.tanh(x @ W1) @ W2))


def saturating(x):
    d = x - TARGET
    return jnp.exp(-0.5 * d @ PRECISION @ d)


def gaussjax_sum(f, order: int):
    """sum_b E[f(x_b)] over a batch of Gaussians, `jax.vmap` of `gj.expectation`."""
    rule = gj.GaussHermite(order=order)

    def total(means, covs):
        return jnp.sum(jax.vmap(lambda m, c: gj.expectation(f, m, c, rule=rule))(means, covs))

    return total


def grid_sum(f):
    """The same sum by a hand-written vectorised grid (nodes and weights passed in)."""

    def total(means, covs, nodes, weights):
        L = jnp.linalg.cholesky(covs)
        x = means[:, None, :] + jnp.einsum("bij,kj->bki", L, nodes)
        return jnp.sum(jax.vmap(jax.vmap(f))(x) @ weights)

    return total


def bernoulli(means, variances, labels):
    return bernoulli_gaussjax(means, variances, labels, gj.GaussHermite(order=20))


def cases():
    """(name, gaussjax, hand-written grid, arguments for the first call, for the speed, grid)."""
    one_d = tuple(jnp.asarray(t) for t in gauss_hermite_grid(20, 1))
    two_d = tuple(jnp.asarray(t) for t in gauss_hermite_grid(5, 2))
    three_d = tuple(jnp.asarray(t) for t in gauss_hermite_grid(3, 3))
    B = 10**5
    means = jnp.asarray(rng.normal(size=(B, 2)))
    covs = jnp.broadcast_to(0.3 * jnp.eye(2), (B, 2, 2))
    means3 = jnp.asarray(0.3 * rng.normal(size=(2 * B, 3)))
    A = 0.3 * rng.normal(size=(2 * B, 3, 3))
    covs3 = jnp.asarray(0.2 * np.eye(3) + A @ np.swapaxes(A, 1, 2))
    return [
        (
            "1-D, E[log sigmoid(y f)], 20 nodes",
            bernoulli,
            bernoulli_grid,
            bernoulli_data(rng, 10**4),
            bernoulli_data(rng, 10**6),
            one_d,
        ),
        (
            "2-D, tanh network, 25 nodes",
            gaussjax_sum(network, 5),
            grid_sum(network),
            (means[: 10**4], covs[: 10**4]),
            (means, covs),
            two_d,
        ),
        (
            "3-D, saturating cost, 27 nodes",
            gaussjax_sum(saturating, 3),
            grid_sum(saturating),
            (means3[: 10**4], covs3[: 10**4]),
            (means3, covs3),
            three_d,
        ),
    ]


def first_call(function, args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(jax.jit(function)(*args))
    return time.perf_counter() - start


def main():
    print("| case | what | f | first call | gaussjax / hand-written grid |")
    print("|---|---|---|---|---|")
    for name, ours, peer, small, large, grid in cases():
        for what, transform in (
            ("Z", lambda g: g),
            ("Z and gradient", lambda g: jax.value_and_grad(g, argnums=(0, 1))),
        ):
            for label, limit, judge in (
                ("as gaussjax chooses", 32, CHOOSES),
                ("once per node", 32, lambda jaxpr: True),  # forced, not judged
                ("once on all nodes", 0, CHOOSES),
            ):
                _per_node.UNROLLED_NODES, _per_node.elementwise = limit, judge
                # a new function each time, so that nothing compiled before is reused
                compiled = first_call(transform(lambda *a, o=ours: o(*a)), small)
                calls = {
                    "ours": jax.jit(transform(lambda *a, o=ours: o(*a))),
                    "peer": jax.jit(transform(lambda *a, p=peer, g=grid: p(*a, *g))),
                }
                times = interleaved({k: (lambda c=c, x=large: c(*x)) for k, c in calls.items()}, 9)
                print(
                    f"| {name} | {what} | {label} | {compiled:.2f} s | "
                    f"{times['ours'] / times['peer']:.2f} |",
                    flush=True,
                )
    _per_node.UNROLLED_NODES, _per_node.elementwise = 32, CHOOSES


if __name__ == "__main__":
    main()
