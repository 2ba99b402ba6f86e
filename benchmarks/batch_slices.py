"""A `jax.vmap` over more Gaussians than gaussjax sums at once: time and memory of the slices.

    python benchmarks/batch_slices.py     # about two minutes on 2 cores

E[log sigmoid(y f)] over B one-dimensional Gaussians, 20 Gauss-Hermite nodes each (the
variational expectation of `speed.py`), for B = 10^6 (summed whole) and 4 x 10^6 (past
`_batch.MAX_BYTES_AT_ONCE`: its gradient is summed a slice at a time). For each, the value and
the value with its gradient: gaussjax as it chooses, gaussjax forced to sum the whole batch
(the limit raised), and a hand-written vectorised grid. Reported: each one's time against the
grid (interleaved, `timing.py`) and the temporary memory XLA plans for it
(`memory_analysis().temp_size_in_bytes`, the program's own arrays, inputs and outputs
excluded). Then the reason slices cost time on a CPU: one elementwise expression over
2^24 numbers, computed whole, in 4 slices inside a `lax.scan`, and in 4 slices written out
one after another.
"""

import jax
import jax.numpy as jnp
import numpy as np
from timing import interleaved
from workload import bernoulli_data, bernoulli_gaussjax, bernoulli_grid, gauss_hermite_grid

import gaussjax as gj
from gaussjax import _batch

jax.config.update("jax_enable_x64", True)
CHOSEN = _batch.MAX_BYTES_AT_ONCE


def main():
    rule = gj.GaussHermite(order=20)
    nodes, weights = (jnp.asarray(t) for t in gauss_hermite_grid(20, 1))
    ours = lambda *data: bernoulli_gaussjax(*data, rule)  # noqa: E731
    grid = lambda *data: bernoulli_grid(*data, nodes, weights)  # noqa: E731
    print("| Gaussians | what | gaussjax | time / grid | temporary memory | grid's memory |")
    print("|---|---|---|---|---|---|")
    for size in (10**6, 4 * 10**6):
        data = bernoulli_data(np.random.default_rng(0), size)
        for what, transform in (
            ("Z", lambda g: g),
            ("Z and gradient", lambda g: jax.value_and_grad(g, argnums=(0, 1))),
        ):
            compiled = {}
            for name, limit, function in (
                ("as it chooses", CHOSEN, ours),
                ("whole batch", 2**62, ours),
                ("grid", CHOSEN, grid),
            ):
                _batch.MAX_BYTES_AT_ONCE = limit  # read when the program is traced
                compiled[name] = jax.jit(transform(function)).lower(*data).compile()
            _batch.MAX_BYTES_AT_ONCE = CHOSEN
            times = interleaved({k: (lambda c=c, d=data: c(*d)) for k, c in compiled.items()}, 9)
            for name in ("as it chooses", "whole batch"):
                memory = compiled[name].memory_analysis().temp_size_in_bytes
                grid_memory = compiled["grid"].memory_analysis().temp_size_in_bytes
                print(
                    f"| {size:.0e} | {what} | {name} | {times[name] / times['grid']:.2f} "
                    f"| {memory / 2**20:.0f} MB | {grid_memory / 2**20:.0f} MB |",
                    flush=True,
                )


def loop_body():
    """The same work whole, as the body of a loop, and unrolled: XLA's CPU code splits a large
    elementwise loop over its threads, but runs a while loop's body on one."""
    x = jnp.linspace(0.0, 1.0, 2**24).reshape(4, 2**22)

    def whole(x):
        return jnp.sin(jnp.exp(x) * 1.3 + jnp.cos(x))

    def in_a_scan(x):
        return jax.lax.scan(lambda carry, row: (carry, whole(row)), 0.0, x)[1]

    def unrolled(x):
        return jnp.stack([whole(x[i]) for i in range(4)])

    calls = {"whole": whole, "in a scan": in_a_scan, "unrolled": unrolled}
    calls = {name: jax.jit(f) for name, f in calls.items()}
    times = interleaved({name: (lambda c=c: c(x)) for name, c in calls.items()}, 9)
    print("\n| 2^24 numbers, sin(1.3 exp(x) + cos(x)) | time |\n|---|---|")
    for name, t in times.items():
        print(f"| {name} | {t * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
    loop_body()
