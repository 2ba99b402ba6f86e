"""The rule `expectation` uses when none is given, chosen by dimension."""

from ._rules import AbstractRule, GaussHermite

GAUSS_HERMITE_ORDER_BY_DIMENSION = {1: 32, 2: 20, 3: 12, 4: 8, 5: 6, 6: 5}


def default_rule(dim: int) -> AbstractRule:
    r"""The rule `gj.expectation` uses in `dim` dimensions when `rule` is not given.

    | dim | rule | nodes |
    |---|---|---|
    | 1 | GaussHermite(order=32) | 32 |
    | 2 | GaussHermite(order=20) | 400 |
    | 3 | GaussHermite(order=12) | 1,728 |
    | 4 | GaussHermite(order=8) | 4,096 |
    | 5 | GaussHermite(order=6) | 7,776 |
    | 6 | GaussHermite(order=5) | 15,625 |

    Example:
        >>> import gaussjax as gj
        >>> gj.default_rule(3)
        GaussHermite(order=12)
    """
    if dim in GAUSS_HERMITE_ORDER_BY_DIMENSION:
        return GaussHermite(order=GAUSS_HERMITE_ORDER_BY_DIMENSION[dim])
    raise ValueError(
        f"gaussjax has no default rule in {dim} dimensions yet; pass rule=, e.g. "
        "gj.MonteCarlo(num_samples=2**14) with key=jax.random.key(0)."
    )
