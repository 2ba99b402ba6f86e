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
import time

import jax
import jax.numpy as jnp
import numpy as np

import gaussjax as gj

jax.config.update("jax_enable_x64", True)
RTOL = 1e-6


def parameterisation(n):
    """mean and covariance of the tests' K parameterisation, at its reference K."""
    C = jnp.linspace(-1.0, 1.0, 2 * n).reshape(n, 2)
    K = 0.5 * C + 0.1
    mean = jnp.tanh(K) @ jnp.array([0.7, -0.4]) + 0.1 * jnp.sum(C * K, axis=1)
    cov = 0.2 * jnp.eye(n) + 0.05 * jnp.ones((n, n)) + 0.1 * (K @ K.T)
    return mean, cov


def with_closed_forms(n):
    """{name: (f, E[f] under N(mean, cov) as a function of (mean, cov))}."""
    a, w = jnp.linspace(0.5, -0.3, n), jnp.linspace(-0.4, 0.6, n) + 0.2
    Q = jnp.eye(n) + 0.1 * jnp.ones((n, n))
    b, target = jnp.arange(1.0, n + 1.0) / n, jnp.linspace(0.3, -0.2, n)
    P, R = 0.8 * jnp.eye(n) + 0.1 * jnp.ones((n, n)), 0.5 * jnp.eye(n)
    gaussian = jax.scipy.stats.multivariate_normal.pdf
    ndtr = jax.scipy.special.ndtr

    def saturating(mu, S):
        d = mu - target
        scale = jnp.linalg.det(jnp.eye(n) + S @ P) ** -0.5
        return scale * jnp.exp(-0.5 * d @ jnp.linalg.solve(S + jnp.linalg.inv(P), d))

    return {
        "exp_linear": (lambda x: jnp.exp(a @ x), lambda mu, S: jnp.exp(a @ mu + 0.5 * a @ S @ a)),
        "quadratic": (
            lambda x: x @ Q @ x + b @ x,
            lambda mu, S: jnp.trace(Q @ S) + mu @ Q @ mu + b @ mu,
        ),
        "cosine": (
            lambda x: jnp.cos(w @ x),
            lambda mu, S: jnp.cos(w @ mu) * jnp.exp(-0.5 * w @ S @ w),
        ),
        "saturating": (lambda x: jnp.exp(-0.5 * (x - target) @ P @ (x - target)), saturating),
        "gaussian_kernel": (
            lambda x: gaussian(x, target, R),
            lambda mu, S: gaussian(mu, target, R + S),
        ),
        "probit": (
            lambda x: ndtr(w @ x),
            lambda mu, S: ndtr(w @ mu / jnp.sqrt(1.0 + w @ S @ w)),
        ),
    }


def without_closed_forms(n, mean, cov):
    """{name: f}: a peaked cost off the mean, and a logistic likelihood of 50 observations."""
    sd = jnp.sqrt(jnp.diag(cov))
    direction = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0) / jnp.sqrt(n)
    peak = mean + 1.5 * sd * direction
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, n)) * 0.5
    truth = rng.normal(size=n)
    chance = 1 / (1 + np.exp(-features @ truth))
    labels = np.where(rng.uniform(size=50) < chance, 1, -1)
    margins = jnp.asarray(labels[:, None] * features)
    return {
        "peaked": lambda x: jnp.exp(-12.5 * jnp.sum((x - peak) ** 2)),
        "likelihood": lambda x: jnp.prod(jax.nn.sigmoid(margins @ x)),
    }


def sweep(n):
    """[(name, actual / tolerance, reported / tolerance, met, evaluations)] at dimension n."""
    mean, cov = parameterisation(n)
    cases = {name: (f, exact(mean, cov)) for name, (f, exact) in with_closed_forms(n).items()}
    reference_rule = gj.SparseGrid(level=9 if n > 4 else 12)
    for name, f in without_closed_forms(n, mean, cov).items():
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
