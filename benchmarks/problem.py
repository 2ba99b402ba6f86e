"""The question's parameterisation, in JAX and in PyTorch, with a closed-form oracle.

mu(K) = [A K v; (A K)^2 v; (A K)^3 v],  Sigma(K) = Sigma0 + (B K)(B K)^T,
f(x) = exp(-1/2 (x - m)^T P (x - m)),
E[f] = det(I + Sigma P)^(-1/2) exp(-1/2 d^T (Sigma + P^-1)^-1 d), d = mu - m.
"""

import jax.numpy as jnp
import numpy as np


def matrices(q: int, p: int, seed: int = 0) -> dict:
    n = 3 * q
    rng = np.random.default_rng(seed)
    return {
        "A": 0.5 * rng.standard_normal((q, p)) / np.sqrt(p),
        "v": np.linspace(1.0, -0.5, q),
        "B": 0.3 * rng.standard_normal((n, p)) / np.sqrt(p),
        "sigma0": 0.05 * np.eye(n),
        "target": np.linspace(0.4, -0.4, n),
        "precision": 0.5 * np.eye(n),
        "K": 0.5 * rng.standard_normal((p, q)),
    }


def jax_functions(c: dict):
    c = {name: jnp.asarray(value) for name, value in c.items()}

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

    def closed_form(K):
        mean, cov = mean_fn(K), cov_fn(K)
        d = mean - c["target"]
        n = d.shape[0]
        scale = jnp.linalg.det(jnp.eye(n) + cov @ c["precision"]) ** -0.5
        return scale * jnp.exp(-0.5 * d @ jnp.linalg.solve(cov + jnp.linalg.inv(c["precision"]), d))

    return mean_fn, cov_fn, f, closed_form


def torch_functions(c: dict):
    import torch

    c = {name: torch.tensor(value, dtype=torch.float64) for name, value in c.items()}

    def mean_fn(K):
        AK = c["A"] @ K
        first = AK @ c["v"]
        second = AK @ first
        return torch.cat([first, second, AK @ second])

    def cov_fn(K):
        BK = c["B"] @ K
        return c["sigma0"] + BK @ BK.T

    def f(x):  # a batch of points, shape (N, n)
        d = x - c["target"]
        return torch.exp(-0.5 * torch.einsum("ni,ij,nj->n", d, c["precision"], d))

    return mean_fn, cov_fn, f
