"""Many Gaussians at once: a sum under `jax.vmap` taken a slice of the batch at a time.

`jax.vmap` of `gj.expectation` over B Gaussians evaluates f at B x (nodes per Gaussian) points,
and a reverse-mode derivative keeps what f's derivative needs at each of them. Where that would
be more than `MAX_BYTES_AT_ONCE` (about 1 GiB), or more than `batch_size` points when it is
given, the sum runs over slices of the batch, one after another (`jax.lax.map`), each slice
recomputed in the backward pass (`jax.checkpoint`): only one slice's points are held at a time.
A smaller batch is vectorised whole, and so is the value (not differentiated in reverse mode) of
an f that gaussjax calls once per node (`_weighted_sum.unrolled_total`), which stores nothing
per point.

Slices cost time on a CPU: XLA runs the body of a loop on one core, so on this project's 2-core
machine a sliced gradient took about 2x as long as the whole batch's (docs/performance.md).
Hence the high limit: 10^6 one-dimensional Gaussians of 20 nodes, and 10^5 four-dimensional
ones of 81, are summed whole.

Only `jax.vmap` knows the batch's size: the sum is a `custom_vmap` function, whose batching rule
receives it. Its inputs are every array the sum reads, f's closure included (a likelihood's
labels, batched like the means: f is traced into an `Integrand`, whose closed-over values are
pytree leaves). `custom_vmap` cannot be differentiated itself, so it is used
only where `jax.vmap` is the transformation being traced: its rule then runs under any `grad`
or `jit` around the `vmap`, and what the rule does is differentiated as usual.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from ._integrand import Integrand, trace

try:
    from jax._src.core import no_axis_name as _NO_AXIS_NAME
    from jax._src.core import trace_ctx as _trace_context
    from jax._src.interpreters.batching import BatchTrace as _BatchTrace
    from jax._src.interpreters.batching import BatchTracer as _BatchTracer
except ImportError:  # pragma: no cover - another JAX: the batch is vectorised whole
    _trace_context = _BatchTrace = _BatchTracer = _NO_AXIS_NAME = None

MAX_BYTES_AT_ONCE = 2**30
"""Without `batch_size`, a `jax.vmap` over many Gaussians is summed whole while its points
would need at most this many bytes (`bytes_per_point`); beyond it, a slice at a time."""


def bytes_per_point(dim: int, dtype, stores_points: bool = True) -> int:
    """What a sum keeps per point in reverse mode, about: 2 dim + 2 numbers (the point, what f's
    derivative needs there, f's value and its weight), or dim + 1 for an f called once per node
    (the point is made column by column). Measured in float64 (benchmarks/batch_slices.py):
    15 bytes in one dimension (an elementwise f, 20 nodes), 79 in four (f with a dot product,
    81 nodes)."""
    numbers = 2 * dim + 2 if stores_points else dim + 1
    return jnp.dtype(dtype).itemsize * numbers


def batched(tree) -> bool:
    """Whether any leaf of `tree` (a Gaussian's shift and factor) is batched by `jax.vmap`."""
    leaves = jax.tree.leaves(tree)
    return _BatchTracer is not None and any(isinstance(leaf, _BatchTracer) for leaf in leaves)


def traced(g: Callable, point) -> "Integrand | None":
    """g as data (an `Integrand`: its program at one point like `point`, and every value it
    closes over, traced ones such as a batched label included, as pytree leaves), or None where
    g cannot be traced (its own error then surfaces in the call itself)."""
    try:
        return trace(g, jax.ShapeDtypeStruct(point.shape, point.dtype))[0]
    except Exception:  # noqa: BLE001
        return None


def innermost_is_vmap() -> bool:
    """Whether the transformation being traced is a `jax.vmap` (without an axis name, which f
    might use for collectives across the batch)."""
    if _BatchTrace is None:
        return False
    trace = _trace_context.trace
    return isinstance(trace, _BatchTrace) and trace.axis_data.name is _NO_AXIS_NAME


def in_slices(
    total: Callable,
    g: "Integrand",
    point,
    inputs,
    points_each: int,
    batch_size: int | None,
    per_node: tuple[bool, bool],
):
    """`total(inputs, g, by_node)`, the sum for one Gaussian, under the innermost `jax.vmap`:
    over the whole batch, or a slice at a time where the sum stores its points (g is not called
    once per node) or is differentiated in reverse mode, and batch x `points_each` points are
    more than `batch_size` or would need more than `MAX_BYTES_AT_ONCE`. `per_node` says whether
    g is called once per node (`by_node`) for the value and in reverse mode. g is `traced`, so
    that everything it reads is an input of the `custom_vmap` function; `point` is one point
    (an array)."""
    dynamic, static = eqx.partition((inputs, g), eqx.is_array)

    def one(dynamic, by_node):
        return total(*eqx.combine(dynamic, static), by_node)

    @custom_vmap
    def summed(dynamic):
        return one(dynamic, per_node[0])

    @summed.def_vmap
    def summed_in_slices(axis_size, in_batched, dynamic):
        (in_batched,) = in_batched  # one flag per leaf of `dynamic`, its only argument
        reverse = _reverse_mode()
        by_node = per_node[reverse]
        if batch_size is None:
            point_bytes = bytes_per_point(point.shape[0], point.dtype, not by_node)
            at_once = MAX_BYTES_AT_ONCE // point_bytes
        else:
            at_once = batch_size
        per_slice = max(1, at_once // points_each)
        if per_slice >= axis_size or by_node and not reverse:
            in_axes = jax.tree.map(lambda batched: 0 if batched else None, in_batched)
            out = jax.vmap(lambda d: one(d, by_node), in_axes=(in_axes,))(dynamic)
        else:
            batched, shared = eqx.partition(dynamic, in_batched)
            member = jax.checkpoint(lambda batched: one(eqx.combine(batched, shared), by_node))
            out = jax.lax.map(member, batched, batch_size=per_slice)
        return out, jax.tree.map(lambda _: True, out)

    return summed(dynamic)


def _reverse_mode() -> bool:
    """Whether the values now traced are being linearised (`jax.grad`, `jax.vjp`,
    `jax.linearize`), whose derivative keeps what each point needs; outer `jax.vmap`s between
    (a batch of batches) are looked through."""
    trace = _trace_context.trace
    while isinstance(trace, _BatchTrace):
        trace = getattr(trace, "parent_trace", None)
    return type(trace).__name__ == "LinearizeTrace"
