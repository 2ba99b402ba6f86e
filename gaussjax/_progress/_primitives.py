"""The three primitives behind progress: `_first_p` (a probe of data), `_tick_p` (a zero that
calls back) and `_tap_p` (an identity whose transpose calls back). See `_meter.py`."""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import core as jax_core
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from .._rules._base import PyTree


def probe(after: PyTree | None) -> tuple:
    """() or (one number of `after`, unbatched): a callback given it runs after `after`."""
    leaves = [leaf for leaf in jax.tree.leaves(after) if jnp.size(leaf) > 0]
    return () if not leaves else (_first_p.bind(jax.lax.stop_gradient(leaves[0])),)


# ---- _first_p: x.ravel()[0], unbatched under vmap (the first member of the batch) ----------

_first_p = Primitive("gaussjax_first_element")


def _first(x):
    return jnp.ravel(x)[0]


_first_p.def_impl(_first)
_first_p.def_abstract_eval(lambda x: jax_core.ShapedArray((), x.dtype))
mlir.register_lowering(_first_p, mlir.lower_fun(_first, multiple_results=False))


def _first_batch(args, dims):
    (x,), (dim,) = args, dims
    return _first_p.bind(jnp.take(x, 0, axis=dim)), None


batching.primitive_batchers[_first_p] = _first_batch


# ---- _tick_p: a zero (float32) whose computation calls `report` ------------------------------
#
# Not an effect to JAX, so JAX removes it, with the loop around it, where its zero is not used
# (a forward sum that jit(grad(...)) does not need); lowered to a side-effecting host callback,
# so XLA keeps it where it is used and never hoists it out of its loop. Its operand (one number
# of the data it follows) ties it to that data: with `follow` it is passed to the callback, so
# that XLA calls it after the data exists; without, the callback takes no arguments (inside a
# loop the iterations keep the order) and costs least. The callback is bare, not
# jax.debug.callback, whose device_put of the arguments and context managers cost more per call
# than a chunk of 65,536 nodes can hide.

_tick_p = Primitive("gaussjax_progress_tick")


def tick(report: Callable[[], None], after: PyTree, follow: bool) -> jax.Array:
    """A zero (float32) whose computation calls `report()`, after `after` if `follow`."""
    return _tick_p.bind(*probe(after), report=report, follow=follow)


def _tick_impl(*operands, report, follow):
    del follow
    jax.block_until_ready(operands)
    report()
    return jnp.zeros((), jnp.float32)


def _tick_lowering(ctx, *operands, report, follow):
    def callback(*_operands):
        report()
        return ()

    passed = list(operands) if follow else []
    avals = list(ctx.avals_in) if follow else []
    bare = dataclasses.replace(ctx, avals_in=avals, avals_out=[])
    mlir.emit_python_callback(bare, callback, None, passed, avals, [], has_side_effect=True)
    return [mlir.ir_constant(np.zeros((), np.float32))]


def _tick_batch(args, dims, **params):
    args = [a if d is None else jnp.take(a, 0, axis=d) for a, d in zip(args, dims, strict=True)]
    return _tick_p.bind(*args, **params), None


_tick_p.def_impl(_tick_impl)
_tick_p.def_abstract_eval(lambda *avals, **params: jax_core.ShapedArray((), jnp.float32))
mlir.register_lowering(_tick_p, _tick_lowering)
batching.primitive_batchers[_tick_p] = _tick_batch


# ---- _tap_p: the identity on its leaves; its transpose calls `report` ------------------------

_tap_p = Primitive("gaussjax_progress_tap")
_tap_p.multiple_results = True


def _tap_impl(*leaves, report, follow):
    del report, follow
    return list(leaves)


_tap_p.def_impl(_tap_impl)
_tap_p.def_abstract_eval(lambda *avals, report, follow: list(avals))
mlir.register_lowering(_tap_p, mlir.lower_fun(_tap_impl, multiple_results=True))


def _tap_jvp(primals, tangents, **params):
    tangents = [ad.instantiate_zeros(t) for t in tangents]
    return list(primals), _tap_p.bind(*tangents, **params)


def _tap_transpose(cotangents, *leaves, report, follow):
    if all(type(ct) is ad.Zero for ct in cotangents):  # nothing flows back: no backward work
        return [None] * len(leaves)
    cotangents = [
        jnp.zeros(leaf.aval.shape, leaf.aval.dtype) if type(ct) is ad.Zero else ct
        for ct, leaf in zip(cotangents, leaves, strict=True)
    ]
    if follow:  # an effect: called even where only derivatives of these cotangents are used
        jax.debug.callback(report, *probe(cotangents))
        return cotangents
    zero = tick(report, cotangents, follow=False)  # added to all: kept if one is used
    return [ct + zero.astype(ct.dtype) for ct in cotangents]


def _tap_batch(args, dims, **params):
    return _tap_p.bind(*args, **params), list(dims)


ad.primitive_jvps[_tap_p] = _tap_jvp
ad.primitive_transposes[_tap_p] = _tap_transpose
batching.primitive_batchers[_tap_p] = _tap_batch


def tap(tree: PyTree, report: Callable[..., None], follow: bool) -> PyTree:
    """tree unchanged; where it is differentiated in reverse mode, `report()` is called when its
    cotangent arrives (`follow`: after the cotangent is computed, else at any time in the loop
    iteration that computes it)."""
    leaves, structure = jax.tree.flatten(tree)
    where = [i for i, leaf in enumerate(leaves) if jnp.issubdtype(leaf.dtype, jnp.inexact)]
    if not where:
        return tree
    tapped = _tap_p.bind(*(leaves[i] for i in where), report=report, follow=follow)
    for i, leaf in zip(where, tapped, strict=True):
        leaves[i] = leaf
    return jax.tree.unflatten(structure, leaves)
