"""The README's speed table is the one `benchmarks/readme_table.py` writes from the saved
results, so it cannot drift from the runs it quotes."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).parent.parent
spec = importlib.util.spec_from_file_location(
    "readme_table", ROOT / "benchmarks" / "readme_table.py"
)
readme_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_table)

GRID = "hand-written grid (an argument)"
ROWS = [  # case, peer, ratio: one of each kind speed.py writes
    ("Z, GaussHermite(order=10), n=3, 1e+03 nodes", GRID, "0.50"),
    ("Z, dZ/dK, GaussHermite(order=10), n=4, 1e+04 nodes", GRID, "1.50"),
    ("Z, dZ/dK, GaussHermite(order=10), n=5, 1e+05 nodes, batch_size=65536", GRID, "1.00"),
    ("Z, MonteCarlo(num_samples=1e+05), n=4", "hand-written: one jax.random.normal draw", "1.05"),
    ("Z, MonteCarlo(num_samples=1e+05), n=4", "PyTorch MultivariateNormal.sample", "0.12"),
    ("Z, MonteCarlo(num_samples=1e+05), n=4", "TFP (JAX) MultivariateNormalTriL.sample", "1.30"),
    ("Z and its gradient, 1e+06 one-dimensional Gaussians (vmap)", "vectorised grid", "1.20"),
    ("Z, dZ/dK, GaussHermite(order=10), n=6, over 2 devices", "the same on 1 device", "2.00"),
]
RESULTS = "\n".join(
    [
        "JAX 0.10.2, cpu: cpu (2 cores), 1 device(s), float64.",
        "",
        "| case | peer | gaussjax | peer | gaussjax / peer | note |",
        "|---|---|---|---|---|---|",
        *(f"| {case} | {peer} | 1 ms | 1 ms | {ratio} | |" for case, peer, ratio in ROWS),
    ]
)


def test_the_readme_holds_the_table_the_saved_results_give():
    readme = (ROOT / "README.md").read_text()
    block = readme_table.table(readme_table.saved_results())
    assert block in readme, "README's speed table is stale: run python benchmarks/readme_table.py"


def test_cells_are_ranges_per_kind_and_misses_name_each_targeted_row_above_it():
    device, rows = readme_table.parse(RESULTS)
    assert device == "CPU, 2 cores"
    assert len(rows) == 8
    assert readme_table.cells(rows) == [
        "0.50",
        "1.00-1.50",
        "1.05",
        "0.12",
        "1.30",
        "not measured / 1.20",
    ]
    # the device row compares gaussjax with itself, PyTorch's target is another, TFP has none:
    # not misses
    assert readme_table.misses(rows) == ["dZ/dK 1e4 1.50", "vmap 1-D grad 1.20"]


def test_writing_needs_the_markers():
    with pytest.raises(ValueError, match="no speed table"):
        readme_table.replaced("# a README without the markers\n", "table")


def test_the_performance_page_holds_the_saved_cpu_results():
    page = (ROOT / "docs" / "performance.md").read_text()
    saved = readme_table.RESULTS[0].read_text().strip()
    assert saved in page, "docs/performance.md's table is not benchmarks/speed_results.md"
