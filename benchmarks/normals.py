"""Where the time of a Monte Carlo draw goes: the counter hash, and two ways of making its bits
normal, against `jax.random.normal` itself. float64, 10^5 samples of 4 and of 6 numbers,
interleaved. Then the hash over an odd number of samples (10^5 + 1), which XLA's CPU code runs
several times slower than over an even number: `MonteCarlo.chunk_size` makes chunks even.

    python benchmarks/normals.py
"""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).parent))
from timing import interleaved  # noqa: E402

from gaussjax._rules._monte_carlo import _box_muller, _threefry_bits, _unit  # noqa: E402

jax.config.update("jax_enable_x64", True)


def main(num: int = 10**5, dim: int = 6):
    key = jax.random.key(0)
    indices = jnp.arange(num, dtype=jnp.int32)
    bits = jax.jit(lambda key: _threefry_bits(indices, dim, jnp.float64, key, False))
    table = bits(key)
    box_muller = jax.jit(lambda bits: _box_muller(bits, jnp.float64))

    def with_xla_cos_sin(bits):
        unit = _unit(bits, jnp.float64).reshape(num, -1, 2)
        radius, angle = jnp.sqrt(-2.0 * jnp.log1p(-unit[..., 0])), 2 * jnp.pi * unit[..., 1]
        return jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle)], -1).reshape(num, -1)

    box_muller_xla = jax.jit(with_xla_cos_sin)
    inverse_erf = jax.jit(
        lambda bits: (
            jnp.sqrt(2.0)
            * jax.lax.erf_inv(jnp.maximum(2 * _unit(bits, jnp.float64) - 1, 2**-52 - 1))
        )
    )
    normal = jax.jit(lambda key: jax.random.normal(key, (num, dim)))
    calls = {  # every input an argument: nothing for XLA to fold at compile time
        "the Threefry hash of (i, j)": lambda: bits(key),
        "Box-Muller on its bits (gaussjax)": lambda: box_muller(table),
        "the same with XLA's cos and sin": lambda: box_muller_xla(table),
        "inverse error function on its bits": lambda: inverse_erf(table),
        "jax.random.normal(key, (N, n))": lambda: normal(key),
    }
    times = interleaved(calls, 31)
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}, {num} x {dim} numbers")
    for name, seconds in times.items():
        print(f"{name:>40}: {seconds * 1e3:.2f} ms")


def odd(num: int = 10**5 + 1, dim: int = 6):
    key = jax.random.key(0)
    calls = {
        f"the hash of {count} samples": jax.jit(
            lambda key, count=count: _threefry_bits(
                jnp.arange(count, dtype=jnp.int32), dim, jnp.float64, key, False
            )
        )
        for count in (num - 1, num, num + 1)
    }
    times = interleaved({name: (lambda c=c: c(key)) for name, c in calls.items()}, 31)
    print(f"{dim} numbers per sample")
    for name, seconds in times.items():
        print(f"{name:>40}: {seconds * 1e3:.2f} ms")


if __name__ == "__main__":
    for dim in (4, 6):
        main(dim=dim)
    odd()
