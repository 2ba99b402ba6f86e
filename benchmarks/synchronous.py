"""Why `jax.vmap` over 10^6 one-dimensional Gaussians runs at about 1.15x the hand-written grid on
a CPU, and what the memory allocator and XLA's reduction library have to do with it.

    python benchmarks/synchronous.py     # about two minutes on 2 cores

A gaussjax call under `jit` holds its run-time checks in one `lax.cond`, whose failing branch
calls back to Python (`gaussjax/_runtime.py`). JAX runs a program that holds a host callback
in the calling thread: the call returns when the program has finished, where a program without
one returns at once and runs on XLA's threads. In the calling thread, the 160 MB of
temporaries (2 x 10^7 values of f) are taken from the operating system and given back on every
call (glibc serves blocks above 32 MB with `mmap`): page faults and `munmap`, each call.

The script measures, each in a fresh process (the allocator is configured when it starts):

- how long a call takes to return (before `block_until_ready`), gaussjax and the peer;
- gaussjax / peer for the value and the value with its gradient, as it is, with its checks
  compiled out, and
- the same with glibc told to keep freed memory for reuse (`MALLOC_MMAP_THRESHOLD_` and
  `MALLOC_TRIM_THRESHOLD_`, Linux only);
- the same with XLA's own code for sums
  (`XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=-reduce`). By default XLA's CPU compiler
  (jaxlib 0.10) hands large sums to YNNPACK, which cannot take f along: f's values at all
  2 x 10^7 points are stored first, by gaussjax and by the hand-written grid alike. XLA's own
  code computes f inside the sum. The table counts the YNNPACK fusions in gaussjax's program.
"""

from timing import in_fresh_process

PROGRAM = """
import json, sys, time
sys.path.insert(0, HERE)
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
import gaussjax as gj
from checks_cost import without_checks
from timing import interleaved
from workload import bernoulli_data, bernoulli_gaussjax, bernoulli_grid, gauss_hermite_grid

args = bernoulli_data(np.random.default_rng(0), 10**6)
rule = gj.GaussHermite(order=20)
grid = tuple(jnp.asarray(t) for t in gauss_hermite_grid(20, 1))


def ours(means, variances, labels):
    return bernoulli_gaussjax(means, variances, labels, rule)


def peer(means, variances, labels):
    return bernoulli_grid(means, variances, labels, *grid)


def returns_after(call):
    jax.block_until_ready(call(*args))
    start = time.perf_counter()
    result = call(*args)
    returned = time.perf_counter() - start
    jax.block_until_ready(result)
    return returned


out = {}
for what, transform in (("Z", lambda g: g),
                        ("Z and gradient", lambda g: jax.value_and_grad(g, argnums=(0, 1)))):
    calls = {"ours": ours, "no checks": without_checks(ours), "peer": peer}
    calls = {name: jax.jit(transform(call)) for name, call in calls.items()}
    times = interleaved({name: (lambda c=c: c(*args)) for name, c in calls.items()}, 21)
    out[what] = {name: times[name] / times["peer"] for name in ("ours", "no checks")}
    out[what]["peer ms"] = times["peer"] * 1e3
    out[what]["returns after ms"] = {name: returns_after(calls[name]) * 1e3
                                     for name in ("ours", "peer")}
    compiled = calls["ours"].lower(*args).compile().as_text()
    out[what]["YNNPACK fusions"] = compiled.count('"kind":"__ynn_fusion"')
print(json.dumps(out))
"""

KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": "2000000000", "MALLOC_TRIM_THRESHOLD_": "4000000000"}
"""glibc: serve blocks up to 2 GB from its heap (not `mmap`) and keep up to 4 GB freed."""
XLA_OWN_SUMS = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=-reduce"}
"""XLA's CPU compiler: sums by its own code, fused with what they add up, not by YNNPACK."""


def main():
    print("10^6 one-dimensional Gaussians (vmap), GaussHermite(order=20), E[log sigmoid(y f)]")
    print(
        "| setting | what | gaussjax / peer | checks compiled out / peer | peer | "
        "call returns after: gaussjax, peer | YNNPACK fusions in gaussjax's program |"
    )
    print("|---|---|---|---|---|---|---|")
    settings = (
        ("default", {}),
        ("glibc keeps freed memory", KEEP_FREED_MEMORY),
        ("XLA's own sums", XLA_OWN_SUMS),
        ("both", {**KEEP_FREED_MEMORY, **XLA_OWN_SUMS}),
    )
    for name, environment in settings:
        for what, r in in_fresh_process(PROGRAM, environment).items():
            returned = r["returns after ms"]
            print(
                f"| {name} | {what} | {r['ours']:.2f} | {r['no checks']:.2f} | "
                f"{r['peer ms']:.0f} ms | {returned['ours']:.1f} ms, {returned['peer']:.1f} ms | "
                f"{r['YNNPACK fusions']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
