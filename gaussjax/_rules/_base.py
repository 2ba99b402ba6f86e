"""The interface every rule implements: nodes and weights on N(0, I), and how to judge its error."""

import abc
import functools
from typing import Any, ClassVar

import equinox as eqx
import jax
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

    def chunk_size(self, dim: int, batch_size: int) -> int:
        """How many nodes one chunk holds when at most `batch_size` are asked for: by default
        `batch_size` itself (at most the whole rule). A rule whose nodes come in blocks (the
        rows of a tensor grid) may round it down to whole blocks, so that `chunk` can build
        them by broadcasting."""
        return max(1, min(batch_size, self.num_nodes(dim)))

    @abc.abstractmethod
    def chunk(
        self, number: Int[Array, ""], size: int, dim: int, dtype, key: PRNGKeyArray | None = None
    ) -> tuple[Float[Array, "size dim"], Float[Array, " size"]]:
        """Nodes `number * size` to `number * size + size - 1` and their weights, in `dtype`
        (`key`: a random rule's key, None for a deterministic rule). `number` is traced (a loop
        counter); indices past the last node may give any node of the rule (the caller sets
        their weights to zero). Implemented by the two subclasses from `node`; override it
        where a chunk can be built faster than node by node."""

    def chunk_points(
        self,
        number: Int[Array, ""],
        size: int,
        dim: int,
        dtype,
        key: PRNGKeyArray | None,
        shift: Float[Array, " n"],
        factor: Float[Array, "n dim"],
    ) -> tuple[Float[Array, "size n"], Float[Array, " size"]]:
        r"""The chunk's nodes moved to $x_i = \mathrm{shift} + \mathrm{factor}\,\xi_i$ (the points
        where f is evaluated), and their weights. By default `chunk`, then one matrix product;
        a tensor grid adds one small table per axis instead."""
        nodes, weights = self.chunk(number, size, dim, dtype, key)
        return shift + nodes @ factor.T, weights

    def _indices(self, number: Int[Array, ""], size: int, dim: int) -> Int[Array, " size"]:
        """The node indices of chunk `number`, those past the last node replaced by the last."""
        indices = number * size + jnp.arange(size, dtype=jnp.int32)
        return jnp.minimum(indices, self.num_nodes(dim) - 1)


class AbstractDeterministicRule(AbstractRule):
    r"""A rule with fixed nodes, whose error is judged against another rule of its family.

    Implement `num_nodes(dim)`, `node(index, dim, dtype)`, `error_reference()` and `degree`.
    `gj.estimate` reports $\max(c\,|Z - Z_{\mathrm{ref}}|, 3|Z - Z_{\mathrm{rot},1}|,
    3|Z - Z_{\mathrm{rot},2}|)$ with $Z_{\mathrm{ref}}$ the value of `error_reference()`
    ($c = 2$ for a reference with fewer nodes, 3 for one with more) and, from two dimensions,
    $Z_{\mathrm{rot},k}$ those of the rule turned by two fixed rotations: an indicator of the
    error rather than a bound (docs/errors.md measures how often it covers the actual error).

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

    def chunk(
        self, number: Int[Array, ""], size: int, dim: int, dtype, key: None = None
    ) -> tuple[Float[Array, "size dim"], Float[Array, " size"]]:
        """Chunk `number` of `size` nodes (see `gj.AbstractRule.chunk`): a small rule (no traced
        hyperparameters, at most 2^16 numbers in its table) slices its NumPy table, computed
        once; a larger one calls `node` for each index."""
        table = small_table(self, dim, dtype)
        if table is not None:
            return table_chunk(table, number, size)
        indices = self._indices(number, size, dim)
        return jax.vmap(lambda i: self.node(i, dim, dtype))(indices)


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

    def chunk(
        self, number: Int[Array, ""], size: int, dim: int, dtype, key: PRNGKeyArray = None
    ) -> tuple[Float[Array, "size dim"], Float[Array, " size"]]:
        """Chunk `number` of `size` nodes (see `gj.AbstractRule.chunk`), by `node` for each
        index. An override must give each node the value `node` gives it, whatever `size` (so
        that `batch_size` does not change the result)."""
        indices = self._indices(number, size, dim)
        return jax.vmap(lambda i: self.node(i, dim, dtype, key))(indices)

    def has_independent_samples(self, dim: int) -> bool:
        """Whether every node is its own replicate (independent, identically distributed)."""
        return self.num_replicates == self.num_nodes(dim)


MAX_TABLE_ENTRIES = 2**16
"""A deterministic rule's nodes are a compile-time constant up to this many numbers (dim x
nodes); larger rules make their nodes at run time, so that compiling stays fast."""


def small_table(
    rule: AbstractDeterministicRule, dim: int, dtype
) -> "tuple[np.ndarray, np.ndarray] | None":
    """All nodes and weights of a small deterministic rule without traced hyperparameters, in
    `dtype`, computed once (None for other rules)."""
    no_arrays = not jax.tree.leaves(eqx.filter(rule, eqx.is_array))
    if not no_arrays or rule.num_nodes(dim) * dim > MAX_TABLE_ENTRIES:
        return None
    return _cached_table(rule, dim, jnp.dtype(dtype).name)


@functools.lru_cache(maxsize=64)
def _cached_table(rule: AbstractDeterministicRule, dim: int, dtype: str):
    table = rule.table(dim)
    if table is None:
        indices = np.arange(rule.num_nodes(dim), dtype=np.int32)
        jitted = jax.jit(jax.vmap(lambda i: rule.node(i, dim, dtype)))
        table = jitted.lower(indices).compile()(indices)  # runs now, also under an outer jit
    nodes, weights = (np.asarray(t).astype(dtype) for t in table)
    return nodes, weights


def table_chunk(table: tuple[np.ndarray, np.ndarray], number: Int[Array, ""], size: int):
    """Chunk `number` of `size` rows of a NumPy table (rows past its end repeat its last)."""
    nodes, weights = table
    num_chunks = -(-len(weights) // size)
    pad = num_chunks * size - len(weights)
    nodes = jnp.asarray(np.concatenate([nodes, np.repeat(nodes[-1:], pad, axis=0)]))
    weights = jnp.asarray(np.concatenate([weights, np.repeat(weights[-1:], pad)]))
    if num_chunks == 1:
        return nodes, weights
    start = number * size
    return (
        jax.lax.dynamic_slice_in_dim(nodes, start, size),
        jax.lax.dynamic_slice_in_dim(weights, start, size),
    )
