"""sum_i w_i g(xi_i) over a rule's nodes, chunk by chunk, spread over all devices."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from . import _per_node
from ._batch import batched, in_slices, innermost_is_vmap, traced
from ._devices import node_mesh, over_devices
from ._progress import AbstractProgress, Meter
from ._rules import AbstractRule
from ._rules._base import PyTree

MAX_NODES = 2**31 - 1
"""No rule may have more nodes than this: node indices are 32-bit integers."""
DEFAULT_BATCH_SIZE = 2**18
"""Without `batch_size`, nodes are evaluated this many at a time (262,144: every default rule
and 10^5 Monte Carlo samples are one chunk, compiled and run without a loop; larger rules loop
over chunks whose points stay small)."""
MAX_NODES_KEPT = DEFAULT_BATCH_SIZE
"""Without `batch_size`, a reverse-mode derivative keeps what the chunk needs (as a hand-written
grid would) when all nodes are one chunk; beyond it, and always with `batch_size`, each chunk
is recomputed in the backward pass instead (`jax.checkpoint`), so memory stays bounded. Up to
2^22 nodes used to be kept; at 10^6 and 2.1 x 10^6 nodes recomputing took the same time for a
cheap f and half the time for a tanh network (writing and reading every chunk's values cost
more than evaluating f again), in a quarter of the memory or less
(`python benchmarks/kept_or_recomputed.py`)."""


def reduce_nodes(
    summarise: Callable[[Float[Array, "b r"], Float[Array, " b"]], PyTree],
    combine: Callable[[PyTree, PyTree], PyTree],
    rule: AbstractRule,
    dim: int,
    dtype,
    key: PRNGKeyArray | None,
    batch_size: int | None,
    progress: "tuple[AbstractProgress, str] | None" = None,
    at: "tuple[Float[Array, ' n'], Float[Array, 'n r']] | None" = None,
    identity: "Callable[[PyTree], PyTree] | None" = None,
) -> PyTree:
    """`summarise(nodes, weights)` over all nodes of `rule`, chunk by chunk, the chunks'
    summaries merged by the associative `combine`; with `at` = (shift, factor), summarise
    receives the points shift + factor @ xi instead of the nodes xi.

    The nodes are cut into chunks of `rule.chunk_size(dim, batch_size)` nodes (`batch_size`
    `DEFAULT_BATCH_SIZE` when not given), which `rule.chunk` (or `rule.chunk_points`) makes
    from the chunk's number: no table of all nodes is held. Chunks after the first run inside
    a `lax.scan`; with `batch_size` (or beyond `MAX_NODES_KEPT` nodes) its body is
    rematerialised (`jax.checkpoint`), so neither the result nor its reverse-mode gradient
    holds more than one chunk of nodes in memory. Nodes past the last one (padding the last
    chunk) get weight zero: `summarise` must ignore such nodes.

    With several devices (`_devices.py`) each device takes an equal run of chunks, makes its
    own nodes, and the devices' summaries are merged by `combine`.

    `progress` = (reporter, description) reports each chunk as it is done, forward and backward
    (see `_progress/_meter.py`).

    `identity`, if given, maps a summary's shape (`jax.eval_shape`) to the identity of
    `combine` (zeros for a sum): then every chunk runs in the scan, whose body is compiled
    once, instead of the first chunk outside it and the others inside (half the compile time).
    """
    num_nodes = rule.num_nodes(dim)
    mesh = node_mesh(num_nodes, progress)
    shards = 1 if mesh is None else mesh.size
    per_shard = -(-num_nodes // shards)
    asked = min(DEFAULT_BATCH_SIZE if batch_size is None else batch_size, per_shard)
    balanced = -(-per_shard // -(-per_shard // asked))  # equal chunks, the last one not padded
    size = rule.chunk_size(dim, balanced)
    num_chunks = -(-num_nodes // size)
    chunks_per_shard = -(-num_chunks // shards)
    padded = shards * chunks_per_shard * size > num_nodes

    def chunk(number):
        if at is None:
            nodes, weights = rule.chunk(number, size, dim, dtype, key)
        else:
            nodes, weights = rule.chunk_points(number, size, dim, dtype, key, *at)
        if padded:  # (unsigned: the padding may pass 2^31 - 1, never 2^32)
            first = number.astype(jnp.uint32) * np.uint32(size)
            in_range = first + jnp.arange(size, dtype=jnp.uint32) < np.uint32(num_nodes)
            weights = jnp.where(in_range, weights, jnp.zeros_like(weights))
        return summarise(nodes, weights)

    remat = batch_size is not None or num_nodes > MAX_NODES_KEPT
    if mesh is None:
        return _run_chunks(chunk, combine, 0, num_chunks, progress, remat, identity)

    def on_device(index):
        start = index * chunks_per_shard
        return _run_chunks(chunk, combine, start, chunks_per_shard, None, remat, identity)

    return over_devices(on_device, combine, mesh)


def _run_chunks(chunk, combine, start, count: int, progress, remat: bool, identity=None) -> PyTree:
    """combine(chunk(start), ..., chunk(start + count - 1)): the first chunk, then a scan (or,
    given `identity`, all chunks in the scan), its body rematerialised in reverse mode if
    `remat`."""
    start = jnp.asarray(start, jnp.int32)
    if progress is None:
        meter, first_chunk, later_chunk = None, chunk, chunk
    else:
        meter = Meter(*progress, num_chunks=count)
        first_chunk, later_chunk = meter.watch(chunk, jnp.zeros((), jnp.int32))

    def add_chunk(total, number):
        value = later_chunk(number) if meter is None else later_chunk(number, number=number)
        return combine(total, value), None

    step = jax.checkpoint(add_chunk) if remat else add_chunk
    if identity is not None and meter is None and count > 1:
        # a barrier, so that XLA makes the nodes at run time instead of unrolling and folding
        numbers = jax.lax.optimization_barrier(start + jnp.arange(count, dtype=jnp.int32))
        initial = identity(jax.eval_shape(chunk, start))
        return jax.lax.scan(step, initial, numbers)[0]
    # a barrier, so that XLA makes the nodes at run time instead of folding them into constants
    first = first_chunk(jax.lax.optimization_barrier(start))
    if count == 1:
        return first if meter is None else meter.finish(first, [])
    numbers = start + jnp.arange(1, count, dtype=jnp.int32)
    if meter is None:
        return jax.lax.scan(step, first, numbers)[0]

    def step_and_report(total, number):
        tick = meter.during(number)  # outside the checkpoint: the backward does not replay it
        total, _ = step(total, number)
        return total, tick

    first_tick = meter.done(0, first)
    total, ticks = jax.lax.scan(step_and_report, first, numbers)
    return meter.finish(total, [first_tick, ticks])


def weighted_sum(
    g: Callable[[Float[Array, " r"]], PyTree],
    rule: AbstractRule,
    dim: int,
    dtype,
    key: PRNGKeyArray | None,
    batch_size: int | None,
    progress: "tuple[AbstractProgress, str] | None" = None,
    at: "tuple[Float[Array, ' n'], Float[Array, 'n r']] | None" = None,
) -> PyTree:
    r"""$\sum_i w_i\, g(\xi_i)$ over the nodes of `rule` in `dim` dimensions; with `at` =
    (shift, factor), $\sum_i w_i\, g(\mathrm{shift} + \mathrm{factor}\,\xi_i)$.

    Under `jax.vmap` over many Gaussians (`at` batched), g is called once per node
    (`unrolled_total`) where `_per_node.choice` says so, and a large batch is summed a slice at
    a time (`_batch.in_slices`)."""
    num_nodes = rule.num_nodes(dim)
    many = at is not None and batched(at)
    slices = many and progress is None and innermost_is_vmap()
    wanted = slices or (many and _per_node.considered(num_nodes, batch_size))
    program = traced(g, at[0]) if wanted else None  # g as data, only where it is read
    if program is None:
        return _total(g, rule, dim, dtype, key, batch_size, progress, at, per_node=False)
    per_node = _per_node.choice(program.program, num_nodes, batch_size)  # (value, reverse)
    if not slices:
        return _total(g, rule, dim, dtype, key, batch_size, progress, at, per_node[0])

    def total(inputs, g, by_node):
        rule, key, at = inputs
        return _total(g, rule, dim, dtype, key, batch_size, None, at, by_node)

    points = num_nodes if batch_size is None else min(num_nodes, batch_size)
    return in_slices(total, program, at[0], (rule, key, at), points, batch_size, per_node)


def _total(g, rule, dim, dtype, key, batch_size, progress, at, per_node: bool) -> PyTree:
    """The sum for one Gaussian; `per_node`: call g once per node (`unrolled_total`)."""

    def summarise(nodes, weights):
        values = jax.vmap(g)(nodes)
        return jax.tree.map(lambda v: weighted_total(weights, as_floating(v, dtype)), values)

    def add(a, b):
        return jax.tree.map(jnp.add, a, b)

    def zeros(shapes):
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    if per_node:
        shift, factor = at
        columns = [factor[:, j] for j in range(factor.shape[1])]

        def at_point(xi):  # shift + factor @ xi, column by column: elementwise, fused with g
            return g(sum((column * xi[j] for j, column in enumerate(columns)), start=shift))

        def summarise_unrolled(nodes, weights):
            return unrolled_total(at_point, nodes, weights, dtype)

        return reduce_nodes(summarise_unrolled, add, rule, dim, dtype, key, batch_size, progress)
    return reduce_nodes(summarise, add, rule, dim, dtype, key, batch_size, progress, at, zeros)


def unrolled_total(g, nodes: Float[Array, "b r"], weights: Float[Array, " b"], dtype) -> PyTree:
    """sum_i weights_i g(nodes_i), g called once per node and the terms added in order: under
    `jax.vmap` over many Gaussians, XLA computes all of them in one loop over the Gaussians and
    never stores g's values, where a sum over a node axis is handed by XLA's CPU compiler to a
    library (YNNPACK) that stores them first (benchmarks/synchronous.py)."""
    total = None
    for i in range(nodes.shape[0]):
        weight = weights[i]
        value = jax.tree.map(lambda v, w=weight: w * as_floating(v, dtype), g(nodes[i]))
        total = value if total is None else jax.tree.map(jnp.add, total, value)
    return total


def weighted_total(weights: Float[Array, " b"], values: Float[Array, "b ..."]) -> Array:
    """sum_i weights_i values_i as a product and a sum, not a dot product: under `jax.vmap`
    (many Gaussians at once) a dot product becomes a batch of tiny ones, several times slower
    on a CPU than the fused elementwise product and sum."""
    return jnp.sum(weights.reshape(weights.shape + (1,) * (values.ndim - 1)) * values, axis=0)


def as_floating(value: Array, dtype) -> Array:
    value = jnp.asarray(value)
    return value if jnp.issubdtype(value.dtype, jnp.inexact) else value.astype(dtype)
