"""A rule moved onto a Gaussian q = N(z*, T T^T): nodes z* + T xi, weights times N(0, I) / q.

`adapt="laplace"` builds q from the Laplace fit of f N (see `gaussjax/_laplace.py`); the moved
rule is a rule for N(0, I) like any other, and never sees f.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._base import AbstractDeterministicRule, AbstractRandomRule


class Adaptation(eqx.Module):
    r"""The Laplace fit in the coordinates $z$ of $x = \mu + Lz$: $q = N(z^*, C^{-\top}C^{-1})$,
    held as the shift $z^*$, the transform $T = C^{-\top}$ and $\log\det T$."""

    shift: Float[Array, " r"]
    transform: Float[Array, "r r"]
    log_det: Float[Array, ""]

    def apply(self, xi: Float[Array, " r"], weight: Float[Array, ""]):
        r"""A node $\xi$ of a rule for $N(0, I)$ moved onto q: $z = z^* + T\xi$, with weight
        $w\, N(z; 0, I) / q(z) = w\, e^{(|\xi|^2 - |z|^2)/2} \det T$."""
        z = self.shift + self.transform @ xi
        return z, weight * jnp.exp(0.5 * (xi @ xi - z @ z) + self.log_det)


class AdaptedDeterministic(AbstractDeterministicRule):
    """A deterministic rule moved onto the Laplace fit (see `Adaptation.apply`)."""

    rule: AbstractDeterministicRule
    adaptation: Adaptation

    @property
    def degree(self) -> None:
        return None  # exact for polynomials times a ratio of Gaussians, not for polynomials

    def __repr__(self) -> str:
        return f"Adapted({self.rule!r})"

    def num_nodes(self, dim: int) -> int:
        return self.rule.num_nodes(dim)

    def node(self, index, dim: int, dtype):
        return self.adaptation.apply(*self.rule.node(index, dim, dtype))

    def chunk_size(self, dim: int, batch_size: int) -> int:
        return self.rule.chunk_size(dim, batch_size)

    def chunk(self, number, size: int, dim: int, dtype, key=None):
        return jax.vmap(self.adaptation.apply)(*self.rule.chunk(number, size, dim, dtype))

    def error_reference(self):
        return adapted(self.rule.error_reference(), self.adaptation)

    def refine(self, dim: int):
        return adapted(self.rule.refine(dim), self.adaptation)


class AdaptedRandom(AbstractRandomRule):
    """A random rule moved onto the Laplace fit: importance sampling from it."""

    rule: AbstractRandomRule
    adaptation: Adaptation

    def __repr__(self) -> str:
        return f"Adapted({self.rule!r})"

    @property
    def num_replicates(self) -> int:
        return self.rule.num_replicates

    def num_nodes(self, dim: int) -> int:
        return self.rule.num_nodes(dim)

    def node(self, index, dim: int, dtype, key):
        return self.adaptation.apply(*self.rule.node(index, dim, dtype, key))

    def chunk_size(self, dim: int, batch_size: int) -> int:
        return self.rule.chunk_size(dim, batch_size)

    def chunk(self, number, size: int, dim: int, dtype, key):
        return jax.vmap(self.adaptation.apply)(*self.rule.chunk(number, size, dim, dtype, key))

    def refine(self, dim: int):
        return adapted(self.rule.refine(dim), self.adaptation)


def adapted(rule, adaptation: Adaptation):
    """`rule` moved onto the Laplace fit (None stays None)."""
    if rule is None:
        return None
    if isinstance(rule, AbstractDeterministicRule):
        return AdaptedDeterministic(rule, adaptation)
    return AdaptedRandom(rule, adaptation)
