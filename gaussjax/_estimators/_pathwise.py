"""The pathwise (reparameterisation) estimator: differentiate through f.

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
from jaxtyping import Array

from .._rules._base import PyTree
from ._base import AbstractEstimator

CALLBACK_ERROR = "do not support JVP"
CALLBACK_MESSAGE = (
    "f calls jax.pure_callback (a black box), which estimator='pathwise' cannot differentiate. "
    "Pass estimator='score', which never differentiates f."
)


class Pathwise(AbstractEstimator):
    r"""Differentiate through f (reparameterisation): $dZ/d\mu = E[\nabla f]$ (Bonnet),
    $dZ/d\Sigma = \frac12 E[\nabla^2 f]$ (Price). `estimator="pathwise"` is `gj.Pathwise()`.

    $Z \approx \sum_i w_i f(\mu + L\xi_i)$ is differentiated by autodiff: the exact derivative of
    the rule's approximation, with low variance; for an exact rule, $\sum_i w_i \nabla f(x_i)$
    and $\frac12 \sum_i w_i \nabla^2 f(x_i)$. Wrong for an f with jumps (its derivative is zero
    almost everywhere), impossible for a black-box f: both raise a clear error that names
    `estimator="score"`, when mean or covariance is differentiated.

    Example:
        >>> import gaussjax as gj
        >>> gj.Pathwise()
        Pathwise()
    """

    def integrate(self, problem) -> PyTree:
        mean, factor = _guard(problem.f, problem.mean, problem.factor, problem.caller)
        try:
            return problem.weighted_sum(problem.f, at=(mean, factor))
        except ValueError as error:
            if CALLBACK_ERROR not in str(error):
                raise
            raise problem.error(CALLBACK_MESSAGE) from error


def _guard(f: Callable, mean: Array, factor: Array, caller: str) -> tuple[Array, Array]:
    """(mean, factor) unchanged; differentiating them raises where f defeats pathwise."""

    @jax.custom_jvp
    def identity(mean, factor):
        return mean, factor

    def identity_jvp(primals, tangents):
        if not all(isinstance(t, SymbolicZero) for t in tangents):
            message = _pathwise_problem(f, primals[0])
            if message is not None:
                raise ValueError(f"{caller}: {message}")
        return primals, tangents  # symbolic zeros stay symbolic

    identity.defjvp(identity_jvp, symbolic_zeros=True)
    return identity(mean, factor)


def _pathwise_problem(f: Callable, mean: Array) -> str | None:
    point = jax.ShapeDtypeStruct(mean.shape, mean.dtype)
    try:
        jaxpr = jax.make_jaxpr(lambda x, t: jax.jvp(f, (x,), (t,)))(point, point).jaxpr
    except ValueError as error:
        return CALLBACK_MESSAGE if CALLBACK_ERROR in str(error) else None
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
            "f depends on x only through operations whose derivative is zero "
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
