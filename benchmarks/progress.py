"""What `progress=` costs: the same compiled call with progress off and on, in one run.

    python benchmarks/progress.py                  # dZ/dK and Z, GaussHermite(order=10), n = 6
    python benchmarks/progress.py --order 12       # 2,985,984 nodes, 46 chunks

The workload is the question's (benchmarks/problem.py): 10^6 nodes in chunks of 65,536 (16
chunks), one callback per chunk and pass. Three quantities, each jitted: Z (a forward pass),
dZ/dK (`jax.grad`: under jit only the backward pass runs, XLA drops the unused forward sum) and
both (`jax.value_and_grad`: a forward and a backward pass). Four variants of each: off; off
again (compiled separately: the spread between the two is the noise floor); on, reporting to a
reporter that only counts; on, drawing a tqdm bar into /dev/null. They are timed in interleaved
rounds after compilation, and each ratio to "off" is the median over the rounds of the
per-round ratio, so that the load of a shared machine largely cancels out.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).parent))
from problem import jax_functions, matrices  # noqa: E402

import gaussjax as gj  # noqa: E402

jax.config.update("jax_enable_x64", True)


class Count(gj.AbstractProgress):
    """A reporter that only counts what it is told (the cost of the callbacks themselves)."""

    def __init__(self):
        self.updates = 0

    def start(self, task):
        pass

    def update(self, task, done):
        self.updates += 1

    def close(self, task):
        pass


def variants(order: int, batch_size: int):
    c = matrices(2, 3)
    mean_fn, cov_fn, f, _ = jax_functions(c)
    K = jnp.asarray(c["K0"])
    rule = gj.GaussHermite(order=order)
    devnull = open(os.devnull, "w")  # noqa: SIM115 (kept open for the bars)
    reporters = {
        "off": False,
        "off again (noise floor)": False,
        "on, counting": Count(),
        "on, tqdm": gj.TqdmProgress(file=devnull),
    }

    def z_of(progress):
        def z(K):
            mean, cov = mean_fn(K), cov_fn(K)
            return gj.expectation(f, mean, cov, rule=rule, batch_size=batch_size, progress=progress)

        return z

    calls = {}
    for name, progress in reporters.items():
        calls[("Z", name)] = jax.jit(z_of(progress))
        calls[("dZ/dK", name)] = jax.jit(jax.grad(z_of(progress)))
        calls[("Z and dZ/dK", name)] = jax.jit(jax.value_and_grad(z_of(progress)))
    return K, calls, reporters


QUANTITIES = {"Z": "forward", "dZ/dK": "backward", "Z and dZ/dK": "forward + backward"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    K, calls, reporters = variants(args.order, args.batch_size)
    num_nodes = args.order**6
    num_chunks = -(-num_nodes // args.batch_size)

    def run(call):
        start = time.perf_counter()
        jax.block_until_ready(call(K))
        jax.effects_barrier()  # the last callbacks have run: they are part of the cost
        return time.perf_counter() - start

    for call in calls.values():
        run(call)  # compile
    times = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():  # interleaved: every variant in every round
            times[name].append(run(call))

    counted = reporters["on, counting"].updates
    expected = (args.rounds + 1) * 4 * num_chunks  # N updates per pass, 4 passes per round
    print(
        f"GaussHermite(order={args.order}), n = 6: {num_nodes:,} nodes in {num_chunks} chunks "
        f"of {args.batch_size:,}; {args.rounds} interleaved rounds, {jax.devices()[0].platform}; "
        f"updates counted {counted} (at most {expected}: a value is skipped where its event "
        "arrives after a later one)"
    )
    print("| quantity (passes) | progress | median time | time / off (median over rounds) |")
    print("|---|---|---|---|")
    for quantity, passes in QUANTITIES.items():
        off = times[(quantity, "off")]
        for name in reporters:
            these = times[(quantity, name)]
            ratio = statistics.median(t / o for t, o in zip(these, off, strict=True))
            median = statistics.median(these) * 1e3
            print(f"| {quantity} ({passes}) | {name} | {median:.1f} ms | {ratio:.3f} |")


if __name__ == "__main__":
    main()
