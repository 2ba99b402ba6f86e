"""Interleaved timing: ratios that survive a noisy, shared machine.

Every candidate is compiled first; then the candidates are called in turn, round after round
(the order rotated each round), and each one's median over the rounds is reported. Two
programs measured this way see the same background load, so their ratio is meaningful even
where their absolute times are not.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax

HERE = Path(__file__).parent


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


def in_fresh_process(program: str, environment: dict[str, str] | None = None, **names) -> object:
    """Run `program` (Python source) in a new interpreter, with `HERE` (this folder) and `names`
    defined before it and `environment` added to this one's; what it printed last, as JSON.
    For what JAX fixes when it starts (devices, flags) and glibc (its allocator)."""
    names = {"HERE": str(HERE), **names}
    header = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    result = subprocess.run(
        [sys.executable, "-c", header + program],
        capture_output=True,
        text=True,
        env={**os.environ, **(environment or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])
