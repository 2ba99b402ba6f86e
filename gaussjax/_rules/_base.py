"""The interface every rule implements: nodes and weights on N(0, I)."""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

PyTree = Any
# integrate(rule, transform) -> sum_i w_i transform(f(x_i)), computed over `rule`'s nodes.
Integrator = Callable[["AbstractRule", Callable[[PyTree], PyTree]], PyTree]


def identity(tree: PyTree) -> PyTree:
    return tree


def check_positive_int(value, name: str, owner: str, minimum: int = 1) -> None:
    """Raise a clear error where a rule's size parameter is not an int >= minimum."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{owner}({name}=...) needs an int, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{owner}({name}=...) needs {name} >= {minimum}, got {value}.")


class AbstractRule(eqx.Module):
    r"""A rule for expectations under the standard normal N(0, I_d):

    $$E[g(\xi)] \approx \sum_i w_i\, g(\xi_i), \qquad \xi \sim N(0, I_d).$$

    A rule yields its nodes one at a time, by index, so that they can be generated chunk by
    chunk and never materialised all at once. It never sees the integrand.
    """

    is_random: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def num_nodes(self, dim: int) -> int:
        """How many nodes the rule uses in `dim` dimensions (a Python int)."""

    @abc.abstractmethod
    def degree(self, dim: int) -> int | None:
        """The total degree up to which every monomial is integrated exactly (None: random)."""

    @abc.abstractmethod
    def node(
        self,
        index: Int[Array, ""],
        dim: int,
        dtype: jnp.dtype,
        key: PRNGKeyArray | None,
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        """The node xi_index (shape (dim,)) and its weight w_index, in `dtype`."""

    @abc.abstractmethod
    def value_and_error(self, integrate: Integrator, center: PyTree) -> tuple[PyTree, PyTree]:
        """The rule's value and an error estimate for it, as `gj.estimate` reports them.

        `integrate(rule, transform)` sums the weighted `transform(f(x_i))` over a rule's nodes;
        `center` is f at the mean, a shift that keeps variance sums free of cancellation.
        """

    def check_key(self, key: PRNGKeyArray | None) -> None:
        """Raise a clear error where a random rule has no key."""
        if self.is_random and key is None:
            raise ValueError(
                f"{type(self).__name__} is a random rule and needs a key: pass "
                "key=jax.random.key(0) (any seed) to gj.expectation / gj.estimate / gj.chain_rule."
            )


class AbstractDeterministicRule(AbstractRule):
    """A rule with fixed nodes whose error is estimated against another rule of the family."""

    is_random = False

    @abc.abstractmethod
    def coarser(self) -> "AbstractRule | None":
        """The next less accurate rule of the family (None: none)."""

    def error_reference(self) -> "AbstractRule | None":
        """The rule whose difference from this one is the error indicator; default `coarser()`."""
        return self.coarser()

    def value_and_error(self, integrate: Integrator, center: PyTree) -> tuple[PyTree, PyTree]:
        del center
        value = integrate(self, identity)
        reference = self.error_reference()
        if reference is None:
            return value, jax.tree.map(lambda v: jnp.full_like(v, jnp.inf), value)
        other = integrate(reference, identity)
        return value, jax.tree.map(lambda a, b: jnp.abs(a - b), value, other)
