"""What the run-time checks cost: gaussjax as it is, the same program with its checks compiled
out, and the hand-written peer, interleaved in one process.

    python benchmarks/checks_cost.py

On a GPU each `lax.cond` waits for its predicate on the host; one call's checks are joined into
one `cond` (gaussjax/_runtime.py), and this measures what that one still costs. Ratios are
against the hand-written grid (`workload.py`) or, for Monte Carlo, one `jax.random.normal` draw.
"""

import functools
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from timing import interleaved  # noqa: E402
from workload import (  # noqa: E402
    bernoulli_data,
    bernoulli_gaussjax,
    bernoulli_grid,
    constants,
    gauss_hermite_grid,
    hand_written,
    jax_functions,
    one_normal_draw,
)

import gaussjax as gj  # noqa: E402
from gaussjax import _runtime  # noqa: E402

jax.config.update("jax_enable_x64", True)


def without_checks(function):
    """`function`, traced with every run-time check left out of its program."""

    def run(*args):
        saved = _runtime._verdict, _runtime._after
        _runtime._verdict = lambda rank, messages: None
        _runtime._after = lambda tree, token: tree
        try:
            return function(*args)
        finally:
            _runtime._verdict, _runtime._after = saved

    return run


def compare(label: str, ours, peer, args, rounds: int = 41) -> None:
    calls = {"ours": ours, "no checks": without_checks(ours), "peer": peer}
    calls = {name: jax.jit(call) for name, call in calls.items()}
    times = interleaved({name: (lambda c=c: c(*args)) for name, c in calls.items()}, rounds)
    print(
        f"{label}: gaussjax / peer {times['ours'] / times['peer']:.2f}, without checks "
        f"{times['no checks'] / times['peer']:.2f} (peer {times['peer'] * 1e3:.3f} ms)",
        flush=True,
    )


def grid(n: int) -> None:
    c = constants(n)
    mean_fn, cov_fn, f = jax_functions(c)
    K = jnp.asarray(c["K0"])
    nodes, weights = gauss_hermite_grid(10, n)
    rule = gj.GaussHermite(order=10)

    def ours(K):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule)

    def peer(K):
        return hand_written(f, nodes, weights, mean_fn(K), cov_fn(K))

    compare(f"Z, GaussHermite(order=10), n={n}", ours, peer, (K,))
    compare(f"Z, dZ/dK, n={n}", jax.value_and_grad(ours), jax.value_and_grad(peer), (K,))


def main():
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}")
    for n in (3, 4, 5, 6):
        grid(n)

    c = constants(4)
    mean_fn, cov_fn, f = jax_functions(c)
    K, key, num = jnp.asarray(c["K0"]), jax.random.key(0), 10**5
    rule = gj.MonteCarlo(num_samples=num)

    def monte_carlo(K):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, key=key)

    def one_draw(K):
        return one_normal_draw(f, mean_fn(K), cov_fn(K), key, num)

    compare("Z, MonteCarlo(num_samples=1e5), n=4", monte_carlo, one_draw, (K,))

    args = bernoulli_data(np.random.default_rng(0), 10**6)
    rule = gj.GaussHermite(order=20)
    z, w = (jnp.asarray(t) for t in gauss_hermite_grid(20, 1))

    def many(means, variances, labels):
        return bernoulli_gaussjax(means, variances, labels, rule)

    def by_hand(means, variances, labels):
        return bernoulli_grid(means, variances, labels, z, w)

    compare("Z, 1e6 one-dimensional Gaussians (vmap)", many, by_hand, args, rounds=21)
    gradient = functools.partial(jax.value_and_grad, argnums=(0, 1))
    compare("Z and its gradient, the same", gradient(many), gradient(by_hand), args, rounds=21)

    def by_hand_checked(means, variances, labels):
        """The hand-written grid with one check of gaussjax's kind: means finite."""
        return _runtime.check(by_hand(means, variances, labels), ~jnp.isfinite(means), "NaN")

    label = "the hand-written grid with one check (in the 'gaussjax' place), against itself"
    compare(label, by_hand_checked, by_hand, args)


if __name__ == "__main__":
    main()
