import os

# Tests compile many small programs and run each briefly: XLA's backend optimisations cost more
# compile time than they save (18% of the suite), and so do the CPU's newer fusion emitters
# (a plain jitted gradient at n = 3 compiles in 1.8 s instead of 3.5 s, and runs as fast). Set
# before JAX starts, inherited by the notebooks' kernels and the demo's subprocess.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
)

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
