"""The nested Genz-Keister rules for N(0, 1): Gauss-Hermite extended by Kronrod-Patterson steps.

The sizes are 1, 3, 9, 19, 35 and the exactness degrees 1, 5, 15, 29, 51 (Genz and Keister,
1996). Each rule keeps the nodes of the previous one and adds the roots of a polynomial q chosen
so that the enlarged rule is exact to the highest degree possible; its weights then follow from
the moment equations. Both steps are done here in 100-digit decimal arithmetic (Gaussian moments
are integers, the linear systems are ill-conditioned in float64), once per process.
"""

import decimal
import functools

import numpy as np

NEW_NODES_PER_RULE = (1, 2, 6, 10, 16)
"""Nodes each rule adds to the previous one: sizes 1, 3, 9, 19, 35."""
GENZ_KEISTER_DEGREES = (1, 5, 15, 29, 51)
"""Each rule integrates every polynomial up to this degree exactly."""


def _moment(k: int) -> int:
    """E[xi^k] for xi ~ N(0, 1): (k - 1)!! for even k, 0 for odd k."""
    if k % 2:
        return 0
    return int(np.prod(np.arange(k - 1, 0, -2, dtype=object))) if k else 1


def _solve(matrix: list, rhs: list) -> list:
    """Gaussian elimination with partial pivoting, in the current decimal context."""
    n = len(rhs)
    rows = [list(row) + [value] for row, value in zip(matrix, rhs, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, n):
            factor = rows[r][col] / rows[col][col]
            rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    solution = [decimal.Decimal(0)] * n
    for col in reversed(range(n)):
        tail = sum(rows[col][k] * solution[k] for k in range(col + 1, n))
        solution[col] = (rows[col][n] - tail) / rows[col][col]
    return solution


def _extension_roots(node_poly: list, num_new: int) -> list:
    r"""Squares $y = x^2$ of the `num_new` nodes that extend a symmetric rule optimally.

    With $P$ the (odd) polynomial vanishing on the current nodes, the new nodes are the roots of
    the even monic $q(x) = x^m + \sum_{j<m/2} c_j x^{2j}$ with $E[P(\xi) q(\xi) \xi^k] = 0$ for
    odd $k < m$ (even k hold by symmetry).
    """

    def expect(t):  # E[P(xi) xi^t]
        return sum(c * _moment(a + t) for a, c in enumerate(node_poly))

    half = num_new // 2
    odd = range(1, num_new, 2)
    coeffs = _solve(
        [[expect(k + 2 * j) for j in range(half)] for k in odd],
        [-expect(k + num_new) for k in odd],
    ) + [decimal.Decimal(1)]
    roots = []
    for guess in np.roots([float(c) for c in reversed(coeffs)]):
        if abs(guess.imag) > 1e-8 * abs(guess) or guess.real <= 0:
            raise ArithmeticError("a Genz-Keister extension has a non-real node")
        y = decimal.Decimal(float(guess.real))
        for _ in range(50):  # Newton's method polishes the float64 root to full precision
            value = sum(c * y**j for j, c in enumerate(coeffs))
            slope = sum(j * c * y ** (j - 1) for j, c in enumerate(coeffs) if j)
            y -= value / slope
        roots.append(y)
    return sorted(roots)


def _symmetric_weights(squares: list) -> list:
    """Weights (center first, then one per pair +-x) exact on the even moments."""
    size = len(squares)
    matrix = [[decimal.Decimal(int(j == 0))] + [2 * y**j for y in squares[1:]] for j in range(size)]
    return _solve(matrix, [decimal.Decimal(_moment(2 * j)) for j in range(size)])


@functools.cache
def genz_keister_table() -> tuple[np.ndarray, np.ndarray]:
    r"""All nodes of the nested family, in order of first appearance, and each rule's weights.

    Returns:
        nodes: shape (35,): 0, then $\mp x$ pairs in the order the rules add them.
        weights: shape (5, 35): row r holds the weights of rule r (size 1, 3, 9, 19, 35), zero on
            the nodes that rule lacks. Rule 3 (19 nodes) has one negative weight, as published.
    """
    with decimal.localcontext() as context:
        context.prec = 100
        node_poly = [decimal.Decimal(0), decimal.Decimal(1)]  # P(x) = x: the node 0
        squares = [decimal.Decimal(0)]
        weight_rows = [[decimal.Decimal(1)]]
        for num_new in NEW_NODES_PER_RULE[1:]:
            new = _extension_roots(node_poly, num_new)
            squares += new
            for y in new:  # P(x) <- P(x) (x^2 - y)
                shifted = [decimal.Decimal(0)] * 2 + node_poly
                node_poly = [a - y * b for a, b in zip(shifted, node_poly + [0, 0], strict=True)]
            weight_rows.append(_symmetric_weights(squares))
        roots = [float(y.sqrt()) for y in squares]
    nodes = np.array([0.0] + [s * x for x in roots[1:] for s in (-1.0, 1.0)])
    weights = np.zeros((len(weight_rows), nodes.size))
    for r, row in enumerate(weight_rows):
        weights[r, 0] = float(row[0])
        weights[r, 1 : 2 * len(row) - 1] = np.repeat([float(w) for w in row[1:]], 2)
    return nodes, weights
