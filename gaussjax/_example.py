r"""The question's worked example, shared by `python -m gaussjax` and the benchmarks.

    mu(K) = [A K v; (A K)^2 v; (A K)^3 v],   Sigma(K) = Sigma0 + (B K)(B K)^T,
    f(x) = exp(-1/2 (x - m)^T P (x - m)),
    E[f(x)] = det(I + Sigma P)^(-1/2) exp(-1/2 d^T (Sigma + P^-1)^-1 d),  d = mu - m,

with K of shape (p, q), A (q, p), v (q,), B (n, p) and n = 3q.
"""

import jax.numpy as jnp
import numpy as np


def question_matrices(q: int = 2, p: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """The fixed matrices of the example, from a seeded generator (NumPy, float64)."""
    n = 3 * q
    rng = np.random.default_rng(seed)
    return {
        "A": 0.5 * rng.standard_normal((q, p)) * np.sqrt(3 / p),
        "v": np.linspace(1.0, -0.5, q) if q > 1 else np.ones(1),
        "B": 0.3 * rng.standard_normal((n, p)) * np.sqrt(3 / p),
        "sigma0": 0.05 * np.eye(n),
        "target": np.linspace(0.4, -0.4, n),
        "precision": 0.5 * np.eye(n),
        "K0": 0.5 * rng.standard_normal((p, q)),
    }


def question_functions(matrices: dict[str, np.ndarray]):
    """mean_fn(K), cov_fn(K), f(x) and the closed form E[f](mean, cov), in JAX."""
    c = {name: jnp.asarray(value) for name, value in matrices.items()}

    def mean_fn(K):
        AK = c["A"] @ K
        first = AK @ c["v"]
        second = AK @ first
        return jnp.concatenate([first, second, AK @ second])

    def cov_fn(K):
        BK = c["B"] @ K
        return c["sigma0"] + BK @ BK.T

    def f(x):
        d = x - c["target"]
        return jnp.exp(-0.5 * d @ c["precision"] @ d)

    def closed_form(mean, cov):
        d = mean - c["target"]
        scale = jnp.linalg.det(jnp.eye(d.shape[0]) + cov @ c["precision"]) ** -0.5
        return scale * jnp.exp(-0.5 * d @ jnp.linalg.solve(cov + jnp.linalg.inv(c["precision"]), d))

    return mean_fn, cov_fn, f, closed_form
