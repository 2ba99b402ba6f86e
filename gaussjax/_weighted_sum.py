"""sum_i w_i g(xi_i) over a rule's nodes, in one pass or chunk by chunk in bounded memory."""

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._progress import AbstractProgress, Meter
from ._rules import AbstractDeterministicRule, AbstractRule
from ._rules._adapted import AdaptedDeterministic
from ._rules._base import PyTree

MAX_NODES = 2**31 - 1
"""No rule may have more nodes than this: node indices are 32-bit integers."""
MAX_NODES_UNBATCHED = 2**22
"""Without `batch_size`, at most this many nodes are evaluated at once (4,194,304)."""
MAX_TABLE_ENTRIES = 2**21
"""A deterministic rule's nodes are a compile-time constant up to this many numbers (d x nodes)."""


def nodes_at(
    rule: AbstractRule, indices: Int[Array, " b"], dim: int, dtype, key: PRNGKeyArray | None
) -> tuple[Float[Array, "b dim"], Float[Array, " b"]]:
    """The nodes and weights of `rule` at `indices`; the key only for a random rule."""
    if isinstance(rule, AbstractDeterministicRule):
        return jax.vmap(lambda i: rule.node(i, dim, dtype))(indices)
    return jax.vmap(lambda i: rule.node(i, dim, dtype, key))(indices)


def reduce_nodes(
    summarise: Callable[[Float[Array, "b r"], Float[Array, " b"]], PyTree],
    combine: Callable[[PyTree, PyTree], PyTree],
    rule: AbstractRule,
    dim: int,
    dtype,
    key: PRNGKeyArray | None,
    batch_size: int | None,
    progress: "tuple[AbstractProgress, str] | None" = None,
) -> PyTree:
    """`summarise(nodes, weights)` over all nodes of `rule`, chunk by chunk with `batch_size`,
    the chunks' summaries merged by the associative `combine`.

    With `batch_size`, the nodes are generated and summarised `batch_size` at a time inside a
    `lax.scan` whose body is rematerialised (`jax.checkpoint`), so neither the result nor its
    reverse-mode gradient holds more than one chunk of nodes in memory. The last chunk is
    padded with copies of the last node of weight zero: `summarise` must ignore such nodes.

    `progress` = (reporter, description) reports each chunk as it is done, forward and backward
    (see `_progress/_meter.py`); without `batch_size` the whole rule is one chunk.
    """
    num_nodes = rule.num_nodes(dim)

    def chunk(indices, weight_mask):
        nodes, weights = nodes_at(rule, indices, dim, dtype, key)
        return summarise(nodes, weights * weight_mask)

    if batch_size is None or batch_size >= num_nodes:
        if _has_fixed_table(rule, num_nodes, dim):
            table = fixed_table(rule, dim, jnp.dtype(dtype).name)

            def whole():
                return summarise(*table)
        elif isinstance(rule, AdaptedDeterministic) and _has_fixed_table(rule.rule, num_nodes, dim):
            table = fixed_table(rule.rule, dim, jnp.dtype(dtype).name)

            def whole():
                return summarise(*jax.vmap(rule.adaptation.apply)(*table))
        else:
            # the barrier keeps XLA from folding the whole node table into the program at
            # compile time (minutes for a large grid): the nodes are made at run time
            indices = jax.lax.optimization_barrier(jnp.arange(num_nodes, dtype=jnp.int32))

            def whole():
                return summarise(*nodes_at(rule, indices, dim, dtype, key))

        if progress is None:
            return whole()
        meter = Meter(*progress, num_chunks=1)
        first, _ = meter.watch(whole)
        return meter.finish(first(), [])

    num_chunks = -(-num_nodes // batch_size)
    if progress is None:
        meter, first_chunk, later_chunk = None, chunk, chunk
    else:
        meter = Meter(*progress, num_chunks=num_chunks)
        examples = (jnp.zeros(batch_size, jnp.int32), jnp.ones((), dtype))
        first_chunk, later_chunk = meter.watch(chunk, *examples)

    def chunk_number(number):
        indices = number * batch_size + jnp.arange(batch_size, dtype=jnp.int32)
        in_range = indices < num_nodes
        args = (jnp.minimum(indices, num_nodes - 1), in_range.astype(dtype))
        return later_chunk(*args) if meter is None else later_chunk(*args, number=number)

    @jax.checkpoint
    def add_chunk(total, number):
        return combine(total, chunk_number(number)), None

    def add_and_report(total, number):
        tick = meter.during(number)  # outside the checkpoint: the backward does not replay it
        total, _ = add_chunk(total, number)
        return total, tick

    first_indices = jax.lax.optimization_barrier(jnp.arange(batch_size, dtype=jnp.int32))
    first = first_chunk(first_indices, jnp.ones((), dtype))
    if meter is None:
        total, _ = jax.lax.scan(add_chunk, first, jnp.arange(1, num_chunks, dtype=jnp.int32))
        return total
    first_tick = meter.done(0, first)
    total, ticks = jax.lax.scan(add_and_report, first, jnp.arange(1, num_chunks, dtype=jnp.int32))
    return meter.finish(total, [first_tick, ticks])


def weighted_sum(
    g: Callable[[Float[Array, " r"]], PyTree],
    rule: AbstractRule,
    dim: int,
    dtype,
    key: PRNGKeyArray | None,
    batch_size: int | None,
    progress: "tuple[AbstractProgress, str] | None" = None,
) -> PyTree:
    r"""$\sum_i w_i\, g(\xi_i)$ over the nodes of `rule` in `dim` dimensions."""

    def summarise(nodes, weights):
        values = jax.vmap(g)(nodes)
        return jax.tree.map(lambda v: jnp.tensordot(weights, as_floating(v, dtype), 1), values)

    def add(a, b):
        return jax.tree.map(jnp.add, a, b)

    return reduce_nodes(summarise, add, rule, dim, dtype, key, batch_size, progress)


def _has_fixed_table(rule: AbstractRule, num_nodes: int, dim: int) -> bool:
    no_arrays = not jax.tree.leaves(eqx.filter(rule, eqx.is_array))
    return (
        isinstance(rule, AbstractDeterministicRule)
        and no_arrays
        and num_nodes * dim <= MAX_TABLE_ENTRIES
    )


@functools.lru_cache(maxsize=16)
def fixed_table(
    rule: AbstractDeterministicRule, dim: int, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """All nodes and weights of a deterministic rule, computed once per (rule, dim, dtype).

    Used without `batch_size`: the table enters the compiled program as a constant, as a
    hand-written grid would, instead of being rebuilt from the node indices on every call.
    """
    table = rule.table(dim)
    if table is not None:
        nodes, weights = table
        return nodes.astype(dtype), weights.astype(dtype)
    indices = np.arange(rule.num_nodes(dim), dtype=np.int32)
    jitted = jax.jit(lambda i: nodes_at(rule, i, dim, dtype, None))
    nodes, weights = jitted.lower(indices).compile()(indices)  # runs now, also under an outer jit
    return np.asarray(nodes), np.asarray(weights)


def as_floating(value: Array, dtype) -> Array:
    value = jnp.asarray(value)
    return value if jnp.issubdtype(value.dtype, jnp.inexact) else value.astype(dtype)
