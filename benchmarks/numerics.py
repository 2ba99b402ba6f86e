"""Hard numerics: relative errors of Z, dZ/dmu and dZ/dSigma over covariance scales and
condition numbers, in float64 and float32, against the closed form of a quadratic.

    python benchmarks/numerics.py      # a few seconds

f(x) = x^T A x + b^T x (A symmetric positive definite, fixed), so that Z = mu^T A mu +
tr(A Sigma) + b^T mu, dZ/dmu = 2 A mu + b, dZ/dSigma = A, and GaussHermite(order=2) is exact:
every error printed is rounding. The Gaussian is mu = sqrt(s) m, Sigma = s C, with C a fixed
n = 4 correlation-like matrix of the given condition number.
"""

import jax
import jax.numpy as jnp
import numpy as np

import gaussjax as gj

jax.config.update("jax_enable_x64", True)

N = 4
RULE = gj.GaussHermite(order=2)


def problem(condition: float):
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(N, N)))
    C = q @ np.diag(np.geomspace(1.0, 1.0 / condition, N)) @ q.T
    A = np.eye(N) + 0.3 * np.ones((N, N))
    return A, rng.normal(size=N), rng.normal(size=N), (C + C.T) / 2


def relative_errors(scale: float, condition: float, dtype) -> tuple[float, float, float]:
    A, b, m, C = problem(condition)
    mean, cov = np.sqrt(scale) * m, scale * C
    exact = (mean @ A @ mean + np.trace(A @ cov) + b @ mean, 2 * A @ mean + b, A)

    def f(x):
        return x @ jnp.asarray(A, x.dtype) @ x + jnp.asarray(b, x.dtype) @ x

    def z(mu, sigma):
        return gj.expectation(f, mu, sigma, rule=RULE, projection=None)

    mu, sigma = jnp.asarray(mean, dtype), jnp.asarray(cov, dtype)
    value = z(mu, sigma)
    dmu, dsigma = jax.grad(z, argnums=(0, 1))(mu, sigma)
    got = (value, dmu, dsigma)
    return tuple(
        float(np.linalg.norm(np.asarray(g, float) - e) / np.linalg.norm(e))
        for g, e in zip(got, exact)
    )


def main():
    print("covariance scale s (condition 10): relative errors of Z, dZ/dmu, dZ/dSigma")
    print(f"{'s':>8} | {'float64':^28} | {'float32':^28}")
    for scale in [1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e5, 1e10]:
        row = [relative_errors(scale, 10.0, dtype) for dtype in (jnp.float64, jnp.float32)]
        cells = " | ".join(" ".join(f"{e:8.1e}" for e in r) for r in row)
        print(f"{scale:8.0e} | {cells}")
    print("\ncondition number of Sigma (scale 1), float64: relative errors of Z, dZ/dmu, dZ/dSigma")
    for condition in [1e0, 1e3, 1e6, 1e9, 1e12]:
        errors = relative_errors(1.0, condition, jnp.float64)
        print(f"{condition:8.0e} | " + " ".join(f"{e:8.1e}" for e in errors))


if __name__ == "__main__":
    main()
