"""The README's speed table, written from the results `benchmarks/speed.py` saves.

    python benchmarks/readme_table.py   # rewrite it from speed_results.md and speed_results_gpu.md

`speed.py` calls `write()` after each run, so `make benchmark` updates the README. One column
per results file (the CPU run, the GPU run); each cell is the range of gaussjax / peer over the
rows of one kind, and the sentence under the table names every row above the 1.1x target. The
README holds the table between two markers; `tests/test_readme_table.py` checks that it matches
the saved results.
"""

import os
import re
from pathlib import Path

HERE = Path(__file__).parent
README = HERE.parent / "README.md"
RESULTS = (HERE / "speed_results.md", HERE / "speed_results_gpu.md")
BEGIN = "<!-- speed table: make benchmark writes it (benchmarks/readme_table.py) -->"
END = "<!-- end of speed table -->"
TARGET = 1.1
"""Issue 10's bound on gaussjax / hand-written peer (grids, Monte Carlo's normal draw, vmap)."""


def _grid_value(case, peer):
    return case.startswith("Z, GaussHermite") and peer.startswith("hand-written grid")


def _grid_gradient(case, peer):
    return case.startswith("Z, dZ/dK, GaussHermite") and peer.startswith("hand-written grid")


def _normal_draw(case, peer):
    return "MonteCarlo" in case and peer.startswith("hand-written: one jax.random.normal")


def _pytorch(case, peer):
    return "MonteCarlo" in case and peer.startswith("PyTorch")


def _tfp(case, peer):
    return "MonteCarlo" in case and peer.startswith("TFP")


def _vmap(case, peer):
    return "(vmap)" in case


def _vmap_1d(gradient):
    start = "Z and its gradient, " if gradient else "Z, "
    return lambda case, peer: case.startswith(start) and "one-dimensional Gaussians" in case


KINDS = [
    (
        "`GaussHermite`, 10^3-10^7 nodes, Z, against a hand-written grid passed in",
        [_grid_value],
    ),
    ("the same, Z and dZ/dK (`batch_size` or not)", [_grid_gradient]),
    (
        "`MonteCarlo(num_samples=10**5)`, n = 4 and 6, against one `jax.random.normal` draw",
        [_normal_draw],
    ),
    ("the same against PyTorch `rsample` + autograd (`sample` for the value)", [_pytorch]),
    ("the same against TFP's JAX `MultivariateNormalTriL.sample`", [_tfp]),
    (
        "`jax.vmap` over 10^6 one-dimensional Gaussians, value / with gradient",
        [_vmap_1d(False), _vmap_1d(True)],
    ),
]
"""Each README row: its label, and one selector per part of its cell (parts joined by ' / ')."""

TARGETED = [_grid_value, _grid_gradient, _normal_draw, _vmap]
"""Rows the 1.1x target applies to (PyTorch's target is 1.5x faster, TFP is measured without
one, the devices' rows compare gaussjax with itself)."""


def parse(text: str) -> tuple[str, list[tuple[str, str, float]]]:
    """The device and the (case, peer, ratio) rows of a results file written by speed.py."""
    header = text.splitlines()[0]
    match = re.match(r"JAX [^,]+, (\w+): ([^,]+)", header)
    if match is None:
        raise ValueError(f"not a speed.py results file: {header!r}")
    platform, kind = match.groups()
    cores = re.search(r"(\d+) cores", kind)
    device = kind.strip()
    if platform == "cpu":
        device = f"CPU, {cores.group(1)} cores" if cores else "CPU"
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not re.fullmatch(r"\d+(\.\d+)?", cells[4]):
            continue
        rows.append((cells[0], cells[1], float(cells[4])))
    return device, rows


def _range(ratios: list[float]) -> str:
    if not ratios:
        return "not measured"
    low, high = min(ratios), max(ratios)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"


def cells(rows) -> list[str]:
    """One cell per README row: the range of ratios of each of its parts."""
    return [
        " / ".join(_range([r for c, p, r in rows if select(c, p)]) for select in selectors)
        for _, selectors in KINDS
    ]


def short(case: str) -> str:
    """A results row's case in a few words: 'dZ/dK 1e4 batched', 'vmap 1-D grad', 'MC n=4 Z'."""
    value = case.startswith("Z, ") and "dZ/dK" not in case
    what = "Z" if value else "dZ/dK"
    if "(vmap)" in case:
        dims = "1-D" if "one-dimensional" in case else "4-D"
        return f"vmap {dims} {'Z' if value else 'grad'}"
    if "MonteCarlo" in case:
        dim = re.search(r"n=(\d+)", case).group(1)
        return f"MC n={dim} {what}"
    nodes = re.search(r"1e\+0(\d) nodes", case)
    batched = " batched" if "batch_size" in case else ""
    return f"{what} 1e{nodes.group(1) if nodes else '?'}{batched}"


def misses(rows) -> list[str]:
    """The targeted rows above 1.1x, each shortened with its ratio ('dZ/dK 1e4 1.24')."""
    return [
        f"{short(case)} {ratio:.2f}"
        for case, peer, ratio in rows
        if ratio > TARGET and any(select(case, peer) for select in TARGETED)
    ]


def table(results: list[tuple[str, list]]) -> str:
    """The README's block, markers included, for [(device, rows)] in column order."""
    lines = [BEGIN, "", "| case | " + " | ".join(device for device, _ in results) + " |"]
    lines.append("|---" * (len(results) + 1) + "|")
    columns = [cells(rows) for _, rows in results]
    for i, (label, _) in enumerate(KINDS):
        lines.append(f"| {label} | " + " | ".join(column[i] for column in columns) + " |")
    lines.append("")
    above = [f"{device}: {', '.join(misses(rows)) or 'none'}" for device, rows in results]
    lines.append(
        f"Rows above the {TARGET}x target (grids of 1eK nodes, batched: with `batch_size`): "
        + "; ".join(above)
        + "."
    )
    lines += ["", END]
    return "\n".join(lines)


def saved_results(paths=RESULTS) -> list[tuple[str, list]]:
    return [parse(path.read_text()) for path in paths if path.exists()]


def replaced(readme: str, block: str) -> str:
    """`readme` with the text between the markers (inclusive) replaced by `block`."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no speed table between {BEGIN!r} and {END!r}")
    return readme[:start] + block + readme[end + len(END) :]


def write() -> None:
    README.write_text(replaced(README.read_text(), table(saved_results())))
    print(f"wrote the speed table in {os.path.relpath(README)}")


if __name__ == "__main__":
    write()
