import re
import subprocess
import sys


def test_python_m_gaussjax_runs_the_worked_example(tmp_path):
    plot = tmp_path / "objective.png"
    result = subprocess.run(
        [sys.executable, "-m", "gaussjax", "--plot", str(plot), "--steps", "60"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = result.stdout
    assert "dmu/dK shape    (6, 3, 2)" in out and "dSigma/dK shape (6, 6, 3, 2)" in out
    errors = [float(x) for x in re.findall(r"(?:closed form|differences|jax.grad):\s+(\S+)", out)]
    assert len(errors) == 4 and max(errors) < 1e-8
    first, last = map(float, re.search(r"objective (\S+) -> (\S+);", out).groups())
    assert last < first
    assert plot.stat().st_size > 10_000
