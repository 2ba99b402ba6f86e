"""How derivatives flow back through a rule: the estimators of dZ/dmean and dZ/dcov."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._pathwise import CALLBACK_ERROR, callback_message, guard_pathwise
from ._rules import AbstractRule
from ._rules._base import PyTree
from ._score import score_integral
from ._weighted_sum import weighted_sum

ESTIMATORS = ("pathwise", "score")


class AbstractEstimator(eqx.Module):
    """How `gj.expectation` differentiates $Z = E[f(x)]$ in mean and covariance."""


class Pathwise(AbstractEstimator):
    r"""Differentiate through f (reparameterisation): $dZ/d\mu = E[\nabla f]$ (Bonnet),
    $dZ/d\Sigma = \frac12 E[\nabla^2 f]$ (Price). `estimator="pathwise"` is `gj.Pathwise()`.

    The exact derivative of the rule's approximation, with low variance; wrong for an f with
    jumps (its derivative is zero almost everywhere), impossible for a black-box f.

    Example:
        >>> import gaussjax as gj
        >>> gj.Pathwise()
        Pathwise()
    """


class Score(AbstractEstimator):
    r"""The score-function (likelihood-ratio) estimator; f is never differentiated.

    With $\Sigma = L L^\top$ (L of shape (n, r), rank n) and $x = \mu + L\xi$:

    $$\frac{dZ}{d\mu} = E[(f(x) - c)\, L^{-\top}\xi], \qquad
      \frac{dZ}{d\Sigma} = \tfrac12 L^{-\top} E[(f(x) - c)(\xi\xi^\top - I)] L^{-1},$$

    computed on the rule's nodes; higher derivatives are score estimates too. The baseline c
    (default) is the rule's own value of Z, and for random rules the leave-one-out mean of the
    other samples, which keeps the estimate unbiased for `MonteCarlo`; `baseline=False` uses c = 0.
    Parameters that f closes over get ordinary pathwise derivatives.
    `estimator="score"` is `gj.Score()`.

    Args:
        baseline: subtract the baseline c (True) or not (False).

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> step = lambda x: (x[0] > 0.0).astype(x.dtype)    # E = Phi(mu), dE/dmu = phi(mu)
        >>> grad = jax.grad(lambda m: gj.expectation(step, m, jnp.eye(1), estimator="score",
        ...                                          rule=gj.GaussHermite(order=30)))
        >>> round(float(grad(jnp.zeros(1))[0]), 2)           # 1 / sqrt(2 pi) = 0.3989...
        0.4
    """

    baseline: bool = eqx.field(default=True, static=True)


def resolve_estimator(estimator, caller: str) -> AbstractEstimator:
    """ "pathwise" / "score" / an estimator object -> the estimator object, or a clear error."""
    if isinstance(estimator, AbstractEstimator):
        return estimator
    if isinstance(estimator, str) and estimator in ESTIMATORS:
        return Pathwise() if estimator == "pathwise" else Score()
    raise ValueError(
        f"{caller}: estimator must be one of {', '.join(map(repr, ESTIMATORS))} (or "
        f"gj.Pathwise() / gj.Score(baseline=...)), got {estimator!r}."
    )


def integrate(
    f: Callable[[Float[Array, " n"]], PyTree],
    mean: Float[Array, " n"],
    factor: Float[Array, "n r"],
    rule: AbstractRule,
    *,
    estimator: "str | AbstractEstimator",
    key: PRNGKeyArray | None,
    batch_size: int | None,
    caller: str = "gj.expectation",
) -> PyTree:
    r"""$\sum_i w_i f(\mu + L \xi_i)$, differentiable in mean and factor by `estimator`.

    pathwise: autodiff through the sum, i.e. $dZ/d\mu \approx \sum_i w_i \nabla f(x_i)$ (Bonnet)
    and $dZ/d\Sigma \approx \frac12 \sum_i w_i \nabla^2 f(x_i)$ (Price) for an exact rule: the
    exact derivative of the rule's approximation; a clear error where f is a black box or
    piecewise constant (see `_pathwise.py`). score: see `gj.Score`.
    """
    estimator = resolve_estimator(estimator, caller)
    if isinstance(estimator, Score):
        return score_integral(
            f, mean, factor, rule, key=key, batch_size=batch_size, baseline=estimator.baseline
        )
    mean, factor = guard_pathwise(f, mean, factor, caller)
    try:
        return weighted_sum(
            lambda xi: f(mean + factor @ xi), rule, factor.shape[1], mean.dtype, key, batch_size
        )
    except ValueError as error:
        if CALLBACK_ERROR not in str(error):
            raise
        raise ValueError(callback_message(caller)) from error


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


def check_score_rank(estimator: AbstractEstimator, factor: Float[Array, "n r"], caller: str):
    r"""The score estimator needs a density: a factor with at least as many columns as rows.

    For `cov_factor` L of shape (n, r), r < n, x lies on the affine subspace $\mu + $ range(L).
    The score estimator sees f only there: it estimates the derivatives along $d\mu = L a$,
    $dL = L B$ (those are $E[f\, \xi^\top a]$ and $E[f(\xi^\top B \xi - \mathrm{tr} B)]$), but
    not the ones that move the subspace, which depend on f off it, where the Gaussian has no
    mass and no likelihood ratio exists. So that no partial gradient is returned as if whole,
    this is an error.
    """
    n, r = factor.shape
    if isinstance(estimator, Score) and r < n:
        raise ValueError(
            f"{caller}: estimator='score' needs a Gaussian with a density on R^{n}, but "
            f"cov_factor has shape ({n}, {r}) with rank at most {r} < {n}: derivatives that move "
            "the subspace mean + range(cov_factor) depend on f off it, which no likelihood ratio "
            "sees. Pass cov=cov_factor @ cov_factor.T + eps * I (a density), or, for the "
            "derivatives within the subspace, differentiate in (a, B) of gj.expectation(lambda "
            f"z: f(mean + cov_factor @ z), a, scale_tril=I + B) with z in R^{r}, or use "
            "estimator='pathwise' for a differentiable f."
        )
