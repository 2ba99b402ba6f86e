"""Plain Monte Carlo: independent standard-normal samples."""

import math

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
    sample variance. Needs `key`. Coordinates 2p and 2p + 1 of sample i come from two
    counter-based draws, the Threefry-2x32 hashes of the counters (i, 2p) and (i, 2p + 1)
    under `key`, made normal by Box-Muller: $\sqrt{-2 \log u_1}\,(\cos 2\pi u_2,
    \sin 2\pi u_2)$. Each sample is the same whatever the chunk it falls in, so the value does
    not depend on `batch_size` (nor on the number of devices), and a chunk costs less than
    one `jax.random.normal` draw of its shape, whose inverse error function in float64 costs
    more than the hash (`benchmarks/normals.py`). A key of another generator
    (`jax.random.key(0, impl="rbg")`) draws sample i from `jax.random.fold_in(key, i)` instead.

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

    def chunk_size(self, dim: int, batch_size: int) -> int:
        """An even number of samples (one past the last gets weight zero): XLA's CPU code is
        slower for an odd number of rows, the hash 3x-7x (`benchmarks/normals.py`) and the
        gradient at 100,001 samples by about a quarter."""
        size = super().chunk_size(dim, batch_size)
        return size + size % 2

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
    pairs = -(-dim // 2)
    bits = _threefry_bits(indices, 2 * pairs, dtype, key, one_by_one)
    if bits is None:  # another generator: one key per sample
        return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (dim,), dtype))(
            indices
        )
    return _box_muller(bits, dtype)[:, :dim]


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


def _box_muller(bits, dtype) -> Array:
    r"""Pairs of N(0, 1) numbers from random bits (b, 2p): columns 2k and 2k + 1 give uniform
    $u_1, u_2 \in [0, 1)$ from their mantissa bits, and the pair is
    $\sqrt{-2 \log(1 - u_1)}\,(\cos 2\pi u_2, \sin 2\pi u_2)$."""
    unit = _unit(bits, dtype).reshape(bits.shape[0], -1, 2)
    radius = jnp.sqrt(-2.0 * jnp.log1p(-unit[..., 0]))
    cos, sin = cos_sin_turn(unit[..., 1])
    return jnp.stack([radius * cos, radius * sin], axis=-1).reshape(bits.shape[0], -1)


def _unit(bits, dtype) -> Array:
    """Uniform numbers in [0, 1) from the mantissa bits of `bits` (32 or 64 bits each)."""
    finfo = jnp.finfo(dtype)
    shift = np.array(finfo.bits - finfo.nmant, bits.dtype)
    one = np.array(1.0, finfo.dtype).view(bits.dtype)
    return lax.bitcast_convert_type((bits >> shift) | one, finfo.dtype) - 1.0


_SIN = [(-1) ** k / math.factorial(2 * k + 1) for k in range(9)]
"""Taylor coefficients of sin(phi) / phi in phi^2: truncated at phi^17, below 1e-19 for
|phi| <= pi / 4."""
_COS = [(-1) ** k / math.factorial(2 * k) for k in range(10)]
"""... and of cos(phi) in phi^2, to phi^18."""


def cos_sin_turn(u: Array) -> tuple[Array, Array]:
    r"""$(\cos 2\pi u, \sin 2\pi u)$ for u in [0, 1), to a few units in the last place: the
    nearest quarter turn k/4 is split off exactly, $\phi = 2\pi(u - k/4)$ lies in
    $[-\pi/4, \pi/4]$, and its sine and cosine are polynomials, cheaper than XLA's general
    `cos` and `sin` on a CPU (`benchmarks/normals.py`)."""
    quarter = jnp.round(4 * u)
    phi = (2 * np.pi) * (u - quarter / 4)
    square = phi * phi
    sin, cos = phi * _horner(_SIN, square), _horner(_COS, square)
    turn = quarter.astype(jnp.int32) & 3
    turns = [turn == 0, turn == 1, turn == 2]  # else 3
    return jnp.select(turns, [cos, -sin, -cos], sin), jnp.select(turns, [sin, cos, -sin], -cos)


def _horner(coefficients: list[float], x: Array) -> Array:
    total = jnp.full_like(x, coefficients[-1])
    for coefficient in coefficients[-2::-1]:
        total = total * x + coefficient
    return total
