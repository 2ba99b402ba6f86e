import jax
import pytest

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
