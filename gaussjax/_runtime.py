"""Errors that depend on values: a `ValueError` where the values are known, a run-time error
under `jit` and `vmap`.

- Where the checked values are known when the check runs (an eager call, and also an eager
  `jax.grad`, `jax.jvp` or `jax.hessian`, whose primal values are concrete), the check raises a
  plain `ValueError` at once, with the numbers in its message.
- Where they are traced (inside `jax.jit`, `jax.vmap`, `lax.scan`, ...), the check becomes part
  of the compiled program: a `lax.cond` that calls back to Python only when it fails, and raises
  the same `ValueError` there. JAX reports it as a `jax.errors.JaxRuntimeError` (`RUNTIME_ERROR`)
  whose message ends with ``_CheckFailed: <the message>`` (a `ValueError`), numbers rounded to
  a decade. No NaN is ever returned instead. (JAX logs every failed callback with its
  traceback; a filter on its logger drops these records for gaussjax's own checks, which the
  exception already reports.)

One public call makes one such `lax.cond`, not one per check: the checks traced at the call's
own level (its inputs, f's values, the fit) are collected while it runs and joined into a
single condition on its result, which reports the first that failed (`checked_once`). On a GPU
each `cond` waits for its predicate on the host: five of them made a small Gauss-Hermite call
1.3-1.8x the hand-written grid on an H100, where the program without them ran at 0.6-1.5x
(`benchmarks/checks_cost.py`); one costs one wait. On a CPU, JAX runs a program that holds a
host callback in the calling thread, not on XLA's threads (`benchmarks/synchronous.py` measures
what that costs, and docs/performance.md what the memory allocator has to do with it). Checks
traced inside an inner transformation (a `cond` branch, a `scan` step) keep a `cond` each.

The checked value (for a public call, its result) must be used afterwards, or the check is
compiled away. Where only a derivative of it is used (`jit(grad(...))` of a result, `hessian`
in an input that enters linearly), the derivative is multiplied by a one computed from the
check's outcome (`_after`), so the check stays in the program and needs no more than the
values it reads: under `jit(grad(...))` with `check_finite=False` the value itself is still
not computed.
"""

import dataclasses
import functools
import logging
import threading

import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import ArrayLike, Bool

DECADES = range(-30, 31)
"""The decades a traced number is reported in (beyond them, the nearest end)."""

RUNTIME_ERROR = jax.errors.JaxRuntimeError
"""What a failed check raises when its values are traced (under `jit` or `vmap`)."""


class _CheckFailed(ValueError):
    """Raised inside the compiled program's callback; JAX re-raises it as RUNTIME_ERROR."""


class _QuietChecks(logging.Filter):
    """Drops JAX's log record of a failed callback where the failure is a gaussjax check."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _CheckFailed))


logging.getLogger("jax._src.callback").addFilter(_QuietChecks())


def known(value) -> list[np.ndarray] | None:
    """The leaves of `value` as NumPy arrays where they are known now (concrete arrays, or the
    primal values of an eager `grad`/`jvp`), else None."""
    arrays = [concrete(leaf) for leaf in jax.tree.leaves(value)]
    return None if any(a is None for a in arrays) else [np.asarray(a) for a in arrays]


def concrete(leaf):
    """`leaf` itself, or a traced leaf's known value (an eager `grad`'s primal), or None."""
    if not isinstance(leaf, jax.core.Tracer):
        return leaf
    try:
        from jax._src.core import to_concrete_value
    except ImportError:  # pragma: no cover - an older or newer JAX: use the traced check
        return None
    try:
        return to_concrete_value(leaf)
    except Exception:  # pragma: no cover
        return None


def _failed_now(failed) -> bool | None:
    values = known(failed)
    return None if values is None else bool(any(np.any(v) for v in values))


try:
    from jax._src.core import trace_ctx as _trace_context
except ImportError:  # pragma: no cover - another JAX: every check keeps its own cond
    _trace_context = None


@dataclasses.dataclass
class _Pending:
    """The traced checks of one public call, at the call's own trace, not yet in the program:
    (scalar flag, message index, messages) each, in the order they were made."""

    trace: object
    checks: list = dataclasses.field(default_factory=list)


class _Calls(threading.local):
    """The public calls being traced in this thread, innermost last."""

    def __init__(self):
        self.pending: list[_Pending] = []


_CALLS = _Calls()


def _current_trace():
    return None if _trace_context is None else _trace_context.trace


def checked_once(function):
    """`function` with the traced checks it makes at its own level joined into one `cond` on
    its result (the first that failed is reported)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        pending = _Pending(_current_trace())
        _CALLS.pending.append(pending)
        try:
            result = function(*args, **kwargs)
        finally:
            _CALLS.pending.remove(pending)
        if not pending.checks:
            return result
        messages, offsets = (), []
        for _, _, group in pending.checks:  # one tuple of messages, indexed across groups
            offsets.append(len(messages))
            messages += group
        # the first check that failed, in the order they were made; in a vmap batch, the first
        # over every member that failed: _verdict keeps the largest rank, so count backwards
        # (rank 0: none failed); one elementwise expression, fused by XLA
        rank = jnp.zeros((), jnp.int32)
        for (flag, index, _), offset in zip(pending.checks[::-1], offsets[::-1]):
            rank = jnp.where(flag, len(messages) - offset - index, rank)
        backwards = ("",) + messages[::-1]  # backwards[rank] is messages[len - rank]
        return _after(result, _verdict(rank, backwards))

    return wrapper


def _defer(failed, index, messages: tuple[str, ...]) -> bool:
    """Add a traced check to the innermost public call's pending checks, where it was made at
    that call's own trace; else False (the check makes its own cond)."""
    if not _CALLS.pending or _CALLS.pending[-1].trace is None:
        return False
    pending = _CALLS.pending[-1]
    if _current_trace() is not pending.trace:
        return False
    pending.checks.append((failed, jnp.asarray(index, jnp.int32), messages))
    return True


def check(value, failed: Bool[ArrayLike, "..."], message: str, detail=None):
    """`value`, or an error with `message` where `failed` holds anywhere. `detail()`, called
    only when the failure is known at once, adds to the message (e.g. where it happened)."""
    now = _failed_now(failed)
    if now is not None:
        if now:
            raise ValueError(message + ("" if detail is None else detail()))
        return value
    return _in_program(value, failed, jnp.zeros((), jnp.int32), (message,))


def check_number(value, failed: Bool[ArrayLike, "..."], number: ArrayLike, template: str):
    """As `check`, with `template.format(number)` as the message: the number exactly when
    known, its decade ("about 1e-05") when traced. `number` is a scalar (e.g. the largest
    error)."""
    now = _failed_now(failed)
    if now is not None:
        if now:
            number = known(number)
            shown = "?" if number is None else f"{float(number[0]):.3g}"
            raise ValueError(template.format(shown))
        return value
    return _in_program(value, failed, _decade(number), _decade_messages(template))


def _in_program(value, failed, index, messages: tuple[str, ...]):
    """A traced check: joined to the enclosing public call's one `cond` where it was made at
    that call's level, else a `cond` of its own that `value` is made to depend on."""
    failed = jnp.any(jnp.asarray(failed))
    if _defer(failed, index, messages):
        return value
    return _after(value, _verdict(jnp.where(failed, index + 1, 0), ("",) + messages))


def _decade(number):
    magnitude = jnp.log10(jnp.maximum(jnp.abs(jnp.asarray(number, float)), 1e-300))
    index = jnp.clip(jnp.round(magnitude), DECADES[0], DECADES[-1]).astype(jnp.int32)
    return jnp.where(jnp.isfinite(magnitude), index - DECADES[0], len(DECADES) - 1)


@functools.cache
def _decade_messages(template: str) -> tuple[str, ...]:
    return tuple(template.format(f"about 1e{decade:+03d}") for decade in DECADES)


def _verdict(rank, messages: tuple[str, ...]) -> jax.Array:
    """A zero; at run time a ValueError with `messages[rank]` where `rank` (a scalar, 0 where
    nothing failed) is above zero. Over a `vmap` batch, the largest rank: members that passed
    add nothing to the message, and one reduction over the batch finds both whether and what
    failed."""
    index = eqxi.unvmap_max(rank)

    def fail(index):
        def raise_error(index):
            raise _CheckFailed(messages[int(index)])

        return jax.pure_callback(raise_error, jax.ShapeDtypeStruct((), jnp.float32), index)

    return lax.cond(index > 0, fail, lambda index: jnp.zeros((), jnp.float32), index)


@jax.custom_jvp
def _after(tree, token):
    """`tree`, made to depend on `token` (the zero a check's `cond` returns), and where only
    derivatives of `tree` are used, its tangents too: the check stays in the program, and
    needs no more of `tree` than it reads (under `jit(grad(...))`, not the value itself)."""
    return jax.tree.map(lambda leaf: _plus(leaf, token), tree)


@_after.defjvp
def _after_jvp(primals, tangents):
    (tree, token), (tree_dot, _) = primals, tangents
    scaled = jax.tree.map(lambda leaf, dot: _plus(leaf, token, dot), tree, tree_dot)
    return _after(tree, token), scaled


def _plus(leaf, token, tangent=None):
    """leaf + token (for a boolean leaf, leaf or token), or given the leaf's tangent,
    tangent * (1 + token); the tangent of a leaf that is not floating as it is."""
    dtype = jnp.result_type(leaf)
    if tangent is None:
        if dtype == jnp.bool_:
            return leaf | token.astype(bool)
        return leaf + token.astype(dtype)
    if type(tangent).__name__ == "SymbolicZero" or not jnp.issubdtype(dtype, jnp.inexact):
        return tangent
    return tangent * (1 + token.astype(dtype))
