"""Errors that depend on values, raised eagerly as ValueError and under jit at run time.

Eagerly (concrete values) the check raises a plain `ValueError` with the numbers in its message.
Under `jit`, `vmap` or `grad` the values are traced: the check becomes part of the program
(`equinox.error_if`), so the compiled call raises at run time too (a `jax.errors.JaxRuntimeError`
or `equinox.EquinoxRuntimeError`, whose message holds the same text, numbers rounded to a decade).
The checked value must be used afterwards, or the check is compiled away.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Bool

DECADES = range(-30, 31)
"""The decades a traced number is reported in (beyond them, the nearest end)."""


def _is_traced(*values) -> bool:
    return any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(values))


def check(value, failed: Bool[ArrayLike, "..."], message: str):
    """`value`, or an error with `message` where `failed` holds anywhere."""
    if not _is_traced(value, failed):
        if np.any(np.asarray(failed)):
            raise ValueError(message)
        return value
    return eqx.error_if(value, jnp.any(failed), message)


def check_number(value, failed: Bool[ArrayLike, "..."], number: ArrayLike, template: str):
    """As `check`, with `template.format(number)` as the message: the number exactly when
    eager, its decade ("1e-05") when traced. `number` is a scalar (e.g. the largest error)."""
    if not _is_traced(value, failed, number):
        if np.any(np.asarray(failed)):
            raise ValueError(template.format(f"{float(number):.3g}"))
        return value
    messages = [template.format(f"about 1e{decade:+03d}") for decade in DECADES]
    magnitude = jnp.log10(jnp.maximum(jnp.abs(jnp.asarray(number, float)), 1e-300))
    index = jnp.clip(jnp.round(magnitude), DECADES[0], DECADES[-1]).astype(int) - DECADES[0]
    index = jnp.where(jnp.isfinite(magnitude), index, len(DECADES) - 1)
    return eqx.branched_error_if(value, jnp.any(failed), index, messages)
