r"""A workload in any dimension n, in JAX and in PyTorch, for the speed benchmarks.

    mu(K) = tanh(K) a,   Sigma(K) = Sigma0 + K K^T / p,   f(x) = exp(-1/2 (x - m)^T P (x - m)),

with K of shape (n, p), p = 2: the question's shape of problem (a saturating cost under a
Gaussian whose mean and covariance both depend on K) at every n.
"""

import jax
import jax.numpy as jnp
import numpy as np

P = 2


def constants(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "a": rng.standard_normal(P) / np.sqrt(P),
        "sigma0": 0.1 * np.eye(n),
        "target": np.linspace(0.4, -0.4, n),
        "precision": 0.5 * np.eye(n),
        "K0": 0.5 * rng.standard_normal((n, P)),
    }


def jax_functions(c: dict):
    """mean_fn(K), cov_fn(K) and f(x) (one point) in JAX."""
    c = {name: jnp.asarray(value) for name, value in c.items()}

    def mean_fn(K):
        return jnp.tanh(K) @ c["a"]

    def cov_fn(K):
        return c["sigma0"] + K @ K.T / P

    def f(x):
        d = x - c["target"]
        return jnp.exp(-0.5 * d @ c["precision"] @ d)

    return mean_fn, cov_fn, f


def torch_functions(c: dict, device: str = "cpu"):
    """mean_fn(K), cov_fn(K) and f(x) (a batch of points (N, n)) in PyTorch, float64."""
    import torch

    c = {name: torch.tensor(value, dtype=torch.float64, device=device) for name, value in c.items()}

    def mean_fn(K):
        return torch.tanh(K) @ c["a"]

    def cov_fn(K):
        return c["sigma0"] + K @ K.T / P

    def f(x):
        d = x - c["target"]
        return torch.exp(-0.5 * torch.einsum("ni,ij,nj->n", d, c["precision"], d))

    return mean_fn, cov_fn, f


def gauss_hermite_grid(order: int, n: int) -> tuple[jax.Array, jax.Array]:
    """The full tensor grid (order^n, n) and its weights, built in NumPy, as device arrays."""
    z, w = np.polynomial.hermite_e.hermegauss(order)
    w = w / np.sqrt(2 * np.pi)
    axes = np.meshgrid(*[z] * n, indexing="ij")
    nodes = np.stack([a.ravel() for a in axes], axis=-1)
    weights = np.ones(1)
    for _ in range(n):
        weights = np.multiply.outer(weights, w).ravel()
    return jax.device_put(nodes), jax.device_put(weights)


def grid_problem(n: int, order: int):
    """(K, mean_fn, cov_fn, f, nodes, weights): the workload in n dimensions at its K, and the
    tensor Gauss-Hermite grid of `order` points per axis that a hand-written peer is passed."""
    c = constants(n)
    mean_fn, cov_fn, f = jax_functions(c)
    nodes, weights = gauss_hermite_grid(order, n)
    return jnp.asarray(c["K0"]), mean_fn, cov_fn, f, nodes, weights


def hand_written(f, nodes, weights, mean, cov):
    """The hand-written grid: E[f] = sum_i w_i f(mean + L xi_i), the grid an argument."""
    L = jnp.linalg.cholesky(cov)
    return weights @ jax.vmap(f)(mean + nodes @ L.T)


def hand_written_batched(f, nodes, weights, mean, cov, batch_size: int):
    """The same, chunk by chunk in a rematerialised scan (bounded memory for its gradient)."""
    L = jnp.linalg.cholesky(cov)
    num = weights.shape[0]
    batch_size = min(batch_size, num)
    chunks = -(-num // batch_size)
    pad = chunks * batch_size - num
    nodes = jnp.concatenate([nodes, jnp.zeros((pad, nodes.shape[1]))]).reshape(
        chunks, batch_size, -1
    )
    weights = jnp.concatenate([weights, jnp.zeros(pad)]).reshape(chunks, batch_size)

    @jax.checkpoint
    def step(total, chunk):
        xi, w = chunk
        return total + w @ jax.vmap(f)(mean + xi @ L.T), None

    return jax.lax.scan(step, jnp.zeros(()), (nodes, weights))[0]


def one_normal_draw(f, mean, cov, key, num_samples: int):
    """Monte Carlo by hand: the mean of f over one `jax.random.normal` draw of N(mean, cov)."""
    L = jnp.linalg.cholesky(cov)
    xi = jax.random.normal(key, (num_samples, mean.shape[0]), mean.dtype)
    return jnp.mean(jax.vmap(f)(mean + xi @ L.T))


def bernoulli_grid(means, variances, labels, z, w):
    """sum_b E[log sigmoid(y_b f)], f ~ N(means_b, variances_b), on a vectorised 1-D grid."""
    x = means[:, None] + jnp.sqrt(variances)[:, None] * z[None, :, 0]
    return jnp.sum(jax.nn.log_sigmoid(labels[:, None] * x) @ w)


def bernoulli_data(rng: np.random.Generator, size: int):
    """Means, variances and +-1 labels of `size` one-dimensional Gaussians (a likelihood's
    variational expectation, one term per data point)."""
    means = jnp.asarray(rng.standard_normal(size))
    variances = jnp.asarray(0.1 + rng.random(size))
    labels = jnp.asarray(np.sign(rng.standard_normal(size)))
    return means, variances, labels


def bernoulli_gaussjax(means, variances, labels, rule):
    """The same sum as `bernoulli_grid`, `jax.vmap` of `gj.expectation` over the Gaussians."""
    import gaussjax as gj

    def one(m, v, y):
        return gj.expectation(
            lambda x: jax.nn.log_sigmoid(y * x[0]), m[None], v[None, None], rule=rule
        )

    return jnp.sum(jax.vmap(one)(means, variances, labels))
