"""One replicate of a random rule: a block of its nodes, alone, as a rule of its own."""

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._base import AbstractRandomRule


class Replicate(AbstractRandomRule):
    """Block `index` of the `rule.num_replicates` blocks of a random rule, weights rescaled to
    sum to one: an independent estimate of its own. `index` may be traced (e.g. by `jax.vmap`
    over all blocks at once)."""

    rule: AbstractRandomRule
    index: Int[Array, ""]
    num_replicates: ClassVar[int] = 1

    def num_nodes(self, dim: int) -> int:
        return self.rule.num_nodes(dim) // self.rule.num_replicates

    def node(
        self, index: Int[Array, ""], dim: int, dtype, key: PRNGKeyArray
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        xi, weight = self.rule.node(self.index * self.num_nodes(dim) + index, dim, dtype, key)
        return xi, weight * jnp.asarray(self.rule.num_replicates, dtype)
