"""Tensor-product Gauss-Hermite rule (probabilists' Hermite polynomials)."""

import functools
import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int

from ._base import AbstractDeterministicRule, check_positive_int

MAX_REFINED_ORDER = 100
"""Refinement (rtol=, atol=) stops at this order per axis."""


@functools.cache
def hermite_e_table(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the `order`-point Gauss-Hermite rule for N(0, 1), in float64."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    return nodes, weights / np.sqrt(2.0 * np.pi)


class GaussHermite(AbstractDeterministicRule):
    r"""The tensor-product Gauss-Hermite rule with `order` nodes per axis.

    In one dimension the nodes $z_j$ are the roots of the probabilists' Hermite polynomial
    $He_m$ and the weights $v_j$ those of `numpy.polynomial.hermite_e.hermegauss(m)` divided by
    $\sqrt{2\pi}$; in $d$ dimensions

    $$E[g(\xi)] \approx \sum_{j_1..j_d} v_{j_1}\cdots v_{j_d}\, g(z_{j_1}, \dots, z_{j_d}).$$

    Exact for every monomial whose exponents are each at most $2m - 1$ (so for total degree
    $2m - 1$). Cost: $m^d$ nodes, generated from their index chunk by chunk when `batch_size`
    is set. Error indicator in `gj.estimate`: the difference from order $m - 1$.

    Args:
        order: nodes per axis, m >= 1.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> rule = gj.GaussHermite(order=3)
        >>> rule.num_nodes(2), rule.degree
        (9, 5)
        >>> z = gj.expectation(lambda x: x[0] ** 4, jnp.zeros(2), jnp.eye(2), rule=rule)
        >>> round(float(z), 4)
        3.0
    """

    order: int = eqx.field(static=True)

    def __check_init__(self):
        check_positive_int(self.order, "order", "GaussHermite")

    def num_nodes(self, dim: int) -> int:
        return self.order**dim

    @property
    def degree(self) -> int:
        return 2 * self.order - 1

    def node(
        self, index: Int[Array, ""], dim: int, dtype
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        nodes, weights = hermite_e_table(self.order)
        strides = jnp.asarray([self.order**axis for axis in range(dim)], jnp.int32)
        # Indices are non-negative, so truncating division gives the base-m digits directly.
        index = jnp.broadcast_to(jnp.asarray(index, jnp.int32), (dim,))
        digits = lax.rem(lax.div(index, strides), jnp.full(dim, self.order, jnp.int32))
        xi = jnp.asarray(nodes, dtype)[digits]
        weight = jnp.prod(jnp.asarray(weights, dtype)[digits])
        return xi, weight

    def table(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        nodes, weights = hermite_e_table(self.order)
        digits = np.indices((self.order,) * dim).reshape(dim, -1)[::-1].T  # axis 0 fastest
        return nodes[digits], np.prod(weights[digits], axis=1)

    def refine(self, dim: int) -> "GaussHermite | None":
        order = max(self.order + 1, math.ceil(self.order * 2 ** (1 / dim)))
        return GaussHermite(order=order) if order <= MAX_REFINED_ORDER else None

    def error_reference(self) -> "GaussHermite | None":
        return GaussHermite(order=self.order - 1) if self.order > 1 else None
