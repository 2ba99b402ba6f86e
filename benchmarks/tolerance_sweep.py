"""The plain call at rtol = 1e-6: within the tolerance, or it says it could not.

    python benchmarks/tolerance_sweep.py [--dims 1 2 ... 10]

For n = 1 to 10 and eight integrands (six with closed forms: exp-linear, quadratic, cosine,
saturating exp-quadratic, Gaussian kernel, probit; a peaked exp-quadratic of width 0.2 whose
peak sits 1.5 standard deviations off; a logistic likelihood of 50 observations, against an
adapted sparse grid of many more nodes), `gj.estimate(f, mean, cov)` without a rule, jitted,
float64. Prints, per call, the actual error and the reported one in units of the tolerance,
whether the call met the tolerance (what `gj.expectation` would return rather than raise), and
the evaluations of f spent; then the summary quoted in docs/adaptive.md.
"""

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from references import integrands, logistic_likelihood, parameterisation  # noqa: E402

import gaussjax as gj  # noqa: E402

jax.config.update("jax_enable_x64", True)
RTOL = 1e-6


def peaked(n, mean, cov):
    """A peaked exp-quadratic of width 0.2 whose peak sits 1.5 standard deviations off."""
    sd = jnp.sqrt(jnp.diag(cov))
    direction = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0) / jnp.sqrt(n)
    peak = mean + 1.5 * sd * direction
    return lambda x: jnp.exp(-12.5 * jnp.sum((x - peak) ** 2))


def sweep(n):
    """[(name, actual / tolerance, reported / tolerance, met, evaluations)] at dimension n."""
    mean_fn, cov_fn, K = parameterisation(n)
    mean, cov = mean_fn(K), cov_fn(K)
    cases = {name: (f, exact(mean, cov)) for name, (f, exact) in integrands(n).items()}
    reference_rule = gj.SparseGrid(level=9 if n > 4 else 12)
    likelihood, _ = logistic_likelihood(n, 50)
    for name, f in (("peaked", peaked(n, mean, cov)), ("likelihood", likelihood)):
        reference = jax.jit(
            lambda m, c, f=f: gj.expectation(f, m, c, rule=reference_rule, adapt="laplace")
        )
        cases[name] = (f, reference(mean, cov))
    estimates = jax.jit(
        lambda m, c: {name: gj.estimate(f, m, c, rtol=RTOL) for name, (f, _) in cases.items()}
    )(mean, cov)
    rows = []
    for name, (_, truth) in cases.items():
        est, tolerance = estimates[name], RTOL * abs(float(truth))
        met = bool(est.error <= RTOL * abs(est.value))
        actual = abs(float(est.value - truth)) / tolerance
        rows.append((name, actual, float(est.error) / tolerance, met, int(est.evaluations)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=list(range(1, 11)))
    dims = parser.parse_args().dims
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, rtol = {RTOL:g}, float64")
    print(" n  integrand        error/tol  reported/tol  met    evaluations")
    rows, start = [], time.perf_counter()
    for n in dims:
        for name, actual, reported, met, evaluations in sweep(n):
            rows.append((n, name, actual, reported, met))
            columns = f"{actual:9.3f}  {reported:12.3f}  {met!s:5s}  {evaluations:11d}"
            print(f"{n:2d}  {name:15s}  {columns}")
    met = [row for row in rows if row[4]]
    missed = [row for row in rows if not row[4]]
    seconds = time.perf_counter() - start
    print(f"\n{len(rows)} calls in {seconds:.0f} s: {len(met)} met the tolerance,")
    print(f"{len(missed)} said they could not")
    if met:
        print(f"largest actual error / tolerance where it was met: {max(r[2] for r in met):.3f}")
    for n, name, actual, reported, _ in missed:
        print(f"  missed: n = {n}, {name}: actual {actual:.2f}, reported {reported:.2f} x tol")


if __name__ == "__main__":
    main()
