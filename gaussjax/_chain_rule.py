"""chain_rule(): every Jacobian between K and Z, and the proof that they contract to jax.grad."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._covariance import COVARIANCE_ARGUMENTS
from ._errors import Estimate
from ._estimators import AbstractEstimator
from ._gradients import z_function
from ._laplace import Laplace
from ._plots import plot_chain_rule
from ._progress import AbstractProgress
from ._rules import AbstractRule
from ._rules._base import PyTree
from ._runtime import checked_once


class ChainRule(eqx.Module):
    r"""The pieces of $dZ/dK$ for $Z(K) = E[f(x)]$, $x \sim N(g(K), h(K))$.

    $$\frac{dZ}{dK_{ij}} = \sum_k \frac{\partial Z}{\partial \mu_k}
        \frac{\partial \mu_k}{\partial K_{ij}} + \sum_{kl} \frac{\partial Z}{\partial \Sigma_{kl}}
        \frac{\partial \Sigma_{kl}}{\partial K_{ij}}$$

    Attributes:
        value: Z, a scalar.
        dZ_dmean: shape (n,).
        dZ_dcov: the gradient in the covariance argument: with `cov_form="cov"` (the default)
            the symmetric $dZ/d\Sigma = \frac12 E[\nabla^2 f]$ of shape (n, n); otherwise the
            gradient in what `cov_fn` returns (L of `scale_tril`, L of `cov_factor`, the
            variances of `cov_diag`), of its shape.
        dmean_dK: shape (n, *K.shape) (`jax.jacrev` order: outputs first); for a pytree K, a
            pytree like K with leaves of shape (n, *leaf.shape).
        dcov_dK: shape (*C.shape, *K.shape) with C what `cov_fn` returns ((n, n, *K.shape) for
            a covariance); for a pytree K, a pytree like K.
        dZ_dK: shape K.shape (a pytree like K), computed by `jax.grad` of the composition K -> Z.
        cov_form: what `cov_fn` returns: "cov", "scale_tril", "cov_factor" or "cov_diag".

    A report from `jax.vmap(gj.chain_rule ...)` over a batch of K holds the batch axes first in
    every field; the properties below then contract each report of the batch.
    """

    value: Float[Array, ""]
    dZ_dmean: Float[Array, " n"]
    dZ_dcov: Array
    dmean_dK: PyTree
    dcov_dK: PyTree
    dZ_dK: PyTree
    cov_form: str = eqx.field(static=True, default="cov")

    @property
    def dZ_dK_through_mean(self) -> PyTree:
        r"""$\sum_k \partial Z/\partial\mu_k\, \partial\mu_k/\partial K$, shaped like K."""
        return self._contract(self.dZ_dmean, self.dmean_dK)

    @property
    def dZ_dK_through_cov(self) -> PyTree:
        r"""$\sum_{kl} \partial Z/\partial\Sigma_{kl}\,\partial\Sigma_{kl}/\partial K$, shaped
        like K (summed over the covariance argument's axes)."""
        return self._contract(self.dZ_dcov, self.dcov_dK)

    @property
    def contraction(self) -> PyTree:
        """The two sums above added: equals `dZ_dK` to rounding."""
        return jax.tree.map(jnp.add, self.dZ_dK_through_mean, self.dZ_dK_through_cov)

    def plot(
        self,
        *,
        labels: "list[str] | None" = None,
        transpose: bool = False,
        annotate: bool | None = None,
        jacobians: bool = True,
    ):
        r"""Heat maps of the chain rule: $dZ/dK$, its part through the mean and its part
        through the covariance on one colour scale, and $d\mu/dK$ as a grid of panels shaped
        like K, one per output $\mu_k$ (all on a second colour scale).

        For a pytree K, one such group of panels per leaf, titled by its path (`K['gain']`).
        A vector leaf is drawn as a row, a scalar leaf as a single cell, and its $d\mu/dK$ as
        one matrix with a row per output. A report of `jax.vmap(gj.chain_rule ...)` over one
        batch axis draws the three parts of $dZ/dK$ for each member, a row each (labelled by
        `labels`), without $d\mu/dK$. Needs matplotlib (`pip install "gaussjax[plots]"`).

        Args:
            labels: for a batch of reports, a label for each member's row.
            transpose: draw each 2-D leaf transposed (its columns as rows): for tall K.
            annotate: write the values in the cells (default: panels of at most 36 cells).
            jacobians: draw $d\mu/dK$ too.

        Returns:
            The matplotlib figure.

        Example:
            >>> import jax, jax.numpy as jnp, gaussjax as gj
            >>> mean_fn, cov_fn = lambda K: K @ jnp.ones(2), lambda K: jnp.eye(3) + K @ K.T
            >>> report = jax.jit(lambda K: gj.chain_rule(lambda x: jnp.sin(x).sum(), mean_fn,
            ...                  cov_fn, K, rule=gj.GaussHermite(order=3)))(jnp.ones((3, 2)))
            >>> fig = report.plot()
            >>> titles = [ax.get_title() for ax in fig.axes if ax.images]  # 3 parts, 3 outputs
            >>> len(titles), titles[1], titles[3]
            (6, 'through the mean', '$\\partial\\mu_{0}/\\partial K$')
            >>> fig.savefig("chain_rule.png")  # doctest: +SKIP
            >>> import matplotlib.pyplot as plt; plt.close(fig)
        """
        return plot_chain_rule(
            self, labels=labels, transpose=transpose, annotate=annotate, jacobians=jacobians
        )

    def dZ_dK_error(self, gradient: Estimate) -> PyTree:
        r"""An error for $dZ/dK$, shaped like K: the errors of `gj.estimate_grad` carried to K
        through the Jacobians, with absolute values (the triangle inequality),

        $$e_{K_{ij}} = \sum_k e_{\mu_k} \left\lvert \frac{\partial \mu_k}{\partial K_{ij}}
            \right\rvert + \sum_{kl} e_{\Sigma_{kl}} \left\lvert
            \frac{\partial \Sigma_{kl}}{\partial K_{ij}} \right\rvert ,$$

        with $e_\mu$, $e_\Sigma$ = `gradient.error`. This is the error of the gradient an
        optimiser uses. It bounds the error of `dZ_dK` as far as the errors of dZ/dmean and
        dZ/dcov bound theirs: for a deterministic rule they are indicators (the difference from
        a reference rule and turned copies, docs/errors.md), for a random rule standard errors.
        An infinite error (a rule with no reference) gives inf wherever it reaches K through a
        nonzero Jacobian entry, and nothing where the Jacobian is 0.

        `gj.estimate_grad` takes the gradient in the covariance argument given, so pass it the
        same one as `cov_form` (`scale_tril=cov_fn(K)` for a report with
        `cov_form="scale_tril"`, and so on); for a report of `jax.vmap(gj.chain_rule ...)`,
        the estimates of the same batch (`jax.vmap(gj.estimate_grad ...)`).

        Args:
            gradient: the `gj.Estimate` that `gj.estimate_grad` returns for this report's mean
                and covariance argument, whose `error` is (error of dZ/dmean, error of dZ/dcov).

        Returns:
            The error of `dZ_dK`: an array shaped like K, or a pytree like K.

        Raises:
            TypeError: if `gradient` is not a `gj.Estimate`.
            ValueError: if its errors are not a pair shaped like `dZ_dmean` and `dZ_dcov`.

        Example:
            >>> import jax.numpy as jnp, gaussjax as gj
            >>> f = lambda x: jnp.maximum(x[0] + x[1] - 0.3, 0.0)  # a ReLU: rules are not exact
            >>> mean_fn, cov_fn = lambda K: K @ jnp.ones(2), lambda K: jnp.eye(2) + K @ K.T
            >>> K, rule = jnp.eye(2), gj.GaussHermite(order=6)
            >>> report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=rule)
            >>> gradient = gj.estimate_grad(f, mean_fn(K), cov_fn(K), rule=rule)
            >>> error = report.dZ_dK_error(gradient)
            >>> error.shape, bool(jnp.all(error > 0))
            ((2, 2), True)
        """
        error_mean, error_cov = self._gradient_errors(gradient)
        through_mean = self._bound(error_mean, self.dmean_dK)
        through_cov = self._bound(error_cov, self.dcov_dK)
        return jax.tree.map(jnp.add, through_mean, through_cov)

    def _gradient_errors(self, gradient: Estimate) -> tuple[Array, Array]:
        caller = "ChainRule.dZ_dK_error"
        if not isinstance(gradient, Estimate):
            raise TypeError(
                f"{caller}: gradient must be the gj.Estimate that gj.estimate_grad returns, got "
                f"{type(gradient).__name__}."
            )
        error = gradient.error
        if not isinstance(error, tuple | list) or len(error) != 2:
            raise ValueError(
                f"{caller}: gradient.error must be the pair (error of dZ/dmean, error of "
                f"dZ/dcov) that gj.estimate_grad returns, got {jax.tree.structure(error)}."
            )
        got = tuple(jnp.shape(e) for e in error)
        want = (jnp.shape(self.dZ_dmean), jnp.shape(self.dZ_dcov))
        if got != want:
            raise ValueError(
                f"{caller}: the gradient's errors have shapes {got}, but this report's dZ_dmean "
                f"and dZ_dcov have shapes {want}. Pass gj.estimate_grad(f, mean_fn(K), "
                f"{self.cov_form}=cov_fn(K), ...) for the same K and the same covariance "
                "argument as the report (vmapped over the same batch for a vmapped report)."
            )
        return tuple(jnp.asarray(e, self.dZ_dmean.dtype) for e in error)

    def _bound(self, error: Array, jacobian: PyTree) -> PyTree:
        """sum error * |jacobian| over the gradient's axes, with inf * 0 taken as 0 (an
        unknown error reaches only the entries of K that move that component)."""
        unknown = jnp.isinf(error)
        absolute = jax.tree.map(jnp.abs, jacobian)
        bound = self._contract(jnp.where(unknown, 0, error), absolute)
        reached = self._contract(unknown.astype(error.dtype), absolute)
        return jax.tree.map(lambda b, r: jnp.where(r > 0, jnp.inf, b), bound, reached)

    def _contract(self, gradient: Array, jacobian: PyTree) -> PyTree:
        # A report returned by jax.vmap(chain_rule) carries leading batch axes on every field
        # (value, a scalar per report, has exactly those); contract each report on its own.
        batch = jnp.ndim(self.value)

        def contract(g, j):
            return jnp.tensordot(g, j, axes=g.ndim)

        for _ in range(batch):
            contract = jax.vmap(contract)
        return jax.tree.map(lambda j: contract(gradient, j), jacobian)


@checked_once
def chain_rule(
    f: Callable[[Float[Array, " n"]], Float[Array, ""]],
    mean_fn: Callable[[PyTree], Float[Array, " n"]],
    cov_fn: Callable[[PyTree], Array],
    K: PyTree,
    *,
    cov_form: str = "cov",
    rule: AbstractRule | None = None,
    estimator: "str | AbstractEstimator" = "pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
    adapt: "str | Laplace | bool | None" = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_evaluations: int | None = None,
    exact: bool = True,
    projection: Float[Array, "n k"] | str | None = "auto",
    progress: "bool | AbstractProgress" = False,
    check_finite: bool = True,
) -> ChainRule:
    r"""Every Jacobian in the chain $K \to (\mu, \Sigma) \to Z$, with $dZ/dK$ by `jax.grad`.

    $\mu = $ `mean_fn(K)` (shape (n,)), $\Sigma = $ `cov_fn(K)` (shape (n, n)), K an array or
    any pytree of arrays (a model's parameters); $Z = E[f(x)]$ computed by `gj.expectation`
    with the given rule, estimator, key and batch_size (the same nodes for every piece); with
    `estimator="score"`, f need not be differentiable. `report.contraction` adds up the pieces
    by the chain rule and equals `report.dZ_dK`.

    Args:
        f: scalar function of one point x of shape (n,).
        mean_fn: K -> mean, shape (n,).
        cov_fn: K -> the covariance argument named by `cov_form`.
        K: an array or a pytree of floating arrays.
        cov_form: what `cov_fn` returns, as the keyword of `gj.expectation` it would be passed
            to: "cov" (default, $\Sigma$), "scale_tril", "cov_factor" or "cov_diag".
        rule, estimator, key, batch_size, adapt, rtol, atol, max_evaluations, exact,
            projection, progress: as in `gj.expectation`; for a `gj.integrands` integrand,
            every piece is exact. Z is computed twice (for dZ/dmean and dZ/dcov, and for
            dZ/dK), so with `progress` there are two forward passes and, with the pathwise
            estimator, two backward passes.

    Returns:
        A `gj.ChainRule`.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> A = jnp.array([[1.0, 2.0], [0.0, 1.0]])
        >>> mean_fn = lambda K: A @ K @ jnp.ones(2)
        >>> cov_fn = lambda K: jnp.eye(2) + K @ K.T
        >>> report = gj.chain_rule(lambda x: jnp.sin(x).sum(), mean_fn, cov_fn, jnp.eye(2),
        ...                        rule=gj.GaussHermite(order=10))
        >>> report.dmean_dK.shape, report.dcov_dK.shape, report.dZ_dK.shape
        ((2, 2, 2), (2, 2, 2, 2), (2, 2))
        >>> bool(jnp.allclose(report.contraction, report.dZ_dK))
        True
    """
    caller = "gj.chain_rule"
    if not callable(mean_fn) or not callable(cov_fn):
        raise TypeError(f"{caller}: mean_fn and cov_fn must be callables of K.")
    if cov_form not in COVARIANCE_ARGUMENTS:
        raise ValueError(
            f"{caller}: cov_form must be one of {', '.join(map(repr, COVARIANCE_ARGUMENTS))}, "
            f"got {cov_form!r}."
        )
    K = _floating_pytree(K, caller)
    options = dict(rule=rule, estimator=estimator, key=key, batch_size=batch_size, adapt=adapt)
    options |= dict(rtol=rtol, atol=atol, max_evaluations=max_evaluations)
    options |= dict(exact=exact, projection=projection, progress=progress)
    options |= dict(check_finite=check_finite)
    covariance = dict.fromkeys(COVARIANCE_ARGUMENTS) | {cov_form: cov_fn(K)}
    problem, _, cov_value, z = z_function(caller, f, mean_fn(K), covariance, **options)
    rule, key, dtype = problem.rule, problem.key, problem.mean.dtype

    def z_of_K(k):
        mean, cov = (jnp.asarray(fn(k), dtype) for fn in (mean_fn, cov_fn))
        return z(mean, cov, rule, key)

    value, (dZ_dmean, dZ_dcov) = jax.value_and_grad(z, argnums=(0, 1))(
        problem.mean, cov_value, rule, key
    )
    return ChainRule(
        value=value,
        dZ_dmean=dZ_dmean,
        dZ_dcov=dZ_dcov,
        dmean_dK=jax.jacrev(mean_fn)(K),
        dcov_dK=jax.jacrev(cov_fn)(K),
        dZ_dK=jax.grad(z_of_K)(K),
        cov_form=cov_form,
    )


def _floating_pytree(K: PyTree, caller: str) -> PyTree:
    """K with every leaf a floating array, or a clear error (jax.grad needs them)."""
    leaves = jax.tree.leaves(K)
    try:
        arrays = [jnp.asarray(leaf) for leaf in leaves]
    except TypeError as error:
        raise TypeError(f"{caller}: K must be an array or a pytree of arrays ({error}).") from error
    if not arrays or not all(jnp.issubdtype(a.dtype, jnp.floating) for a in arrays):
        raise TypeError(
            f"{caller}: K must be a floating array or a pytree of floating arrays (jax.grad "
            f"differentiates in it), got dtypes {[str(a.dtype) for a in arrays]}. Pass e.g. "
            "jnp.asarray(K, float)."
        )
    return jax.tree.unflatten(jax.tree.structure(K), arrays)
