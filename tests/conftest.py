import os
import subprocess
import sys

FAST_COMPILES = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")
"""Tests compile many small programs and run each briefly: XLA's backend optimisations cost more
compile time than they save (18% of the suite), and so do the CPU's newer fusion emitters
(a plain jitted gradient at n = 3 compiles in 1.8 s instead of 3.5 s, and runs as fast)."""


def accepted(flags: tuple[str, ...]) -> list[str]:
    """The flags this XLA knows. It stops at its start on an unknown one, naming every such flag
    (the fusion-emitter switch is gone from JAX 0.11 on), so one trial start tells."""
    trial = subprocess.run(
        [sys.executable, "-c", "import jax; jax.devices()"],
        env={**os.environ, "XLA_FLAGS": " ".join(flags)},
        capture_output=True,
        text=True,
    )
    unknown = " ".join(line for line in trial.stderr.splitlines() if "Unknown flag" in line)
    return [flag for flag in flags if flag not in unknown]


# Set before JAX starts, inherited by the notebooks' kernels and the demo's subprocess.
if "XLA_FLAGS" not in os.environ:
    os.environ["XLA_FLAGS"] = " ".join(accepted(FAST_COMPILES))

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)

SLOW_FILES = ("notebooks/", "tests/test_demo.py")
"""Whole files whose items each take over five seconds: the notebooks and the demo."""


def pytest_collection_modifyitems(items):
    for item in items:
        if any(part in item.nodeid for part in SLOW_FILES):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def key():
    return jax.random.key(0)
