"""Side-by-side with what a user would otherwise write; prints a markdown table of ratios.

    python benchmarks/run.py            # all comparisons (PyTorch ones only if torch is installed)

Every ratio is gaussjax / peer, measured in the same run on the same machine: below 1 means
gaussjax is faster or lighter. Timings are the median of repeated calls after compilation.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# as in speed.py: PyTorch's OpenMP threads must not spin after their work and take a core from
# the JAX call measured beside them
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from problem import jax_functions, matrices, torch_functions  # noqa: E402

import gaussjax as gj  # noqa: E402

jax.config.update("jax_enable_x64", True)


def median_seconds(call, repeats=7):
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hand_written_gauss_hermite(f, order):
    """The naive baseline: a hermegauss tensor grid materialised in full, then jax.grad."""

    def z(mean, cov):
        n = mean.shape[0]
        nodes, weights = np.polynomial.hermite_e.hermegauss(order)
        grid = np.stack(np.meshgrid(*[nodes] * n, indexing="ij"), -1).reshape(-1, n)
        w = np.prod(np.stack(np.meshgrid(*[weights] * n, indexing="ij"), -1), -1).ravel()
        w = w / np.sqrt(2 * np.pi) ** n
        x = mean + jnp.asarray(grid) @ jnp.linalg.cholesky(cov).T
        return jnp.asarray(w) @ jax.vmap(f)(x)

    return z


def gradient_in_K(z, mean_fn, cov_fn):
    return jax.jit(jax.value_and_grad(lambda K: z(mean_fn(K), cov_fn(K))))


def speed_against_hand_written(q, p, order):
    c = matrices(q, p)
    mean_fn, cov_fn, f, closed_form = jax_functions(c)
    K = jnp.asarray(c["K0"])
    rule = gj.GaussHermite(order=order)
    ours = gradient_in_K(lambda m, s: gj.expectation(f, m, s, rule=rule), mean_fn, cov_fn)
    naive = gradient_in_K(hand_written_gauss_hermite(f, order), mean_fn, cov_fn)
    t_ours = median_seconds(lambda: jax.block_until_ready(ours(K)))
    t_naive = median_seconds(lambda: jax.block_until_ready(naive(K)))
    exact = jax.grad(closed_form)(K)
    error = float(jnp.linalg.norm(ours(K)[1] - exact) / jnp.linalg.norm(exact))
    n = 3 * q
    return {
        "comparison": f"dZ/dK, GaussHermite(order={order}), n={n} ({order**n:,} nodes)",
        "peer": "hand-written hermegauss grid + jax.grad",
        "gaussjax": f"{t_ours * 1e3:.1f} ms (rel. error {error:.0e})",
        "peer value": f"{t_naive * 1e3:.1f} ms",
        "ratio": t_ours / t_naive,
    }


MEMORY_SCRIPT = """
import resource, sys, jax, jax.numpy as jnp
sys.path.insert(0, {bench!r})
jax.config.update("jax_enable_x64", True)
from problem import jax_functions, matrices
from run import hand_written_gauss_hermite
import gaussjax as gj
c = matrices({q}, {p}); mean_fn, cov_fn, f, _ = jax_functions(c)
if {ours}:
    z = lambda m, s: gj.expectation(f, m, s, rule=gj.GaussHermite(order={order}), batch_size=2**16)
else:
    z = hand_written_gauss_hermite(f, {order})
g = jax.jit(jax.grad(lambda K: z(mean_fn(K), cov_fn(K))))
jax.block_until_ready(g(jnp.asarray(c["K0"])))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak_memory_mb(ours, q, p, order):
    script = MEMORY_SCRIPT.format(
        bench=str(Path(__file__).parent), q=q, p=p, order=order, ours=ours
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if result.returncode != 0:
        return float("nan")
    return float(result.stdout.strip().splitlines()[-1])


def memory_against_hand_written(q, p, order):
    ours = peak_memory_mb(True, q, p, order)
    naive = peak_memory_mb(False, q, p, order)
    n = 3 * q
    return {
        "comparison": f"peak memory of dZ/dK, GaussHermite(order={order}), n={n} "
        f"({order**n:,} nodes), batch_size=65536",
        "peer": "hand-written hermegauss grid + jax.grad",
        "gaussjax": f"{ours:.0f} MB",
        "peer value": f"{naive:.0f} MB",
        "ratio": ours / naive,
    }


def against_torch_rsample(q, p, num_samples):
    import torch

    torch.set_num_threads(2)
    c = matrices(q, p)
    mean_fn, cov_fn, f, closed_form = jax_functions(c)
    t_mean, t_cov, t_f = torch_functions(c)
    K = jnp.asarray(c["K0"])
    rule = gj.MonteCarlo(num_samples=num_samples)
    key = jax.random.key(0)
    ours = jax.jit(
        jax.grad(lambda K, key: gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, key=key))
    )

    def torch_grad():
        K_t = torch.tensor(c["K0"], dtype=torch.float64, requires_grad=True)
        normal = torch.distributions.MultivariateNormal(t_mean(K_t), t_cov(K_t))
        t_f(normal.rsample((num_samples,))).mean().backward()
        return K_t.grad.numpy()

    t_ours = median_seconds(lambda: jax.block_until_ready(ours(K, key)))
    t_torch = median_seconds(torch_grad)
    n = 3 * q
    rows = [
        {
            "comparison": f"dZ/dK, Monte Carlo, {num_samples:,} samples, n={n}",
            "peer": "PyTorch MultivariateNormal.rsample + autograd",
            "gaussjax": f"{t_ours * 1e3:.1f} ms",
            "peer value": f"{t_torch * 1e3:.1f} ms",
            "ratio": t_ours / t_torch,
        }
    ]

    exact = np.asarray(jax.grad(closed_form)(K))
    torch.manual_seed(0)
    torch_errors = [np.linalg.norm(torch_grad() - exact) / np.linalg.norm(exact) for _ in range(5)]
    order = round(num_samples ** (1 / n))
    gh = gj.GaussHermite(order=order)
    gh_grad = jax.grad(lambda K: gj.expectation(f, mean_fn(K), cov_fn(K), rule=gh))(K)
    gh_error = float(np.linalg.norm(gh_grad - exact) / np.linalg.norm(exact))
    rows.append(
        {
            "comparison": f"relative error of dZ/dK at ~{num_samples:,} evaluations of f, n={n}",
            "peer": "PyTorch rsample (mean of 5 seeds)",
            "gaussjax": f"{gh_error:.1e} (GaussHermite(order={order}), {order**n:,} nodes)",
            "peer value": f"{np.mean(torch_errors):.1e}",
            "ratio": gh_error / np.mean(torch_errors),
        }
    )
    return rows


def main():
    rows = [
        speed_against_hand_written(q=1, p=2, order=20),
        speed_against_hand_written(q=2, p=3, order=8),
        memory_against_hand_written(q=3, p=3, order=6),
    ]
    try:
        import torch  # noqa: F401
    except ImportError:
        print("(PyTorch not installed: skipping the rsample comparison; pip install torch)")
    else:
        rows += against_torch_rsample(q=2, p=3, num_samples=2**18)
    print("| comparison | peer | gaussjax | peer | gaussjax / peer |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['comparison']} | {row['peer']} | {row['gaussjax']} | {row['peer value']} "
            f"| {row['ratio']:.2g} |"
        )


if __name__ == "__main__":
    main()
