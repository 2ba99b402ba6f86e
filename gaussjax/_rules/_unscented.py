"""The scaled unscented transform's sigma points, used as a quadrature rule."""

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from .._runtime import check
from ._base import AbstractDeterministicRule
from ._cubature import Cubature


class Unscented(AbstractDeterministicRule):
    r"""The scaled unscented transform (Julier and Uhlmann; Wan and van der Merwe): 2d+1 points.

    With $\lambda = \alpha^2 (d + \kappa) - d$, the sigma points are $0$ and
    $\pm\sqrt{d + \lambda}\, e_i = \pm\alpha\sqrt{d+\kappa}\, e_i$, and for $E[g(\xi)]$ the rule
    uses the *mean* weights

    $$W_0 = \frac{\lambda}{d+\lambda}, \qquad W_{\pm i} = \frac{1}{2(d+\lambda)}.$$

    Exact for every monomial of total degree <= 3, whatever $\alpha \ne 0$ and $\kappa > -d$.
    The default $\kappa = 3 - d$ (Julier's) also matches $E[\xi_i^4] = 3$ along each axis, at the
    price of a negative center weight $(3-d)/3$ for d > 3. With $\alpha = 1$, $\kappa = 0$ it is
    `Cubature(degree=3)` plus a zero-weight center.

    Which weights, and why. The unscented filter also has *covariance* weights, equal to the
    mean weights except $W_0^{(c)} = W_0 + 1 - \alpha^2 + \beta$. They serve only the covariance
    of a transformed variable, where $\beta = 2$ restores a fourth-order term lost when $\alpha$
    is small; they sum to $1 + 1 - \alpha^2 + \beta$, so used for $E[f]$ they would be wrong even
    for a constant f. gaussjax computes expectations of a general f, so it uses the mean weights
    only and `beta` does not change any result (it is kept, with
    `covariance_center_weight`, for users porting filter code). A small $\alpha$ (1e-3, common
    in filters) puts the points close to the mean with $W_0 \approx -1/\alpha^2$: still exact
    for degree 3, but it then measures only the local curvature and cancels digits.

    `alpha`, `beta` and `kappa` are ordinary pytree leaves: they can be traced and changed
    without recompiling. Error indicator in `gj.estimate`: $3|Z - Z_{Cubature(5)}|$
    ($2d^2 + 1$ extra evaluations; from two dimensions, the larger of that and the turned
    copies', `gj.AbstractDeterministicRule`).

    Args:
        alpha: spread of the points, nonzero (default 1).
        beta: enters the covariance weight only (default 0).
        kappa: secondary scaling, with d + kappa > 0; None (default) means 3 - d.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> rule = gj.Unscented()
        >>> rule.num_nodes(3), rule.degree
        (7, 3)
        >>> z = gj.expectation(lambda x: x[0] ** 2 + x[1] * x[2], jnp.zeros(3), jnp.eye(3),
        ...                    rule=rule)
        >>> round(float(z), 4)
        1.0
    """

    alpha: Float[ArrayLike, ""] = 1.0
    beta: Float[ArrayLike, ""] = 0.0
    kappa: Float[ArrayLike, ""] | None = None
    degree: ClassVar[int] = 3

    def __check_init__(self):
        if isinstance(self.alpha, (int, float)) and self.alpha == 0:
            raise ValueError("Unscented(alpha=...) must be nonzero, got 0.")

    def num_nodes(self, dim: int) -> int:
        return 2 * dim + 1

    def checked(self, dim: int, caller: str) -> "Unscented":
        """alpha, beta, kappa finite, alpha nonzero and dim + kappa > 0, also when traced."""
        kappa = 3.0 - dim if self.kappa is None else self.kappa
        values = jnp.stack([jnp.asarray(v, float) for v in (self.alpha, self.beta, kappa)])
        bad = ~jnp.all(jnp.isfinite(values)) | (values[0] == 0) | (dim + values[2] <= 0)
        message = (
            f"{caller}: Unscented(alpha, beta, kappa) needs finite values, alpha != 0 and "
            f"dim + kappa > 0 (here dim = {dim}); otherwise its weights are NaN or inf."
        )
        alpha = check(self.alpha, bad, message)
        return Unscented(alpha=alpha, beta=self.beta, kappa=self.kappa)

    def _kappa(self, dim: int):
        kappa = 3.0 - dim if self.kappa is None else self.kappa
        if isinstance(kappa, (int, float)) and dim + kappa <= 0:
            raise ValueError(
                f"Unscented(kappa={kappa}) needs dim + kappa > 0; in {dim} dimensions pass "
                f"kappa > {-dim} (or kappa=None for 3 - dim)."
            )
        return kappa

    def node(
        self, index: Int[Array, ""], dim: int, dtype
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        spread = self.alpha**2 * (dim + self._kappa(dim))  # d + lambda
        radius = jnp.sqrt(jnp.asarray(spread, dtype))
        axis = jnp.maximum(index - 1, 0)
        sign = 1 - 2 * (axis % 2)
        xi = jnp.zeros(dim, dtype).at[axis // 2].set(sign * radius)
        xi = jnp.where(index == 0, jnp.zeros(dim, dtype), xi)
        weight = jnp.where(index == 0, 1 - dim / spread, 0.5 / spread)
        return xi, jnp.asarray(weight, dtype)

    def covariance_center_weight(self, dim: int) -> Float[Array, ""]:
        r"""$W_0^{(c)} = \lambda/(d+\lambda) + 1 - \alpha^2 + \beta$, the filters' weight for
        covariances (not used by gaussjax)."""
        spread = self.alpha**2 * (dim + self._kappa(dim))
        return jnp.asarray(1 - dim / spread + 1 - self.alpha**2 + self.beta)

    def error_reference(self) -> Cubature:
        return Cubature(degree=5)
