"""Fully symmetric cubature rules of degree 3 and 5 (sigma-point rules of the cubature filters)."""

import functools
import itertools

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._base import AbstractDeterministicRule


@functools.cache
def axis_pairs(dim: int) -> np.ndarray:
    """All pairs i < j of axes, shape (dim (dim - 1) / 2, 2)."""
    pairs = np.array(list(itertools.combinations(range(dim), 2)), np.int32)
    return pairs.reshape(-1, 2)


class Cubature(AbstractDeterministicRule):
    r"""Spherical-radial cubature of `degree` 3 (2d nodes) or 5 (2d^2 + 1 nodes).

    Degree 3 (the cubature Kalman filter's rule): nodes $\pm\sqrt d\, e_i$, weights $1/(2d)$.

    Degree 5 (Stroud's rule for the Gaussian weight, McNamee and Stenger's family; the
    fifth-degree cubature Kalman filter): with $r^2 = d + 2$ and $s^2 = (d + 2)/2$,

    $$E[g(\xi)] \approx \frac{2}{d+2} g(0) + \frac{4-d}{2(d+2)^2} \sum_{i,\pm} g(\pm r e_i)
        + \frac{1}{(d+2)^2} \sum_{i<j,\pm,\pm} g(\pm s e_i \pm s e_j).$$

    The axis weights $(4-d)/(2(d+2)^2)$ are negative for d > 4 (and zero at d = 4): the rule
    is still exact for degree 5, but it is not an average, so it can overshoot on integrands
    far from a quintic polynomial.

    Exact for every monomial of total degree <= `degree`. Error indicator in `gj.estimate`:
    degree 5 reports $2|Z_5 - Z_3|$ (2d extra evaluations; an over-estimate, the degree-3 rule's
    error); degree 3 reports $3|Z_3 - Z_5|$ ($2d^2 + 1$ extra evaluations; the degree-5 error is
    often on the same side, so the plain difference under-reports); from two dimensions, the
    larger of that and the turned copies' (`gj.AbstractDeterministicRule`).

    Args:
        degree: 3 or 5.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> rule = gj.Cubature(degree=5)
        >>> rule.num_nodes(4), rule.degree
        (33, 5)
        >>> z = gj.expectation(lambda x: x[0] ** 2 * x[1] ** 2 + x[2] ** 4, jnp.zeros(4),
        ...                    jnp.eye(4), rule=rule)
        >>> round(float(z), 4)
        4.0

    References:
        Stroud, Approximate Calculation of Multiple Integrals (1971), rule E_n^{r^2} 5-2.
        Jia, Xin and Cheng, High-degree cubature Kalman filter, Automatica 49 (2013).
    """

    degree: int = eqx.field(static=True, default=3)

    def __repr__(self) -> str:
        return f"Cubature(degree={self.degree})"

    def __check_init__(self):
        if self.degree not in (3, 5) or isinstance(self.degree, bool):
            raise ValueError(f"Cubature(degree=...) must be 3 or 5, got {self.degree!r}.")

    def num_nodes(self, dim: int) -> int:
        return 2 * dim if self.degree == 3 else 2 * dim * dim + 1

    def node(
        self, index: Int[Array, ""], dim: int, dtype
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        if self.degree == 3:
            sign = 1 - 2 * (index % 2)
            xi = jnp.zeros(dim, dtype).at[index // 2].set(sign * float(np.sqrt(dim)))
            return xi, jnp.asarray(0.5 / dim, dtype)
        # degree 5: index 0 the center, 1..2d the axes, then four nodes per pair of axes
        axis = (index - 1) // 2
        on_axis = (
            jnp.zeros(dim, dtype)
            .at[axis]
            .set((1 - 2 * ((index - 1) % 2)) * float(np.sqrt(dim + 2)))
        )
        pair_index = jnp.maximum(index - 2 * dim - 1, 0)
        pairs = axis_pairs(dim) if dim > 1 else np.zeros((1, 2), np.int32)
        signs = jnp.stack([1 - 2 * (pair_index % 2), 1 - 2 * ((pair_index // 2) % 2)])
        on_pair = (
            jnp.zeros(dim, dtype)
            .at[jnp.asarray(pairs)[pair_index // 4]]
            .add(signs * float(np.sqrt((dim + 2) / 2)))
        )
        kind = (index > 0).astype(jnp.int32) + (index > 2 * dim).astype(jnp.int32)
        xi = jnp.stack([jnp.zeros(dim, dtype), on_axis, on_pair])[kind]
        weights = np.array([2 / (dim + 2), (4 - dim) / (2 * (dim + 2) ** 2), 1 / (dim + 2) ** 2])
        return xi, jnp.asarray(weights, dtype)[kind]

    def refine(self, dim: int) -> "Cubature | None":
        return Cubature(degree=5) if self.degree == 3 else None

    def error_reference(self) -> "Cubature":
        return Cubature(degree=3 if self.degree == 5 else 5)
