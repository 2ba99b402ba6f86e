r"""A deterministic rule turned by a fixed rotation: nodes $Q\xi_i$, the same weights.

N(0, I) is invariant under rotations, so the turned rule integrates the same polynomials of
total degree as the rule itself; on an f with a kink or a jump its nodes fall differently, and
its difference from the rule shows an error that a coarser rule of the same family, sharing
most of its nodes' positions, can miss (see `gaussjax/_errors.py`).

Each difference is widened by a factor, measured over `benchmarks/honesty.py`'s 5,400 cases
(smooth, kinked and discontinuous f, nine rules, n = 2 to 6): with the factors below the actual
error was within the indicator in 97.0% of them, against 81.2% for the plain largest difference
from one turned copy and the reference.
"""

import functools

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._adapted import AdaptedDeterministic, adapted
from ._base import AbstractDeterministicRule, AbstractRule

TURNS = 2
"""Turned copies compared with a rule: two see a jump that one misses in about a quarter of the
cases where one does (blind cases 1.8% -> 1.6%, largest finite ratio 2,640 -> 214)."""
WIDEN_COARSER = 2.0
"""A coarser reference (Gauss-Hermite of one order less, the sparse grid one level down, the
degree-3 cubature for the degree-5 one) errs by more than the rule: its difference is mostly
its own error, but not always (Cubature(5) against Cubature(3) on smooth f)."""
WIDEN_FINER = 3.0
"""A finer reference (the degree-5 cubature for the degree-3 rules) errs on the same side as
the rule on smooth f, so the difference under-reports: by up to 2.9x on exp(a.x)."""
WIDEN_TURNED = 3.0
"""A turned copy errs by as much as the rule, so their difference can be small by chance."""


@functools.cache
def rotation(dim: int, turn: int = 0) -> np.ndarray:
    """A fixed orthogonal (dim, dim) matrix, far from any axis permutation: the orthogonal
    factor of a Gaussian matrix drawn from a fixed seed, one per turn."""
    seed = 20_240_611 + dim + 7_919 * turn
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


class Rotated(AbstractDeterministicRule):
    """`rule` with its nodes turned by `rotation(dim, turn)`."""

    rule: AbstractDeterministicRule
    turn: int = eqx.field(static=True, default=0)

    def __repr__(self) -> str:
        turn = f", turn={self.turn}" if self.turn else ""
        return f"Rotated({self.rule!r}{turn})"

    @property
    def degree(self):
        return getattr(self.rule, "degree", None)

    def num_nodes(self, dim: int) -> int:
        return self.rule.num_nodes(dim)

    def node(
        self, index: Int[Array, ""], dim: int, dtype
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        xi, weight = self.rule.node(index, dim, dtype)
        return rotation(dim, self.turn).astype(dtype) @ xi, weight

    def chunk_size(self, dim: int, batch_size: int) -> int:
        return self.rule.chunk_size(dim, batch_size)

    def chunk(self, number, size: int, dim: int, dtype, key=None):
        nodes, weights = self.rule.chunk(number, size, dim, dtype, key)
        return nodes @ jnp.asarray(rotation(dim, self.turn), dtype).T, weights

    def table(self, dim: int):
        table = self.rule.table(dim)
        if table is None:
            return None
        nodes, weights = table
        return nodes @ rotation(dim, self.turn).T, weights

    def error_reference(self) -> None:
        return None


def references(rule: AbstractDeterministicRule, dim: int) -> list[AbstractRule]:
    """The rules a deterministic rule's value is compared with: its `error_reference()` and,
    from two dimensions, the rule itself turned by `TURNS` fixed rotations (for a rule moved
    onto a Laplace fit, turned before it is moved). Empty where the rule names no reference."""
    return [other for other, _ in widened_references(rule, dim)]


def widened_references(
    rule: AbstractDeterministicRule, dim: int
) -> list[tuple[AbstractRule, float]]:
    """`references(rule, dim)`, each with the factor its difference from the rule is widened by."""
    reference = rule.error_reference()
    if reference is None:
        return []
    finer = reference.num_nodes(dim) > rule.num_nodes(dim)
    pairs = [(reference, WIDEN_FINER if finer else WIDEN_COARSER)]
    if dim < 2:
        return pairs
    for turn in range(TURNS):
        if isinstance(rule, AdaptedDeterministic):
            turned = adapted(Rotated(rule.rule, turn), rule.adaptation)
        else:
            turned = Rotated(rule, turn)
        pairs.append((turned, WIDEN_TURNED))
    return pairs
