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
MAX_ORDER = 10_000
"""The largest order: its 1-D table takes seconds to build (the cost grows as order^2)."""
NUMPY_UP_TO = 150
"""Up to this order the table is NumPy's `hermegauss` (which overflows beyond about 370)."""


@functools.cache
def hermite_e_table(order: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights of the `order`-point Gauss-Hermite rule for N(0, 1), in float64.

    Up to order 150, `numpy.polynomial.hermite_e.hermegauss` (weights divided by
    $\sqrt{2\pi}$); beyond, where NumPy's weights underflow and overflow into NaN (from order
    about 370), the Golub-Welsch nodes refined by Newton's method and weights computed in log
    space (`_golub_welsch`). The two agree to 2e-13 (relative, every weight) at orders 5 to 370.
    Weights below the smallest float64 (the outermost nodes from order about 370) are 0.
    """
    if order <= NUMPY_UP_TO:
        nodes, weights = np.polynomial.hermite_e.hermegauss(order)
        return nodes, weights / np.sqrt(2.0 * np.pi)
    return _golub_welsch(order)


def _golub_welsch(order: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The `order`-point rule for N(0, 1) without overflow.

    The nodes are the eigenvalues of the Jacobi matrix of the probabilists' Hermite polynomials
    (zero diagonal, off-diagonal $\sqrt k$), refined by three Newton steps on the orthonormal
    polynomial $p_m$; the weights are $w_i = 1 / \sum_{k<m} p_k(x_i)^2$ (the Christoffel
    function), the sum carried with a running power-of-ten scale so that nothing overflows.
    """
    from scipy.linalg import eigvalsh_tridiagonal

    nodes = eigvalsh_tridiagonal(np.zeros(order), np.sqrt(np.arange(1.0, order)))
    for _ in range(3):
        p, dp, _ = _orthonormal(nodes, order)
        nodes = nodes - p / dp
    log_weights = -_orthonormal(nodes, order)[2]
    nodes = (nodes - nodes[::-1]) / 2  # exactly symmetric, as the rule is
    weights = np.exp((log_weights + log_weights[::-1]) / 2)
    return nodes, weights / weights.sum()


def _orthonormal(x: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""$p_m(x)$ and $p_m'(x)$ (both divided by one positive factor per x) and
    $\log \sum_{k<m} p_k(x)^2$, for the orthonormal $p_{k+1} = (x p_k - \sqrt k p_{k-1}) /
    \sqrt{k+1}$."""
    previous, current = np.zeros_like(x), np.ones_like(x)
    d_previous, d_current = np.zeros_like(x), np.zeros_like(x)
    log_scale, total = np.zeros_like(x), np.ones_like(x)
    for k in range(m):
        following = (x * current - np.sqrt(k) * previous) / np.sqrt(k + 1)
        d_following = (current + x * d_current - np.sqrt(k) * d_previous) / np.sqrt(k + 1)
        previous, current = current, following
        d_previous, d_current = d_current, d_following
        if k + 1 < m:
            total = total + current**2
        large = np.abs(current) > 1e100
        if large.any():
            shrink = np.where(large, 1e-100, 1.0)
            previous, current = previous * shrink, current * shrink
            d_previous, d_current = d_previous * shrink, d_current * shrink
            total = total * shrink**2
            log_scale = log_scale + np.where(large, 100 * np.log(10.0), 0.0)
    return current, d_current, np.log(total) + 2 * log_scale


class GaussHermite(AbstractDeterministicRule):
    r"""The tensor-product Gauss-Hermite rule with `order` nodes per axis.

    In one dimension the nodes $z_j$ are the roots of the probabilists' Hermite polynomial
    $He_m$ and the weights $v_j$ those of `numpy.polynomial.hermite_e.hermegauss(m)` divided by
    $\sqrt{2\pi}$; in $d$ dimensions

    $$E[g(\xi)] \approx \sum_{j_1..j_d} v_{j_1}\cdots v_{j_d}\, g(z_{j_1}, \dots, z_{j_d}).$$

    Exact for every monomial whose exponents are each at most $2m - 1$ (so for total degree
    $2m - 1$). Cost: $m^d$ nodes, built from the 1-D table by broadcasting, chunk by chunk (a
    chunk is a whole number of sub-grids: its size, `batch_size` or 262,144, is rounded down to
    $c\,m^k$ nodes, $c < m$). Error indicator in `gj.estimate`: twice the difference from order
    $m - 1$ (from two dimensions, the larger of that and the turned copies',
    `gj.AbstractDeterministicRule`).

    Args:
        order: nodes per axis, 1 <= m <= 10,000 (beyond about 370 the outermost weights are
            below the smallest float64 and count as 0).

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
        if self.order > MAX_ORDER:
            raise ValueError(
                f"GaussHermite(order=...) needs order <= {MAX_ORDER}, got {self.order}: the "
                "1-D table costs order^2 to build, and beyond order 1,000 most of its weights "
                "are below the smallest float64. For such accuracy in one dimension use "
                "adapt='laplace', or split the integral."
            )

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

    def chunk_size(self, dim: int, batch_size: int) -> int:
        block = _block(self.order, dim, batch_size)
        return min(batch_size // block, self.num_nodes(dim) // block) * block

    def chunk(
        self, number: Int[Array, ""], size: int, dim: int, dtype, key: None = None
    ) -> tuple[Float[Array, "size dim"], Float[Array, " size"]]:
        r"""Chunk `number` of `size` nodes, built by broadcasting: with `size` $= c\,m^k$, the
        chunk is c sub-grids over the first k axes (axis 0 fastest), whose other axes are fixed
        by the sub-grid's index; only those c indices are split into digits."""
        return self._broadcast(number, size, dim, dtype, None)

    def chunk_points(self, number, size: int, dim: int, dtype, key, shift, factor):
        r"""The chunk's points $\mathrm{shift} + \sum_a z_{j_a} L_{:a}$ (L = factor), summed
        from one (order, n) table per axis by broadcasting, with no matrix product."""
        return self._broadcast(number, size, dim, dtype, (shift, factor))

    def _broadcast(self, number, size: int, dim: int, dtype, at):
        m = self.order
        k = 0  # the fast axes: m^k divides size
        while k < dim and m > 1 and size % m ** (k + 1) == 0:
            k += 1
        c = size // m**k
        nodes_1d, weights_1d = (jnp.asarray(t, dtype) for t in hermite_e_table(m))
        # a barrier, so that XLA builds the grid at run time instead of folding it into a constant
        nodes_1d, weights_1d, number = lax.optimization_barrier((nodes_1d, weights_1d, number))
        shape = (c,) + (m,) * k
        blocks = number * c + jnp.arange(c, dtype=jnp.int32)
        parts, weight = [], jnp.ones(shape, dtype)
        for axis in range(dim):
            if axis < k:  # axis 0 varies fastest: the last array axis
                where = [1] * (k + 1)
                where[k - axis] = m
                z, w = nodes_1d.reshape(where), weights_1d.reshape(where)
            else:
                digit = lax.rem(lax.div(blocks, jnp.int32(m ** (axis - k))), jnp.int32(m))
                z, w = (t[digit].reshape((c,) + (1,) * k) for t in (nodes_1d, weights_1d))
            parts.append(z if at is None else z[..., None] * at[1][:, axis])
            weight = weight * w
        weight = weight.reshape(size)
        if at is None:
            nodes = jnp.stack([jnp.broadcast_to(z, shape) for z in parts], axis=-1)
            return nodes.reshape(size, dim), weight
        shift, factor = at
        slow = functools.reduce(jnp.add, parts[k:], shift.astype(dtype))  # (c, 1.., n)
        points = functools.reduce(jnp.add, reversed(parts[:k]), slow)
        points = jnp.broadcast_to(points, shape + factor.shape[:1])
        return points.reshape(size, factor.shape[0]), weight

    def table(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        nodes, weights = hermite_e_table(self.order)
        digits = np.indices((self.order,) * dim).reshape(dim, -1)[::-1].T  # axis 0 fastest
        return nodes[digits], np.prod(weights[digits], axis=1)

    def refine(self, dim: int) -> "GaussHermite | None":
        order = max(self.order + 1, math.ceil(self.order * 2 ** (1 / dim)))
        return GaussHermite(order=order) if order <= MAX_REFINED_ORDER else None

    def error_reference(self) -> "GaussHermite | None":
        return GaussHermite(order=self.order - 1) if self.order > 1 else None


def _block(order: int, dim: int, size: int) -> int:
    """The largest sub-grid $m^k$, k <= dim, with at most `size` nodes."""
    block = 1
    for _ in range(dim):
        if block * order > size:
            break
        block *= order
    return block
