r"""A deterministic rule turned by a fixed rotation: nodes $Q\xi_i$, the same weights.

N(0, I) is invariant under rotations, so the turned rule integrates the same polynomials of
total degree as the rule itself; on an f with a kink or a jump its nodes fall differently, and
its difference from the rule shows an error that a coarser rule of the same family, sharing
most of its nodes' positions, can miss (see `gaussjax/_errors.py`).
"""

import functools

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._adapted import AdaptedDeterministic, adapted
from ._base import AbstractDeterministicRule, AbstractRule


@functools.cache
def rotation(dim: int) -> np.ndarray:
    """A fixed orthogonal (dim, dim) matrix, far from any axis permutation: the orthogonal
    factor of a Gaussian matrix drawn from a fixed seed."""
    q, r = np.linalg.qr(np.random.default_rng(20_240_611 + dim).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


class Rotated(AbstractDeterministicRule):
    """`rule` with its nodes turned by `rotation(dim)`."""

    rule: AbstractDeterministicRule

    def __repr__(self) -> str:
        return f"Rotated({self.rule!r})"

    @property
    def degree(self):
        return getattr(self.rule, "degree", None)

    def num_nodes(self, dim: int) -> int:
        return self.rule.num_nodes(dim)

    def node(
        self, index: Int[Array, ""], dim: int, dtype
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        xi, weight = self.rule.node(index, dim, dtype)
        return rotation(dim).astype(dtype) @ xi, weight

    def chunk_size(self, dim: int, batch_size: int) -> int:
        return self.rule.chunk_size(dim, batch_size)

    def chunk(self, number, size: int, dim: int, dtype, key=None):
        nodes, weights = self.rule.chunk(number, size, dim, dtype, key)
        return nodes @ jnp.asarray(rotation(dim), dtype).T, weights

    def table(self, dim: int):
        table = self.rule.table(dim)
        if table is None:
            return None
        nodes, weights = table
        return nodes @ rotation(dim).T, weights

    def error_reference(self) -> None:
        return None


def references(rule: AbstractDeterministicRule, dim: int) -> list[AbstractRule]:
    """The rules a deterministic rule's value is compared with: its `error_reference()` and,
    from two dimensions, the rule itself turned by a fixed rotation (for a rule moved onto a
    Laplace fit, turned before it is moved). Empty where the rule names no reference."""
    reference = rule.error_reference()
    if reference is None:
        return []
    if dim < 2:
        return [reference]
    if isinstance(rule, AdaptedDeterministic):
        return [reference, adapted(Rotated(rule.rule), rule.adaptation)]
    return [reference, Rotated(rule)]
