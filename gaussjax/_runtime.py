"""Errors that depend on values: a `ValueError` where the values are known, a run-time error
under `jit` and `vmap`.

- Where the checked values are known when the check runs (an eager call, and also an eager
  `jax.grad`, `jax.jvp` or `jax.hessian`, whose primal values are concrete), the check raises a
  plain `ValueError` at once, with the numbers in its message.
- Where they are traced (inside `jax.jit`, `jax.vmap`, `lax.scan`, ...), the check becomes part
  of the compiled program: a `lax.cond` that calls back to Python only when it fails, and raises
  the same `ValueError` there. JAX reports it as a `jax.errors.JaxRuntimeError` (`RUNTIME_ERROR`)
  whose message ends with ``ValueError: <the message>``, numbers rounded to a decade. No NaN is
  ever returned instead. (JAX logs every failed callback with its traceback; a filter on its
  logger drops these records for gaussjax's own checks, which the exception already reports.)

The checked value must be used afterwards, or the check is compiled away. Where only a
derivative of it is used (`jit(grad(...))` of a result, `hessian` in an input that enters
linearly), the derivative is multiplied by a one computed from the checked value, so the check
stays in the program.
"""

import functools
import logging

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


def check(value, failed: Bool[ArrayLike, "..."], message: str, detail=None):
    """`value`, or an error with `message` where `failed` holds anywhere. `detail()`, called
    only when the failure is known at once, adds to the message (e.g. where it happened)."""
    now = _failed_now(failed)
    if now is not None:
        if now:
            raise ValueError(message + ("" if detail is None else detail()))
        return value
    return _raise_if(value, _any(failed), jnp.zeros((), jnp.int32), (message,))


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
    return _raise_if(value, _any(failed), _decade(number), _decade_messages(template))


def _any(failed) -> Bool[ArrayLike, ""]:
    return jnp.any(jnp.asarray(failed))


def _decade(number):
    magnitude = jnp.log10(jnp.maximum(jnp.abs(jnp.asarray(number, float)), 1e-300))
    index = jnp.clip(jnp.round(magnitude), DECADES[0], DECADES[-1]).astype(jnp.int32)
    return jnp.where(jnp.isfinite(magnitude), index - DECADES[0], len(DECADES) - 1)


@functools.cache
def _decade_messages(template: str) -> tuple[str, ...]:
    return tuple(template.format(f"about 1e{decade:+03d}") for decade in DECADES)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _raise_if(value, failed, index, messages: tuple[str, ...]):
    """`value`; at run time a ValueError with `messages[index]` where `failed` (a scalar) holds,
    in any member of a `vmap` batch."""
    failed = eqxi.unvmap_any(failed)
    index = eqxi.unvmap_max(index)
    shapes = jax.eval_shape(lambda: value)

    def fail(value, index):
        def raise_error(index):
            raise _CheckFailed(messages[int(index)])

        return jax.pure_callback(raise_error, shapes, index)

    return lax.cond(failed, fail, lambda value, index: value, value, index)


@_raise_if.defjvp
def _raise_if_jvp(messages, primals, tangents):
    value, failed, index = primals
    checked = _raise_if(value, failed, index, messages)
    # the tangent is scaled by a one that only the checked value gives: no derivative of the
    # value is computed without the check
    return checked, jax.tree.map(_times_one_from, tangents[0], checked)


def _times_one_from(tangent, checked):
    if type(tangent).__name__ == "SymbolicZero" or not jnp.issubdtype(
        jnp.result_type(checked), jnp.inexact
    ):
        return tangent
    one = 1 + 0 * checked
    return tangent * one.astype(tangent.dtype)
