"""How derivatives flow back through a rule: the estimators of dZ/dmean and dZ/dcov."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._rules import AbstractRule
from ._rules._base import PyTree
from ._weighted_sum import weighted_sum

ESTIMATORS = ("pathwise",)


def check_estimator(estimator: str, caller: str) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"{caller}: estimator must be one of {', '.join(map(repr, ESTIMATORS))}, "
            f"got {estimator!r}."
        )


def integrate(
    f: Callable[[Float[Array, " n"]], PyTree],
    mean: Float[Array, " n"],
    factor: Float[Array, "n r"],
    rule: AbstractRule,
    *,
    estimator: str,
    key: PRNGKeyArray | None,
    batch_size: int | None,
) -> PyTree:
    r"""$\sum_i w_i f(\mu + L \xi_i)$, differentiable in mean and factor by `estimator`.

    pathwise: autodiff through the sum, i.e. $dZ/d\mu \approx \sum_i w_i \nabla f(x_i)$ (Bonnet)
    and $dZ/d\Sigma \approx \frac12 \sum_i w_i \nabla^2 f(x_i)$ (Price) for an exact rule: the
    exact derivative of the rule's approximation.
    """
    del estimator
    return weighted_sum(
        lambda xi: f(mean + factor @ xi), rule, factor.shape[1], mean.dtype, key, batch_size
    )


def check_integrand(f, mean: Float[Array, " n"], caller: str) -> None:
    """f must be callable and map one point of shape (n,) to a non-empty pytree of arrays."""
    if not callable(f):
        raise TypeError(f"{caller}: f must be a callable x -> f(x), got {type(f).__name__}.")

    try:
        shapes = jax.eval_shape(f, jax.ShapeDtypeStruct(mean.shape, mean.dtype))
    except TypeError as error:
        if "not a valid JAX type" not in str(error):
            raise
        raise TypeError(
            f"{caller}: f must return an array or a pytree of arrays for a point x of shape "
            f"{mean.shape}; it returned something else ({error})."
        ) from error
    leaves = jax.tree.leaves(shapes)
    if not leaves or not all(_is_numeric(leaf.dtype) for leaf in leaves):
        raise TypeError(
            f"{caller}: f must return a number, an array or a pytree of numeric arrays for a "
            f"point x of shape {mean.shape}; it returned {shapes}."
        )


def _is_numeric(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.number) or dtype == jnp.bool_
