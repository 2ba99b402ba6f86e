"""Interleaved timing: ratios that survive a noisy, shared machine.

Every candidate is compiled first; then the candidates are called in turn, round after round
(the order rotated each round), and each one's median over the rounds is reported. Two
programs measured this way see the same background load, so their ratio is meaningful even
where their absolute times are not.
"""

import statistics
import time
from collections.abc import Callable

import jax


def interleaved(calls: dict[str, Callable[[], object]], rounds: int = 15) -> dict[str, float]:
    """Median seconds per call of each of `calls` (zero-argument callables), round-robin."""
    names = list(calls)
    for name in names:
        jax.block_until_ready(calls[name]())  # compile and warm up
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            jax.block_until_ready(calls[name]())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def rounds_for(seconds_per_call: float, budget: float = 6.0, lo: int = 5, hi: int = 41) -> int:
    """How many rounds fit in `budget` seconds per candidate (odd, between lo and hi)."""
    n = int(budget / max(seconds_per_call, 1e-6))
    n = max(lo, min(hi, n))
    return n if n % 2 else n + 1
