"""Speed and scale: gaussjax against the code a user would write by hand, ratios in one run.

    python benchmarks/speed.py                 # everything, up to 10^7 grid nodes
    python benchmarks/speed.py --max-nodes 1e6 # a shorter run

Every ratio is gaussjax / peer, both measured in this process, interleaved round by round
(`timing.py`), medians after compilation, float64: below 1 means gaussjax is faster. The table
goes to stdout and to benchmarks/speed_results.md (with the device it ran on); the same script
runs unchanged on a GPU (`--output benchmarks/speed_results_gpu.md`). A full run then rewrites
the README's speed table from both files (`readme_table.py`), unless glibc's allocator or XLA
was set (`MALLOC_*` or `XLA_FLAGS` in the environment, docs/performance.md): such a run says so
under its first line and leaves the README alone, whose table reports the defaults. Cases:

- tensor grids: `GaussHermite` against the hand-written grid passed as an argument (built once
  in NumPy, so its nodes cost the peer nothing), value and dZ/dK, with and without batch_size;
- first call (trace + compile + run) of value and gradient for the default rule of each
  dimension up to 100, and whether XLA printed anything;
- Monte Carlo against one `jax.random.normal` draw, TensorFlow Probability's JAX substrate
  (where it installs and imports) and PyTorch's rsample + autograd;
- `jax.vmap` over many Gaussians against a hand-written vectorised grid;
- one expectation spread over 2 devices against the same on 1 (in a subprocess).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# PyTorch's OpenMP threads spin for a while after each call by default; told not to, they leave
# both cores to the JAX call timed next (idle, they then use no processor time).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import readme_table  # noqa: E402
from timing import in_fresh_process, interleaved, rounds_for  # noqa: E402
from workload import (  # noqa: E402
    bernoulli_data,
    bernoulli_gaussjax,
    bernoulli_grid,
    constants,
    gauss_hermite_grid,
    grid_problem,
    hand_written,
    hand_written_batched,
    jax_functions,
    one_normal_draw,
    torch_functions,
)

import gaussjax as gj  # noqa: E402

jax.config.update("jax_enable_x64", True)


HOST_TRANSFERS: list[str] = []
"""Calls of gaussjax, compiled and given device arrays, that still moved data to or from the
host (found by `jax.transfer_guard("disallow")`): none is expected."""


def measure(ours, peer, budget: float = 3.0) -> tuple[float, float]:
    """Median seconds of two zero-argument calls, interleaved (`ours` checked for host
    transfers first)."""
    jax.block_until_ready(ours())
    jax.block_until_ready(peer())
    try:
        with jax.transfer_guard("disallow"):
            jax.block_until_ready(ours())
    except Exception as error:  # the guard raises JAX's own runtime error
        HOST_TRANSFERS.append(str(error).splitlines()[0][:200])
    start = time.perf_counter()
    jax.block_until_ready(peer())
    rounds = rounds_for(time.perf_counter() - start, budget)
    times = interleaved({"ours": ours, "peer": peer}, rounds)
    return times["ours"], times["peer"]


def row(case: str, peer: str, t_ours: float, t_peer: float, note: str = "") -> dict:
    return {
        "case": case,
        "peer": peer,
        "gaussjax": f"{t_ours * 1e3:.3g} ms",
        "peer time": f"{t_peer * 1e3:.3g} ms",
        "ratio": t_ours / t_peer,
        "note": note,
    }


def max_difference(a, b) -> float:
    return max(
        float(jnp.max(jnp.abs(x - y))) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


# ---------------------------------------------------------------- tensor grids


def grids(max_nodes: float) -> list[dict]:
    rows = []
    for n in (3, 4, 5, 6, 7):
        order = 10
        if order**n > max_nodes:
            break
        for batch_size in (None, 65536):
            rows += grid_case(n, order, batch_size)
    return rows


def grid_case(n: int, order: int, batch_size: int | None) -> list[dict]:
    K, mean_fn, cov_fn, f, nodes, weights = grid_problem(n, order)
    rule = gj.GaussHermite(order=order)

    def ours(K):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, batch_size=batch_size)

    def peer(K, nodes, weights):
        if batch_size is None:
            return hand_written(f, nodes, weights, mean_fn(K), cov_fn(K))
        return hand_written_batched(f, nodes, weights, mean_fn(K), cov_fn(K), batch_size)

    batch = "" if batch_size is None else f", batch_size={batch_size}"
    return _compare(
        f"GaussHermite(order={order}), n={n}, {order**n:.0e} nodes{batch}",
        "hand-written grid (an argument)" + (" in a scan" if batch else ""),
        ours,
        peer,
        (K,),
        (nodes, weights),
        gradient="Z, dZ/dK",
    )


# ---------------------------------------------------------------- first call

COMPILE_PROGRAM = """
import json, sys, time
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import gaussjax as gj
jax.block_until_ready(jax.jit(lambda x: x + 1)(jnp.zeros(3)))  # start JAX itself first
out = []
for n in DIMS:
    rule = gj.default_rule(n)
    mean, cov = jnp.zeros(n), 0.5 * jnp.eye(n)
    f = lambda x: jnp.exp(-0.5 * x @ x)
    g = jax.jit(jax.value_and_grad(lambda m: gj.expectation(f, m, cov, rule=rule)))
    start = time.perf_counter()
    jax.block_until_ready(g(mean))
    out.append([n, str(rule), rule.num_nodes(n), time.perf_counter() - start])
print(json.dumps(out))
"""


def first_calls() -> list[dict]:
    dims = list(range(1, 11)) + [12, 15, 16, 20, 24, 25, 30, 40, 50, 53, 54, 75, 100]
    result = subprocess.run(
        [sys.executable, "-c", f"DIMS = {dims!r}\n" + COMPILE_PROGRAM],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    times = json.loads(result.stdout.strip().splitlines()[-1])
    printed = [line for line in result.stderr.splitlines() if "onstant fold" in line]
    worst = max(times, key=lambda t: t[3])
    print(json.dumps(times), flush=True)
    return [
        {
            "case": f"first call of Z and dZ/dmean, default rule, n = 1..100 ({len(dims)} "
            "dimensions)",
            "peer": "1 s (the target)",
            "gaussjax": f"at most {worst[3]:.2f} s ({worst[1]} at n={worst[0]}, "
            f"{worst[2]:,} nodes)",
            "peer time": "1 s",
            "ratio": worst[3] / 1.0,
            "note": f"XLA constant-folding messages: {len(printed)}",
        }
    ]


# ---------------------------------------------------------------- Monte Carlo


SKIPPED: list[str] = []
"""Peers that could not be measured in this run, and why."""


def tfp_distributions():
    """TensorFlow Probability's JAX substrate's distributions, or None (and why, in SKIPPED)."""
    try:  # (its modules load lazily: the first use of distributions imports them)
        from tensorflow_probability.substrates import jax as tfp

        return tfp.distributions
    except Exception as error:  # not installed, or it does not import with this JAX
        reason = f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
        SKIPPED.append(f"TFP's JAX substrate (the benchmark extra installs it): {reason}")
        return None


def monte_carlo(num_samples: int = 10**5) -> list[dict]:
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    except ImportError:
        torch = None
        SKIPPED.append("PyTorch: not installed (pip install torch)")
    tfd = tfp_distributions()
    rows = []
    for n in (4, 6):
        for grad in (False, True):
            rows += monte_carlo_case(n, num_samples, grad, torch, tfd)
    return rows


def monte_carlo_case(n: int, num_samples: int, grad: bool, torch, tfd=None) -> list[dict]:
    c = constants(n)
    mean_fn, cov_fn, f = jax_functions(c)
    K, key = jnp.asarray(c["K0"]), jax.random.key(0)
    rule = gj.MonteCarlo(num_samples=num_samples)

    def ours(K, key, batch_size=None):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, key=key, batch_size=batch_size)

    def peer(K, key):
        return one_normal_draw(f, mean_fn(K), cov_fn(K), key, num_samples)

    transform = jax.value_and_grad if grad else (lambda g: g)
    o, p = jax.jit(transform(ours)), jax.jit(transform(peer))
    chunked = jax.jit(transform(lambda K, key: ours(K, key, 8192)))
    same = max_difference(o(K, key), chunked(K, key))
    case = f"{'Z, dZ/dK' if grad else 'Z'}, MonteCarlo(num_samples={num_samples:.0e}), n={n}"
    t_o, t_p = measure(lambda: o(K, key), lambda: p(K, key))
    note = f"batch_size=8192 changes the result by {same:.0e}"
    rows = [row(case, "hand-written: one jax.random.normal draw", t_o, t_p, note)]
    print(rows[-1], flush=True)
    if tfd is not None:

        def tfp_peer(K, key):
            normal = tfd.MultivariateNormalTriL(mean_fn(K), jnp.linalg.cholesky(cov_fn(K)))
            samples = normal.sample(num_samples, seed=jax.random.key_data(key))
            return jnp.mean(jax.vmap(f)(samples))

        t = jax.jit(transform(tfp_peer))
        t_o, t_t = measure(lambda: o(K, key), lambda: t(K, key))
        rows.append(row(case, "TFP (JAX) MultivariateNormalTriL.sample", t_o, t_t))
        print(rows[-1], flush=True)
    if torch is None:
        return rows
    device = "cuda" if torch.cuda.is_available() else "cpu"
    t_mean, t_cov, t_f = torch_functions(c, device)

    def torch_call():
        K_t = torch.tensor(c["K0"], dtype=torch.float64, device=device)
        K_t.requires_grad_(grad)
        normal = torch.distributions.MultivariateNormal(t_mean(K_t), t_cov(K_t))
        if not grad:
            with torch.no_grad():
                return t_f(normal.sample((num_samples,))).mean().cpu()
        z = t_f(normal.rsample((num_samples,))).mean()
        z.backward()
        return z.detach().cpu(), K_t.grad.cpu()

    t_o, t_p = measure(lambda: o(K, key), torch_call)
    peer_name = "PyTorch MultivariateNormal." + ("rsample + autograd" if grad else "sample")
    rows.append(row(case, peer_name, t_o, t_p))
    print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- many Gaussians


def many_gaussians() -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)

    # 10^6 one-dimensional Gaussians: a likelihood's variational expectation, 20 nodes
    B, order = 10**6, 20
    args = bernoulli_data(rng, B)
    rule = gj.GaussHermite(order=order)

    def ours_1d(means, variances, labels):
        return bernoulli_gaussjax(means, variances, labels, rule)

    z, w = (jnp.asarray(t) for t in gauss_hermite_grid(order, 1))

    rows += _compare(
        f"{B:.0e} one-dimensional Gaussians (vmap), GaussHermite(order={order}), "
        "E[log sigmoid(y f)]",
        "hand-written vectorised grid",
        ours_1d,
        bernoulli_grid,
        args,
        (z, w),
    )

    # 10^5 four-dimensional Gaussians, a 3^4 grid each
    B, order, n = 10**5, 3, 4
    means = jnp.asarray(0.3 * rng.standard_normal((B, n)))
    A = 0.3 * rng.standard_normal((B, n, n))
    covs = jnp.asarray(0.2 * np.eye(n) + A @ np.swapaxes(A, 1, 2))
    target = jnp.linspace(0.4, -0.4, n)
    rule4 = gj.GaussHermite(order=order)

    def f(x):
        d = x - target
        return jnp.exp(-0.5 * d @ d)

    def ours_4d(means, covs):
        return jnp.sum(jax.vmap(lambda m, c: gj.expectation(f, m, c, rule=rule4))(means, covs))

    nodes, weights = gauss_hermite_grid(order, n)

    def peer_4d(means, covs, nodes, weights):
        L = jnp.linalg.cholesky(covs)
        x = means[:, None, :] + jnp.einsum("bij,kj->bki", L, nodes)
        return jnp.sum(jax.vmap(jax.vmap(f))(x) @ weights)

    rows += _compare(
        f"{B:.0e} four-dimensional Gaussians (vmap), GaussHermite(order={order}), saturating cost",
        "hand-written vectorised grid",
        ours_4d,
        peer_4d,
        (means, covs),
        (nodes, weights),
    )
    return rows


def _compare(case, peer_name, ours, peer, args, grid, gradient="Z and its gradient") -> list[dict]:
    """Rows for the value and for the value with its gradient (in the first two arguments at
    most) of ours(*args) against peer(*args, *grid), timed interleaved."""
    rows = []
    argnums = tuple(range(min(len(args), 2)))
    for what, transform in (
        ("Z", lambda g: g),
        (gradient, lambda g: jax.value_and_grad(g, argnums=argnums)),
    ):
        o, p = jax.jit(transform(ours)), jax.jit(transform(peer))
        diff = max_difference(o(*args), p(*args, *grid))
        t_o, t_p = measure(lambda o=o: o(*args), lambda p=p: p(*args, *grid))
        rows.append(row(f"{what}, {case}", peer_name, t_o, t_p, f"max difference {diff:.0e}"))
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- devices

DEVICES_PROGRAM = """
import json, sys
sys.path.insert(0, HERE)
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import gaussjax as gj
from gaussjax import _devices
from timing import interleaved
from workload import constants, jax_functions

out = []
for n, rule in ((6, gj.GaussHermite(order=10)), (6, gj.MonteCarlo(num_samples=10**6))):
    c = constants(n)
    mean_fn, cov_fn, f = jax_functions(c)
    K, key = jnp.asarray(c["K0"]), jax.random.key(0)
    def z(K):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, key=key)
    spread = jax.jit(jax.value_and_grad(z))
    jax.block_until_ready(spread(K))
    _devices.MIN_NODES_PER_DEVICE = 2**62  # from here on, a new trace runs on one device
    one = jax.jit(jax.value_and_grad(lambda K: z(K)))
    jax.block_until_ready(one(K))
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(spread(K), one(K)))
    t = interleaved({"spread": lambda: spread(K), "one": lambda: one(K)}, 9)
    _devices.MIN_NODES_PER_DEVICE = 1024
    out.append([str(rule), n, t["spread"], t["one"], diff, jax.device_count()])
print(json.dumps(out))
"""


def devices(count: int = 2) -> list[dict]:
    environment = {}
    if jax.default_backend() != "cpu" and jax.device_count() < count:
        print(f"(fewer than {count} {jax.default_backend()} devices: skipping the spread)")
        return []
    if jax.default_backend() == "cpu":
        flag = f"--xla_force_host_platform_device_count={count}"
        environment["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
    spread = in_fresh_process(DEVICES_PROGRAM, environment)
    rows = []
    for rule, n, t_spread, t_one, diff, num in spread:
        rows.append(
            row(
                f"Z, dZ/dK, {rule}, n={n}, over {num} devices",
                "the same on 1 device",
                t_spread,
                t_one,
                f"max difference {diff:.0e}",
            )
        )
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- main


def device_description() -> str:
    device = jax.devices()[0]
    kind = f"cpu ({os.cpu_count()} cores)" if device.platform == "cpu" else device.device_kind
    return f"{device.platform}: {kind}, {jax.device_count()} device(s)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-nodes", type=float, default=1e7)
    parser.add_argument("--output", default=str(HERE / "speed_results.md"))
    options = parser.parse_args()
    print(f"JAX {jax.__version__} on {device_description()}", flush=True)
    rows = grids(options.max_nodes) + first_calls() + monte_carlo() + many_gaussians()
    rows += devices()
    settings = {
        name: value
        for name, value in os.environ.items()
        if name.startswith("MALLOC_") or name == "XLA_FLAGS"
    }
    lines = [
        f"JAX {jax.__version__}, {device_description()}, float64.",
        *[f"Not the default setting: {name}={value}" for name, value in settings.items()],
        "",
        "| case | peer | gaussjax | peer | gaussjax / peer | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['peer']} | {r['gaussjax']} | {r['peer time']} "
            f"| {r['ratio']:.2f} | {r['note']} |"
        )
    transfers = "; ".join(HOST_TRANSFERS) or "none"
    lines += ["", f"Host transfers in gaussjax's timed calls (`jax.transfer_guard`): {transfers}."]
    lines += [f"Not measured: {reason}." for reason in SKIPPED]
    table = "\n".join(lines) + "\n"
    print(table)
    Path(options.output).write_text(table)
    saved = Path(options.output).resolve() in [path.resolve() for path in readme_table.RESULTS]
    if saved and options.max_nodes >= 1e7 and not settings:  # a full run, default settings:
        readme_table.write()  # its column of the README's table


if __name__ == "__main__":
    main()
