"""dZ/dK past one chunk of nodes: each chunk's values kept for the backward pass, or recomputed.

    python benchmarks/kept_or_recomputed.py     # about two minutes on 2 cores

Without `batch_size`, a rule of more than `DEFAULT_BATCH_SIZE` (2^18) nodes is summed chunk by
chunk in a `lax.scan`. Its reverse-mode derivative can keep what every chunk needs (stacked
over the chunks, as a hand-written grid keeps what all its nodes need) or recompute each chunk
in the backward pass (`jax.checkpoint`). gaussjax used to keep them up to 2^22 nodes and now
recomputes past one chunk (`_weighted_sum.MAX_NODES_KEPT`). This script measures both in one
process, against a hand-written grid (an argument) differentiated whole, for the saturating cost
of `speed.py` and for a two-layer tanh network of 32 units (an f that costs more to evaluate
again), at 10^6 nodes in six dimensions and 2.1 x 10^6 in seven; times interleaved
(`timing.py`), and the temporary memory XLA plans for each program.
"""

import jax
import jax.numpy as jnp
import numpy as np
from timing import interleaved
from workload import grid_problem, hand_written

import gaussjax as gj
from gaussjax import _weighted_sum

jax.config.update("jax_enable_x64", True)
CHOSEN = _weighted_sum.MAX_NODES_KEPT


def network(n: int):
    rng = np.random.default_rng(1)
    W1 = jnp.asarray(rng.normal(size=(n, 32)) / 2)
    W2 = jnp.asarray(rng.normal(size=(32, 32)) / 6)
    return lambda x: jnp.sum(jnp.tanh(jnp.tanh(x @ W1) @ W2))


def main():
    print("| nodes | f | gaussjax | dZ/dK time / grid | gaussjax's memory | grid's memory |")
    print("|---|---|---|---|---|---|")
    for n, order in ((6, 10), (7, 8)):
        saturating = grid_problem(n, order)[3]
        for name, f in (("saturating cost", saturating), ("tanh network", network(n))):
            compare(n, order, name, f)


def compare(n: int, order: int, name: str, f):
    K, mean_fn, cov_fn, _, nodes, weights = grid_problem(n, order)
    rule = gj.GaussHermite(order=order)

    def ours(K):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule)

    def grid(K):
        return hand_written(f, nodes, weights, mean_fn(K), cov_fn(K))

    compiled = {}
    for way, kept, function in (
        ("recomputed", CHOSEN, ours),
        ("kept", 2**22, ours),
        ("grid", 0, grid),
    ):
        _weighted_sum.MAX_NODES_KEPT = kept  # read when the program is traced
        compiled[way] = jax.jit(jax.value_and_grad(function)).lower(K).compile()
    _weighted_sum.MAX_NODES_KEPT = CHOSEN
    times = interleaved({k: (lambda c=c: c(K)) for k, c in compiled.items()}, 7)
    grid_memory = compiled["grid"].memory_analysis().temp_size_in_bytes
    for way in ("recomputed", "kept"):
        memory = compiled[way].memory_analysis().temp_size_in_bytes
        print(
            f"| {order**n:.2g} | {name} | {way} | {times[way] / times['grid']:.2f} "
            f"| {memory / 2**20:.0f} MB | {grid_memory / 2**20:.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
