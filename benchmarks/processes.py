"""How much the same call's speed changes from one process to the next on this machine.

    python benchmarks/processes.py              # 2 x 20 fresh processes, about three minutes
    python benchmarks/processes.py --count 40

The call is `gj.MonteCarlo(num_samples=10**5)` at n = 4 (the speed table's Monte Carlo case),
compiled once per process and timed 21 times; each process reports its median. It runs as it
is and with its run-time checks compiled out (`checks_cost.without_checks`), processes of the
two kinds alternating. On this 2-core machine most processes take about 4.7 ms and some about
10.7 ms, with or without the checks: a ratio measured in one process (`speed.py`) can move by
2x for reasons outside the program.
"""

import argparse
import statistics

from timing import in_fresh_process

PROGRAM = """
import json, sys, time
sys.path.insert(0, HERE)
import jax, jax.numpy as jnp
import gaussjax as gj
from checks_cost import without_checks
from workload import constants, jax_functions

c = constants(4)
mean_fn, cov_fn, f = jax_functions(c)
K, key = jnp.asarray(c["K0"]), jax.random.key(0)
rule = gj.MonteCarlo(num_samples=10**5)


def call(K, key):
    return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, key=key)


run = jax.jit(without_checks(call) if CHECKS_OUT else call)
jax.block_until_ready(run(K, key))
times = []
for _ in range(21):
    start = time.perf_counter()
    jax.block_until_ready(run(K, key))
    times.append(time.perf_counter() - start)
times.sort()
print(json.dumps(times[10]))
"""


def median_ms(checks_out: bool) -> float:
    return 1e3 * in_fresh_process(PROGRAM, CHECKS_OUT=checks_out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="processes of each kind")
    options = parser.parse_args()
    medians = {False: [], True: []}
    for _ in range(options.count):
        for checks_out in (False, True):
            medians[checks_out].append(median_ms(checks_out))
    fastest = min(min(m) for m in medians.values())
    print("MonteCarlo(num_samples=10**5), n = 4: each process's median time")
    print("| program | processes | median of medians | fastest | slowest | over 1.5x the fastest |")
    print("|---|---|---|---|---|---|")
    for checks_out, label in ((False, "as it is"), (True, "checks compiled out")):
        m = medians[checks_out]
        slow = sum(t > 1.5 * fastest for t in m)
        print(
            f"| {label} | {len(m)} | {statistics.median(m):.2f} ms | {min(m):.2f} ms "
            f"| {max(m):.2f} ms | {slow} |"
        )


if __name__ == "__main__":
    main()
