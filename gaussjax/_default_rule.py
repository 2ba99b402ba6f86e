"""The rule `expectation` uses when none is given, chosen by dimension."""

import numpy as np

from ._rules import AbstractRule, GaussHermite, SparseGrid
from ._rules._sparse_grid import sparse_grid_size

GAUSS_HERMITE_ORDER_BY_DIMENSION = {1: 32, 2: 20, 3: 12, 4: 8, 5: 6, 6: 5}
SPARSE_GRID_NODE_BUDGET = 200_000
"""Beyond 6 dimensions: the highest sparse-grid level (at most 5) with at most this many nodes."""
MAX_DEFAULT_LEVEL = 5


def default_rule(dim: int) -> AbstractRule:
    r"""The rule `gj.expectation` uses in `dim` dimensions when `rule` is not given.

    Tensor Gauss-Hermite while it is affordable (positive weights, robust on peaked f), then a
    Smolyak sparse grid of the highest level (at most 5) with at most 200,000 nodes:

    | dim | rule | nodes | exact for |
    |---|---|---|---|
    | 1 | GaussHermite(order=32) | 32 | degree 63 |
    | 2 | GaussHermite(order=20) | 400 | each exponent <= 39 |
    | 3 | GaussHermite(order=12) | 1,728 | each exponent <= 23 |
    | 4 | GaussHermite(order=8) | 4,096 | each exponent <= 15 |
    | 5 | GaussHermite(order=6) | 7,776 | each exponent <= 11 |
    | 6 | GaussHermite(order=5) | 15,625 | each exponent <= 9 |
    | 7-15 | SparseGrid(level=5) | 4,117-157,397 | total degree 11 |
    | 16-24 | SparseGrid(level=4) | 37,089-194,129 | total degree 9 |
    | 25-53 | SparseGrid(level=3) | 19,801-193,345 | total degree 7 |
    | 54-316 | SparseGrid(level=2) | 5,833-199,713 | total degree 5 |
    | 317- | SparseGrid(level=1) | 2 dim + 1 | total degree 3 |

    What that buys on a smooth f: for $f = \exp(a^\top x)$ with $|a| = 0.84$ the relative
    error is 4e-4 at dim = 50 (level 3) and 2e-7 at dim = 10 (level 5) (measured with
    `projection=None`: by default `gj.expectation` sees that this f depends on $a^\top x$ alone
    and runs `default_rule(1)`). Above 100,000 nodes or so, pass `batch_size` to bound memory.

    Sparse grids have negative weights: on a peaked or kinked f (a narrow saturating cost,
    ReLU) they can be far off. Check with `gj.estimate`, whose error then is large, and use
    `gj.QuasiMonteCarlo` or `gj.MonteCarlo` for such f.

    Raises:
        ValueError: dim not an int >= 1.

    Example:
        >>> import gaussjax as gj
        >>> gj.default_rule(3), gj.default_rule(10)
        (GaussHermite(order=12), SparseGrid(level=5))
    """
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, (bool, np.bool_)) or dim < 1:
        raise ValueError(f"gj.default_rule: dim must be an int >= 1, got {dim!r}.")
    if dim in GAUSS_HERMITE_ORDER_BY_DIMENSION:
        return GaussHermite(order=GAUSS_HERMITE_ORDER_BY_DIMENSION[dim])
    level = MAX_DEFAULT_LEVEL
    while level > 1 and sparse_grid_size(level, dim) > SPARSE_GRID_NODE_BUDGET:
        level -= 1
    return SparseGrid(level=level)
