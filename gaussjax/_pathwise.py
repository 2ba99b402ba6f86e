"""Clear errors where the pathwise estimator cannot work: f a black box, or f piecewise constant.

The pathwise gradient differentiates f. Two kinds of f defeat it, and both can be told from f's
JVP jaxpr at trace time, only when mean or the covariance is actually differentiated:

- f calls `jax.pure_callback`, which has no JVP: JAX's own error does not say what to do.
- f depends on x only through operations with zero derivative (comparisons, rounding, casts to
  int or bool, `stop_gradient`): the pathwise gradient is then exactly zero for every x,
  although dZ/dmean is not. `jax.grad` would silently return zeros.

Both raise a ValueError that names `estimator="score"`, which never differentiates f.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.extend.core import Var
from jaxtyping import Array, Float

CALLBACK_ERROR = "do not support JVP"


def callback_message(caller: str) -> str:
    return (
        f"{caller}: f calls jax.pure_callback (a black box), which estimator='pathwise' cannot "
        "differentiate. Pass estimator='score', which never differentiates f."
    )


def guard_pathwise(
    f: Callable, mean: Float[Array, " n"], factor: Float[Array, "n r"], caller: str
) -> tuple[Float[Array, " n"], Float[Array, "n r"]]:
    """(mean, factor) unchanged; differentiating them raises where f defeats pathwise."""

    @jax.custom_jvp
    def identity(mean, factor):
        return mean, factor

    def identity_jvp(primals, tangents):
        if not all(isinstance(t, SymbolicZero) for t in tangents):
            message = _pathwise_problem(f, primals[0], caller)
            if message is not None:
                raise ValueError(message)
        return primals, tangents  # symbolic zeros stay symbolic

    identity.defjvp(identity_jvp, symbolic_zeros=True)
    return identity(mean, factor)


def _pathwise_problem(f: Callable, mean: Array, caller: str) -> str | None:
    point = jax.ShapeDtypeStruct(mean.shape, mean.dtype)
    try:
        jaxpr = jax.make_jaxpr(lambda x, t: jax.jvp(f, (x,), (t,)))(point, point).jaxpr
    except ValueError as error:
        return callback_message(caller) if CALLBACK_ERROR in str(error) else None
    except Exception:  # f cannot be re-traced here (e.g. it holds values of an outer trace)
        return None
    half = len(jaxpr.outvars) // 2
    primal_depends = _depends_on(jaxpr, 0)[:half]
    tangent_depends = _depends_on(jaxpr, 1)[half:]
    outputs = zip(jaxpr.outvars[:half], primal_depends, tangent_depends, strict=True)
    candidates = [
        tangent
        for var, primal, tangent in outputs
        if primal and _differentiable_or_bool(var.aval.dtype)
    ]
    if candidates and not any(candidates):
        return (
            f"{caller}: f depends on x only through operations whose derivative is zero "
            "(comparisons, rounding, casts to int or bool, stop_gradient), so the pathwise "
            "gradient would be zero for every x although dZ/dmean is not. Pass "
            "estimator='score', which differentiates the Gaussian's density instead of f."
        )
    return None


def _depends_on(jaxpr, invar_index: int) -> list[bool]:
    """For each output of `jaxpr`, whether it may depend on input `invar_index` (an over-
    approximation: every output of an equation depends on all of its inputs)."""
    reached = {jaxpr.invars[invar_index]}
    for equation in jaxpr.eqns:
        if any(isinstance(v, Var) and v in reached for v in equation.invars):
            reached.update(equation.outvars)
    return [isinstance(v, Var) and v in reached for v in jaxpr.outvars]


def _differentiable_or_bool(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.inexact) or dtype == jnp.bool_
