"""The interface every rule implements: nodes and weights on N(0, I), and how to judge its error."""

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

PyTree = Any


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
    chunk and never materialised all at once. It never sees the integrand. Subclass
    `gj.AbstractDeterministicRule` or `gj.AbstractRandomRule`, not this class.

    Attributes:
        degree: the total degree up to which every monomial is integrated exactly (None for a
            random rule).
        is_random: whether the nodes are drawn from a key.
    """

    degree: eqx.AbstractVar[int | None]
    is_random: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def num_nodes(self, dim: int) -> int:
        """How many nodes the rule uses in `dim` dimensions (a Python int)."""

    def checked(self, dim: int, caller: str) -> "AbstractRule":
        """This rule, with checks of its values in `dim` dimensions that can only run when they
        are known (traced hyperparameters): eagerly a ValueError, under `jit` at run time (see
        `gaussjax/_runtime.py`). The default has nothing to check."""
        return self

    def refine(self, dim: int) -> "AbstractRule | None":
        """The next rule of the family in `dim` dimensions, with about twice the nodes or more,
        that a call with `rtol=`/`atol=` tries when this one is not accurate enough (None: the
        family ends here; the default)."""
        return None


class AbstractDeterministicRule(AbstractRule):
    r"""A rule with fixed nodes, whose error is judged against another rule of its family.

    Implement `num_nodes(dim)`, `node(index, dim, dtype)`, `error_reference()` and `degree`.
    `gj.estimate` reports $\max(|Z - Z_{\mathrm{ref}}|, |Z - Z_{\mathrm{rot}}|)$ with
    $Z_{\mathrm{ref}}$ the value of `error_reference()` and, from two dimensions,
    $Z_{\mathrm{rot}}$ that of the rule turned by a fixed rotation: an indicator of the error
    rather than a bound (docs/errors.md measures how often it covers the actual error).

    Example:
        The 2d points $\pm\sqrt d\, e_i$ with weights $1/(2d)$ (exact for degree 3), judged
        against the degree-5 cubature:

        >>> from typing import ClassVar
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> class Axes(gj.AbstractDeterministicRule):
        ...     degree: ClassVar[int] = 3
        ...     def num_nodes(self, dim):
        ...         return 2 * dim
        ...     def node(self, index, dim, dtype):
        ...         sign = 1 - 2 * (index % 2)
        ...         xi = jnp.zeros(dim, dtype).at[index // 2].set(sign * dim**0.5)
        ...         return xi, jnp.asarray(0.5 / dim, dtype)
        ...     def error_reference(self):
        ...         return gj.Cubature(degree=5)
        >>> est = gj.estimate(lambda x: x @ x + x[0] ** 3, jnp.zeros(3), jnp.eye(3), rule=Axes())
        >>> round(float(est.value), 6), round(float(est.error), 6)
        (3.0, 0.0)
    """

    is_random: ClassVar[bool] = False

    @abc.abstractmethod
    def node(
        self, index: Int[Array, ""], dim: int, dtype: jnp.dtype
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        """The node xi_index (shape (dim,)) and its weight w_index, in `dtype`."""

    @abc.abstractmethod
    def error_reference(self) -> "AbstractRule | None":
        """The rule whose difference from this one is the error indicator (None: no such rule;
        the reported error is then infinite)."""

    def table(self, dim: int) -> "tuple[np.ndarray, np.ndarray] | None":
        """All nodes (num_nodes, dim) and weights (num_nodes,) in float64 NumPy, in index order,
        where a rule can build them without JAX (faster for large grids); None by default."""
        return None


class AbstractRandomRule(AbstractRule):
    r"""A rule whose nodes are drawn from a key, in independent replicates.

    The nodes come in `num_replicates` blocks of consecutive indices, each block of equal size
    and equal weights, the blocks independent of one another (for plain Monte Carlo every sample
    is its own block). `gj.estimate` reports the standard error of the mean of the blocks.
    Implement `num_nodes(dim)`, `node(index, dim, dtype, key)` and `num_replicates`.

    Example:
        Antithetic Monte Carlo: independent pairs $\pm\xi$, exact for odd f; each pair is a
        replicate.

        >>> import equinox as eqx, jax, jax.numpy as jnp, gaussjax as gj
        >>> class Antithetic(gj.AbstractRandomRule):
        ...     num_pairs: int = eqx.field(static=True)
        ...     def num_nodes(self, dim):
        ...         return 2 * self.num_pairs
        ...     @property
        ...     def num_replicates(self):
        ...         return self.num_pairs
        ...     def node(self, index, dim, dtype, key):
        ...         xi = jax.random.normal(jax.random.fold_in(key, index // 2), (dim,), dtype)
        ...         sign = 1 - 2 * (index % 2)
        ...         return sign * xi, jnp.asarray(0.5 / self.num_pairs, dtype)
        >>> est = gj.estimate(lambda x: x[0] + x[1] ** 2, jnp.zeros(2), jnp.eye(2),
        ...                   rule=Antithetic(num_pairs=2000), key=jax.random.key(0))
        >>> bool(abs(est.value - 1.0) < 4 * est.error < 0.2)
        True
    """

    degree: ClassVar[None] = None
    is_random: ClassVar[bool] = True
    num_replicates: eqx.AbstractVar[int]

    @abc.abstractmethod
    def node(
        self, index: Int[Array, ""], dim: int, dtype: jnp.dtype, key: PRNGKeyArray
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        """The node xi_index (shape (dim,)) and its weight w_index, in `dtype`, from `key`."""

    def has_independent_samples(self, dim: int) -> bool:
        """Whether every node is its own replicate (independent, identically distributed)."""
        return self.num_replicates == self.num_nodes(dim)
