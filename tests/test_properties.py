"""Property-based tests: generated Gaussians (dimensions 1 to 6, random SPD covariances over six
decades of scale), integrands and rules. Each case matches its closed form to the rule's
accuracy, or raises a documented error.

Hypothesis draws a rule, a dimension and a seed; each example then checks a batch of BATCH
Gaussians generated from the seed in NumPy, under one compiled `vmap` per (rule, dimension), so
that thousands of cases (MAX_EXAMPLES x BATCH) cost seconds, most of them compiling.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import gaussjax as gj

BATCH = 128
MAX_EXAMPLES = 24
SETTINGS = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure is reproducible
    suppress_health_check=[HealthCheck.too_slow],
)

# rules exact for the cubic below (total degree 3, each exponent <= 3)
RULES = {
    "GaussHermite(2)": gj.GaussHermite(order=2),
    "Cubature(3)": gj.Cubature(degree=3),
    "Cubature(5)": gj.Cubature(degree=5),
    "Unscented": gj.Unscented(),
    "SparseGrid(1)": gj.SparseGrid(level=1),
}


def spd(rng: np.random.Generator, n: int, scale: float, condition: float) -> np.ndarray:
    """A random SPD matrix: random eigenvectors, eigenvalues scale * [1/condition, 1]."""
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigenvalues = scale * np.geomspace(1.0 / condition, 1.0, n)[rng.permutation(n)]
    cov = q @ np.diag(eigenvalues) @ q.T
    return (cov + cov.T) / 2


def draw_cases(seed: int, n: int, batch: int):
    """A batch of (integrand parameters, mean, cov): scales 1e-3 to 1e3, conditions to 1e4."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-3, 3, batch)
    covs = np.stack([spd(rng, n, s, 10.0 ** rng.uniform(0, 4)) for s in scales])
    means = rng.normal(size=(batch, n)) * np.sqrt(scales)[:, None]
    A = rng.normal(size=(batch, n, n))
    params = {
        "c": rng.normal(size=batch),
        "b": rng.normal(size=(batch, n)),
        "A": (A + np.swapaxes(A, 1, 2)) / 2,
        "d": rng.normal(size=(batch, n)),
    }
    return params, means, covs


def cubic(p, x):
    return p["c"] + p["b"] @ x + x @ p["A"] @ x + p["d"] @ x**3


def closed_form(p, mean, cov):
    """Z, dZ/dmean and the symmetric dZ/dcov of E[cubic(x)], and a size for each."""
    var = np.diagonal(cov, axis1=-2, axis2=-1)
    z = (
        p["c"]
        + np.einsum("bi,bi->b", p["b"], mean)
        + np.einsum("bi,bij,bj->b", mean, p["A"], mean)
        + np.einsum("bij,bji->b", p["A"], cov)
        + np.einsum("bi,bi->b", p["d"], mean**3 + 3 * mean * var)
    )
    dmean = p["b"] + 2 * np.einsum("bij,bj->bi", p["A"], mean) + 3 * p["d"] * (mean**2 + var)
    dcov = p["A"] + np.einsum("bi,ij->bij", 3 * p["d"] * mean, np.eye(mean.shape[1]))
    # what rounding is relative to: the sizes of the terms, not of their (cancelling) sum
    size = 1 + np.abs(p["c"]) + np.einsum("bi,bi->b", np.abs(p["b"]), np.abs(mean))
    size = size + np.einsum("bij,bij->b", np.abs(p["A"]), np.abs(cov) + np.abs(mean[:, :, None]))
    size = size * (1 + np.max(np.abs(mean), axis=1) + np.sqrt(np.max(var, axis=1))) ** 3
    return (z, dmean, dcov), size


@functools.cache
def batched(rule_name: str):
    rule = RULES[rule_name]

    def one(p, mean, cov):
        def z(m, c):
            return gj.expectation(functools.partial(cubic, p), m, c, rule=rule, projection=None)

        value, (dmean, dcov) = jax.value_and_grad(z, argnums=(0, 1))(mean, cov)
        return value, dmean, dcov

    return jax.jit(jax.vmap(one))


@settings(SETTINGS, max_examples=MAX_EXAMPLES)
@given(
    rule_name=st.sampled_from(list(RULES)),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_rules_exact_for_a_cubic_match_its_closed_form_and_gradients(rule_name, n, seed):
    params, means, covs = draw_cases(seed, n, BATCH)
    got = batched(rule_name)(params, means, covs)
    exact, size = closed_form(params, means, covs)
    for g, e in zip(got, exact):
        error = np.abs(np.asarray(g) - e).reshape(BATCH, -1).max(axis=1)
        assert np.all(error <= 1e-10 * size), (rule_name, n, np.max(error / size))


@jax.jit
def smooth_expectation(w, m, c):
    c = (c + c.T) / 2  # finite differences perturb cov in every direction
    return gj.expectation(lambda x: jnp.sin(w @ x) + x @ x, m, c, rule=gj.GaussHermite(order=4))


@settings(SETTINGS, max_examples=4)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3))
def test_check_grads_passes_on_a_random_smooth_integrand_and_gaussian(seed, n):
    rng = np.random.default_rng(seed)
    mean, cov = rng.normal(size=n), spd(rng, n, 10.0 ** rng.uniform(-1, 1), 10.0)
    w = jnp.asarray(rng.normal(size=n))
    z = functools.partial(smooth_expectation, w)
    check_grads(z, (mean, cov), order=2, modes=("rev",), atol=1e-5, rtol=1e-5)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    kind=st.sampled_from(["spd", "indefinite", "asymmetric", "nan mean", "nan cov"]),
)
def test_a_random_covariance_either_gives_the_closed_form_or_a_documented_error(seed, n, kind):
    rng = np.random.default_rng(seed)
    mean, cov = rng.normal(size=n), spd(rng, n, 10.0 ** rng.uniform(-3, 3), 100.0)
    if kind == "indefinite":
        q, _ = np.linalg.qr(rng.normal(size=(n, n)))
        eigenvalues = rng.uniform(0.1, 1, n) * np.where(np.arange(n) == 0, -1, 1)
        cov = q @ np.diag(eigenvalues) @ q.T
        cov = (cov + cov.T) / 2
        message = "cov is not positive definite"
    elif kind == "asymmetric":
        cov = cov + np.triu(rng.uniform(0.1, 1, (n, n)) * np.sqrt(np.outer(*[np.diag(cov)] * 2)), 1)
        message = "cov is not symmetric" if n > 1 else None
    elif kind == "nan mean":
        mean[rng.integers(n)] = np.nan
        message = "mean holds NaN or inf"
    elif kind == "nan cov":
        i, j = rng.integers(n, size=2)
        cov[i, j] = cov[j, i] = np.inf
        message = "cov holds NaN or inf"
    else:
        message = None
    call = functools.partial(gj.expectation, lambda x: x @ x, rule=gj.GaussHermite(order=2))
    if message is None:
        assert np.isclose(call(mean, cov), mean @ mean + np.trace(cov), rtol=1e-12)
        return
    with pytest.raises(ValueError, match="gj.expectation: " + message):
        call(mean, cov)
