"""The tolerance a call is asked to meet, checked once at the boundary."""

import equinox as eqx
import jax.numpy as jnp

DEFAULT_RTOL = {8: 1e-6, 4: 1e-4, 2: 1e-2}
"""The plain call's relative tolerance, by the float's size in bytes (float64: 1e-6)."""
DEFAULT_MAX_EVALUATIONS = 10**6
"""The plain call's budget of evaluations of f."""


class Tolerance(eqx.Module):
    r"""Refine the rule until its error estimate is at most `atol + rtol |Z|`, within a budget
    of `max_evaluations` evaluations of f. `may_adapt`: a call that chooses its own rules may
    also try them on the Laplace fit of f N."""

    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_evaluations: int = eqx.field(static=True)
    may_adapt: bool = eqx.field(static=True)

    def bound(self, value):
        """atol + rtol |value|, elementwise."""
        return self.atol + self.rtol * jnp.abs(value)


def resolve_tolerance(rule, rtol, atol, max_evaluations, adapt, dtype, caller: str):
    """The Tolerance of a call, or None for a fixed rule with no tolerance asked for."""
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0
        ):
            raise ValueError(f"{caller}: {name} must be a number >= 0, got {value!r}.")
    if max_evaluations is not None and (
        isinstance(max_evaluations, bool)
        or not isinstance(max_evaluations, int)
        or max_evaluations < 1
    ):
        raise ValueError(
            f"{caller}: max_evaluations must be a positive int, got {max_evaluations!r}."
        )
    if rule is not None and rtol is None and atol is None:
        if max_evaluations is not None:
            raise ValueError(
                f"{caller}: max_evaluations bounds the refinement that rtol= or atol= ask for; "
                f"with rule={rule} and neither, the rule is used as it is. Pass rtol=... too, "
                "or leave max_evaluations out."
            )
        return None
    if rtol is None and atol is None:
        rtol = DEFAULT_RTOL[jnp.dtype(dtype).itemsize]
    return Tolerance(
        rtol=float(rtol or 0.0),
        atol=float(atol or 0.0),
        max_evaluations=max_evaluations or DEFAULT_MAX_EVALUATIONS,
        may_adapt=rule is None and adapt is None,
    )
