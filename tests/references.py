"""References shared by the tests: Gaussian moments, integrands with closed-form expectations,
and the question's parameterisation (the functions of `gaussjax._example`, with any matrices)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr
from jax.scipy.stats import multivariate_normal, norm

from gaussjax._example import question_functions


def gaussian_moment(exponents) -> float:
    """E[prod_k xi_k^e_k] for xi ~ N(0, I): prod of (e-1)!! for even e, 0 if any e is odd."""
    value = 1.0
    for e in exponents:
        if e % 2:
            return 0.0
        value *= math.prod(range(e - 1, 0, -2))
    return value


def question(A, v, B, sigma0):
    """mu(K) = [AKv; (AK)^2 v; (AK)^3 v] and Sigma(K) = sigma0 + (BK)(BK)^T for these matrices."""
    n = np.shape(B)[0]
    matrices = dict(A=A, v=v, B=B, sigma0=sigma0, target=np.zeros(n), precision=np.eye(n))
    mean_fn, cov_fn, _, _ = question_functions(matrices)
    return mean_fn, cov_fn


def saturating(target, P):
    """f(x) = exp(-1/2 (x - target)^T P (x - target)) and its expectation E(mu, Sigma)."""
    n = np.shape(target)[0]
    matrices = dict(A=np.eye(1, n), v=np.ones(1), B=np.eye(n, 1), sigma0=np.eye(n))
    _, _, f, closed_form = question_functions(matrices | dict(target=target, precision=P))
    return f, closed_form


def integrands(n: int):
    """Smooth integrands in n dimensions, each with f and its expectation E(mu, Sigma)."""
    a = jnp.linspace(0.5, -0.3, n)
    w = jnp.linspace(-0.4, 0.6, n) + 0.2
    Q = jnp.eye(n) + 0.1 * jnp.ones((n, n))
    b = jnp.arange(1.0, n + 1.0) / n
    target = jnp.linspace(0.3, -0.2, n)
    P = 0.8 * jnp.eye(n) + 0.1 * jnp.ones((n, n))
    R = 0.5 * jnp.eye(n)

    return {
        "exp_linear": (
            lambda x: jnp.exp(a @ x),
            lambda mu, S: jnp.exp(a @ mu + 0.5 * a @ S @ a),
        ),
        "quadratic": (
            lambda x: x @ Q @ x + b @ x,
            lambda mu, S: jnp.trace(Q @ S) + mu @ Q @ mu + b @ mu,
        ),
        "cosine": (
            lambda x: jnp.cos(w @ x),
            lambda mu, S: jnp.cos(w @ mu) * jnp.exp(-0.5 * w @ S @ w),
        ),
        "saturating": saturating(target, P),
        "gaussian_kernel": (
            lambda x: multivariate_normal.pdf(x, target, R),
            lambda mu, S: multivariate_normal.pdf(mu, target, R + S),
        ),
        "probit": (
            lambda x: ndtr(w @ x),
            lambda mu, S: ndtr(w @ mu / jnp.sqrt(1.0 + w @ S @ w)),
        ),
    }


def ridge_expectations(m, v):
    """E[g(t)] for t ~ N(m, v), g = ReLU, squared ReLU and the step 1{t > 0}, written out."""
    s = jnp.sqrt(v)
    return {
        "relu": m * ndtr(m / s) + s * norm.pdf(m / s),
        "squared_relu": (m**2 + v) * ndtr(m / s) + m * s * norm.pdf(m / s),
        "step": ndtr(m / s),
    }


def parameterisation(n: int):
    """mean_fn, cov_fn and a K of shape (n, 2): a Gaussian whose mean and covariance move with K."""
    C = jnp.linspace(-1.0, 1.0, 2 * n).reshape(n, 2)
    S0 = 0.2 * jnp.eye(n) + 0.05 * jnp.ones((n, n))

    def mean_fn(K):
        return jnp.tanh(K) @ jnp.array([0.7, -0.4]) + 0.1 * jnp.sum(C * K, axis=1)

    def cov_fn(K):
        return S0 + 0.1 * (K @ K.T)

    K = 0.5 * C + 0.1
    return mean_fn, cov_fn, K


def logistic_likelihood(n: int, observations: int, seed: int = 0, scale: float = 0.5):
    """f(x) = prod_k sigmoid(y_k a_k^T x) and log f, for data drawn from a logistic model with
    weakly informative features a_k ~ N(0, scale^2 I)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(observations, n)) * scale
    truth = rng.normal(size=n)
    labels = np.where(rng.uniform(size=observations) < 1 / (1 + np.exp(-features @ truth)), 1, -1)
    margins = jnp.asarray(labels[:, None] * features)

    def f(x):
        return jnp.prod(jax.nn.sigmoid(margins @ x))

    def log_f(x):
        return jnp.sum(jax.nn.log_sigmoid(margins @ x))

    return f, log_f


def student_kernel(m, P, nu: float):
    """f(x) = (1 + (x - m)^T P (x - m) / nu)^(-(nu + n) / 2), a multivariate t kernel."""
    n = np.shape(m)[0]
    return lambda x: (1 + (x - m) @ P @ (x - m) / nu) ** (-(nu + n) / 2)
