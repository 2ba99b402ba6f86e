"""Plain Monte Carlo: independent standard-normal samples."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.random import threefry2x32_p
from jaxtyping import Array, Float, Int, PRNGKeyArray, UInt32

from ._base import AbstractRandomRule, check_positive_int


class MonteCarlo(AbstractRandomRule):
    r"""Monte Carlo with `num_samples` independent draws $\xi_i \sim N(0, I_d)$, weights $1/N$:

    $$E[g(\xi)] \approx \frac1N \sum_{i=1}^N g(\xi_i).$$

    Unbiased, with standard error $\sigma_g / \sqrt N$, which `gj.estimate` reports from the
    sample variance. Needs `key`. Coordinate j of sample i comes from one counter-based draw,
    the Threefry-2x32 hash of the counter (i, j) under `key`, turned into a normal number as
    `jax.random.normal` does (inverse error function): a chunk of samples costs what one
    `jax.random.normal` draw of its shape costs, and each sample is the same whatever the
    chunk it falls in, so the value does not depend on `batch_size` (nor on the number of
    devices). A key of another generator (`jax.random.key(0, impl="rbg")`) draws sample i from
    `jax.random.fold_in(key, i)` instead.

    Args:
        num_samples: N >= 1 (at least 2 for an error estimate).

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> est = gj.estimate(lambda x: x @ x, jnp.zeros(3), jnp.eye(3),
        ...                   rule=gj.MonteCarlo(num_samples=4096), key=jax.random.key(0))
        >>> bool(abs(est.value - 3.0) < 4 * est.error)
        True
    """

    num_samples: int = eqx.field(static=True)

    def __check_init__(self):
        check_positive_int(self.num_samples, "num_samples", "MonteCarlo")

    def num_nodes(self, dim: int) -> int:
        return self.num_samples

    @property
    def num_replicates(self) -> int:
        return self.num_samples

    def refine(self, dim: int) -> "MonteCarlo":
        return MonteCarlo(num_samples=2 * self.num_samples)

    def node(
        self, index: Int[Array, ""], dim: int, dtype, key: PRNGKeyArray
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        xi = standard_normal(jnp.asarray(index, jnp.int32)[None], dim, dtype, key, True)[0]
        return xi, jnp.asarray(1.0 / self.num_samples, dtype)

    def chunk(
        self, number: Int[Array, ""], size: int, dim: int, dtype, key: PRNGKeyArray = None
    ) -> tuple[Float[Array, "size dim"], Float[Array, " size"]]:
        indices = number * size + jnp.arange(size, dtype=jnp.int32)
        nodes = standard_normal(indices, dim, dtype, key)
        return nodes, jnp.full(size, 1.0 / self.num_samples, dtype)


def standard_normal(
    indices: Int[Array, " b"], dim: int, dtype, key: PRNGKeyArray, one_by_one: bool = False
) -> Float[Array, "b dim"]:
    """Samples `indices` (each of `dim` independent N(0, 1) numbers) of the stream of `key`."""
    bits = _threefry_bits(indices, dim, dtype, key, one_by_one)
    if bits is None:  # another generator: one key per sample
        return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (dim,), dtype))(
            indices
        )
    return _bits_to_normal(bits, dtype)


def _threefry_bits(
    indices, dim: int, dtype, key, one_by_one: bool
) -> "UInt32[Array, 'b dim'] | None":
    """Threefry-2x32 of the counters (i, j), i in `indices`, j < dim: 32 or 64 random bits per
    number (None where `key` is not a Threefry key). `one_by_one`: called from `node`."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if str(jax.random.key_impl(key)) != "threefry2x32":
            return None
        data = jax.random.key_data(key)
    else:
        data = key
    if data.shape != (2,):
        return None
    data = data.astype(jnp.uint32)
    rows = lax.convert_element_type(indices, jnp.uint32)[:, None]
    columns = jnp.arange(dim, dtype=jnp.uint32)[None, :]
    rows, columns = jnp.broadcast_arrays(rows, columns)
    if one_by_one:  # the counters may be batched by a `jax.vmap` over indices: keys
        # batched like them (rows * 0), as the primitive's batching rule needs
        zero = rows * np.uint32(0)
        keys = (data[0] + zero, data[1] + zero)
    else:  # keys broadcast by the primitive itself: about 1.3x faster than full-shape keys
        keys = (data[0].reshape(1, 1), data[1].reshape(1, 1))
    high, low = threefry2x32_p.bind(*keys, rows, columns)
    if jnp.finfo(dtype).bits == 64:
        return (high.astype(jnp.uint64) << np.uint64(32)) | low.astype(jnp.uint64)
    return high ^ low


def _bits_to_normal(bits, dtype) -> Array:
    r"""N(0, 1) numbers from random bits, as `jax.random.normal` makes them: a uniform number u
    in (-1, 1) from the mantissa bits, then $\sqrt 2\,\mathrm{erf}^{-1}(u)$."""
    finfo = jnp.finfo(dtype)
    unsigned = bits.dtype
    shift = np.array(finfo.bits - finfo.nmant, unsigned)
    one = np.array(1.0, finfo.dtype).view(unsigned)
    unit = lax.bitcast_convert_type((bits >> shift) | one, finfo.dtype) - 1.0  # [0, 1)
    lowest = np.nextafter(np.array(-1.0, finfo.dtype), np.array(0.0, finfo.dtype))
    uniform = jnp.maximum(lowest, unit * (1.0 - lowest) + lowest)
    return (np.sqrt(2.0).astype(finfo.dtype) * lax.erf_inv(uniform)).astype(dtype)
