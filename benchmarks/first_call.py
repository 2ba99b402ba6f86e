"""The first call of a tolerance-driven `gj.expectation` (no `rule=`), jitted: tracing, compiling
its ladder of rules and running once, each case in a fresh process (nothing cached).

    python benchmarks/first_call.py     # about a minute on 2 cores

f is a peaked Gaussian bump, scalar and differentiable, so the ladder also holds the Laplace
fit's families: the longest compile a plain call makes at each dimension. The last column is
the same gradient call with `adapt=False` (no fit, one family per rule). `gj.estimate` compiles
the same ladder as `gj.expectation` and returns its best value where the tolerance is missed
(as it is at n = 6 without the fit), so every case runs to the end.
"""

import subprocess
import sys

PROGRAM = """
import sys, time
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import gaussjax as gj

n, gradient = int(sys.argv[1]), sys.argv[2] != "value"
options = {"adapt": False} if sys.argv[2] == "gradient, adapt=False" else {}
f = lambda x: jnp.exp(-2.0 * jnp.sum((x - 0.3) ** 2))
mean, cov = jnp.linspace(0.1, 0.5, n), 0.5 * jnp.eye(n)
call = lambda m, c: gj.estimate(f, m, c, **options).value
if gradient:
    call = jax.value_and_grad(call, argnums=(0, 1))
start = time.perf_counter()
jax.block_until_ready(jax.jit(call)(mean, cov))
print(time.perf_counter() - start)
"""


def first_call(n: int, what: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(n), what], capture_output=True, text=True, check=True
    )
    return float(result.stdout.split()[-1])


def main():
    cases = ("value", "gradient", "gradient, adapt=False")
    print("| n | Z | Z and its gradient in mean and cov | the same, `adapt=False` |")
    print("|---|---|---|---|")
    for n in (1, 3, 6, 12):
        seconds = " | ".join(f"{first_call(n, what):.1f} s" for what in cases)
        print(f"| {n} | {seconds} |", flush=True)


if __name__ == "__main__":
    main()
