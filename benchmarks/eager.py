"""How much slower eager calls are than jitted ones, on the README's ten lines.

    python benchmarks/eager.py   # medians of 7 calls of each after a warm-up; about 5 minutes,
                                 # nearly all of it the eager tolerance-driven calls

Each quantity is computed eagerly (`gj.expectation(...)` called as it is: JAX dispatches every
operation one by one, and re-traces the rule's loop, f and the checks at every call) and
jitted (`jax.jit` of the same function, compiled once by the warm-up call). The ratio is
median(eager) / median(jitted), measured in one run on one machine. First, the first eager
call of the process is timed on its own.
"""

import statistics
import time

import jax
import jax.numpy as jnp

import gaussjax as gj

jax.config.update("jax_enable_x64", True)

A, v = jnp.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]]), jnp.array([1.0, -0.5])
g = lambda K: jnp.concatenate([A @ K @ v, (A @ K) @ (A @ K) @ v])  # noqa: E731
h = lambda K: 0.1 * jnp.eye(4) + 0.01 * jnp.sum(K**2) * jnp.ones((4, 4))  # noqa: E731
f = lambda x: jnp.exp(-0.5 * x @ x)  # noqa: E731
K = jnp.ones((3, 2))
REPEATS = 7


def z_rule(K):
    return gj.expectation(f, g(K), h(K), rule=gj.GaussHermite(order=10))


def z_plain(K):  # no rule: tolerance-driven, rtol = 1e-6
    return gj.expectation(f, g(K), h(K))


QUANTITIES = {
    "Z, GaussHermite(order=10)": z_rule,
    "dZ/dK, GaussHermite(order=10)": jax.grad(z_rule),
    "Z, no rule (tolerance-driven)": z_plain,
    "dZ/dK, no rule (tolerance-driven)": jax.grad(z_plain),
}


def median_seconds(fun) -> float:
    jax.block_until_ready(fun(K))  # warm-up: compiles the jitted version
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        jax.block_until_ready(fun(K))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first_call_seconds() -> float:
    """The first eager call without a rule in this process, which also compiles every JAX
    operation it meets for the first time (later calls reuse them)."""
    start = time.perf_counter()
    jax.block_until_ready(z_plain(K))
    return time.perf_counter() - start


def main() -> None:
    print(f"first eager call without a rule in this process: {first_call_seconds():.1f} s")
    print(f"{'quantity':36s} {'eager':>10s} {'jitted':>10s} {'eager / jitted':>15s}")
    for name, fun in QUANTITIES.items():
        eager, jitted = median_seconds(fun), median_seconds(jax.jit(fun))
        print(f"{name:36s} {eager * 1e3:8.1f} ms {jitted * 1e3:8.2f} ms {eager / jitted:15.0f}")


if __name__ == "__main__":
    main()
