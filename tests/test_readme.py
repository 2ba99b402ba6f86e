import pathlib
import re

import jax.numpy as jnp

README = pathlib.Path(__file__).parent.parent / "README.md"


def test_the_readme_example_runs_and_says_what_it_claims():
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["dZ_dK"].shape == (3, 2)
    assert namespace["report"].dmean_dK.shape == (4, 3, 2)
    assert jnp.allclose(namespace["report"].contraction, namespace["dZ_dK"])
    assert jnp.allclose(namespace["report"].value, namespace["Z"])


def test_every_python_block_in_the_readme_runs_in_order_as_a_reader_would():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
