"""chain_rule(): every Jacobian between K and Z, and the proof that they contract to jax.grad."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._estimators import AbstractEstimator
from ._expectation import expectation
from ._rules import AbstractRule


class ChainRule(eqx.Module):
    r"""The pieces of $dZ/dK$ for $Z(K) = E[f(x)]$, $x \sim N(g(K), h(K))$.

    $$\frac{dZ}{dK_{ij}} = \sum_k \frac{\partial Z}{\partial \mu_k}
        \frac{\partial \mu_k}{\partial K_{ij}} + \sum_{kl} \frac{\partial Z}{\partial \Sigma_{kl}}
        \frac{\partial \Sigma_{kl}}{\partial K_{ij}}$$

    Attributes:
        value: Z, a scalar.
        dZ_dmean: shape (n,).
        dZ_dcov: shape (n, n), the symmetric gradient $\frac12 E[\nabla^2 f]$.
        dmean_dK: shape (n, *K.shape) (`jax.jacrev` order: outputs first).
        dcov_dK: shape (n, n, *K.shape).
        dZ_dK: shape K.shape, computed by `jax.grad` of the composition K -> Z.

    A report from `jax.vmap(gj.chain_rule ...)` over a batch of K holds the batch axes first in
    every field; the properties below then contract each report of the batch.
    """

    value: Float[Array, ""]
    dZ_dmean: Float[Array, " n"]
    dZ_dcov: Float[Array, "n n"]
    dmean_dK: Array
    dcov_dK: Array
    dZ_dK: Array

    @property
    def dZ_dK_through_mean(self) -> Array:
        r"""$\sum_k \partial Z/\partial\mu_k\, \partial\mu_k/\partial K$, shape K.shape."""
        return self._per_report(lambda a, b: jnp.tensordot(a, b, axes=1))(
            self.dZ_dmean, self.dmean_dK
        )

    @property
    def dZ_dK_through_cov(self) -> Array:
        r"""$\sum_{kl} \partial Z/\partial\Sigma_{kl}\,\partial\Sigma_{kl}/\partial K$ (K.shape)."""
        return self._per_report(lambda a, b: jnp.tensordot(a, b, axes=2))(
            self.dZ_dcov, self.dcov_dK
        )

    def _per_report(self, contract: Callable[[Array, Array], Array]) -> Callable:
        # A report returned by jax.vmap(chain_rule) carries leading batch axes on every field
        # (value, a scalar per report, has exactly those); contract each report on its own.
        for _ in range(jnp.ndim(self.value)):
            contract = jax.vmap(contract)
        return contract

    @property
    def contraction(self) -> Array:
        """The two sums above added: equals `dZ_dK` to rounding."""
        return self.dZ_dK_through_mean + self.dZ_dK_through_cov


def chain_rule(
    f: Callable[[Float[Array, " n"]], Float[Array, ""]],
    mean_fn: Callable[[Array], Float[Array, " n"]],
    cov_fn: Callable[[Array], Float[Array, "n n"]],
    K: Array,
    *,
    rule: AbstractRule | None = None,
    estimator: "str | AbstractEstimator" = "pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
) -> ChainRule:
    r"""Every Jacobian in the chain $K \to (\mu, \Sigma) \to Z$, with $dZ/dK$ by `jax.grad`.

    $\mu = $ `mean_fn(K)` (shape (n,)), $\Sigma = $ `cov_fn(K)` (shape (n, n)), K any array;
    $Z = E[f(x)]$ computed by `gj.expectation` with the given rule, estimator, key and
    batch_size (the same nodes for every piece); with `estimator="score"`, f need not be
    differentiable. `report.contraction` adds up the pieces by the chain rule and equals
    `report.dZ_dK`.

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
    if not callable(mean_fn) or not callable(cov_fn):
        raise TypeError("gj.chain_rule: mean_fn and cov_fn must be callables of K.")
    K = jnp.asarray(K)
    options = dict(rule=rule, estimator=estimator, key=key, batch_size=batch_size)

    def z_of(mean, cov):
        z = expectation(f, mean, cov, **options)
        if not isinstance(z, jax.Array) or z.shape != ():
            raise TypeError(
                "gj.chain_rule: f must return a scalar so that dZ/dK has the shape of K; "
                f"it returned {jax.tree.map(jnp.shape, z)}."
            )
        return z

    mean, cov = mean_fn(K), cov_fn(K)
    value, (dZ_dmean, dZ_dcov) = jax.value_and_grad(z_of, argnums=(0, 1))(mean, cov)
    return ChainRule(
        value=value,
        dZ_dmean=dZ_dmean,
        dZ_dcov=dZ_dcov,
        dmean_dK=jax.jacrev(mean_fn)(K),
        dcov_dK=jax.jacrev(cov_fn)(K),
        dZ_dK=jax.grad(lambda k: z_of(mean_fn(k), cov_fn(k)))(K),
    )
