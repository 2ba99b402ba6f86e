"""Every rule, one parametrised list: exactness, sizes, gradients, errors, dtypes, jit and vmap."""

import dataclasses
import functools
import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from references import gaussian_moment, question

import gaussjax as gj

RULES = [
    gj.GaussHermite(order=3),
    gj.SparseGrid(level=1),
    gj.SparseGrid(level=2),
    gj.SparseGrid(level=3),
    gj.SparseGrid(level=4),
    gj.Unscented(),
    gj.Unscented(alpha=0.5, beta=2.0, kappa=1.0),
    gj.Cubature(degree=3),
    gj.Cubature(degree=5),
    gj.MonteCarlo(num_samples=2**12),
    gj.QuasiMonteCarlo(num_samples=2**12),
]
DETERMINISTIC = [rule for rule in RULES if not rule.is_random]
RANDOM = [rule for rule in RULES if rule.is_random]


def rule_id(rule):
    return repr(rule).replace(" ", "")


@functools.cache
def nodes_and_weights(rule, dim, seed=0):
    extra = (jax.random.key(seed),) if rule.is_random else ()
    indices = jnp.arange(rule.num_nodes(dim), dtype=jnp.int32)
    xi, w = jax.jit(jax.vmap(lambda i: rule.node(i, dim, jnp.float64, *extra)))(indices)
    return np.asarray(xi, np.float64), np.asarray(w, np.float64)


def monomial_errors(rule, dim, low, high):
    """|sum_i w_i xi_i^alpha - E[xi^alpha]| / max(1, E), alpha of total degree low..high."""
    xi, w = nodes_and_weights(rule, dim)
    degree = high
    alphas = np.array([a for a in itertools.product(range(degree + 1), repeat=dim)])
    alphas = alphas[(alphas.sum(1) >= low) & (alphas.sum(1) <= high)]
    powers = xi[:, :, None] ** np.arange(degree + 1)  # (N, dim, degree + 1)
    values = np.prod(powers[:, np.arange(dim), alphas], axis=-1)  # (N, M)
    exact = np.array([gaussian_moment(alpha) for alpha in alphas])
    return np.abs(w @ values - exact) / np.maximum(1.0, exact)


@pytest.mark.parametrize("rule", DETERMINISTIC, ids=rule_id)
@pytest.mark.parametrize("dim", [1, 2, 3, 6])
def test_exact_for_every_monomial_up_to_the_claimed_degree(rule, dim):
    assert monomial_errors(rule, dim, 0, rule.degree).max() < 1e-10


@pytest.mark.parametrize("rule", DETERMINISTIC, ids=rule_id)
def test_the_claimed_degree_is_sharp(rule):
    # odd degrees are exact by symmetry, so the next even degree is where the claim can fail
    dim = 6
    next_even = rule.degree + 1
    assert monomial_errors(rule, dim, next_even, next_even).max() > 1e-3


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
@pytest.mark.parametrize("dim", [1, 7])
def test_num_nodes_and_degree_are_reported(rule, dim):
    xi, w = nodes_and_weights(rule, dim)
    assert xi.shape == (rule.num_nodes(dim), dim)
    assert np.isclose(w.sum(), 1.0)
    assert isinstance(rule.num_nodes(dim), int)
    if rule.is_random:
        assert rule.degree is None
    else:
        assert isinstance(rule.degree, int)
        assert len({tuple(row) for row in np.round(xi, 12)}) == len(xi)  # no duplicate nodes


def test_the_sizes_match_the_documented_formulas():
    for dim in (1, 2, 5, 10):
        assert gj.Unscented().num_nodes(dim) == 2 * dim + 1
        assert gj.Cubature(degree=3).num_nodes(dim) == 2 * dim
        assert gj.Cubature(degree=5).num_nodes(dim) == 2 * dim**2 + 1
        assert gj.SparseGrid(level=2).num_nodes(dim) == 2 * dim**2 + 1
        assert gj.QuasiMonteCarlo(num_samples=64).num_nodes(dim) == 64
    assert gj.SparseGrid(level=2).degree == 5 and gj.Cubature(degree=5).degree == 5


# The question's parameterisation: mu(K) = [AKv; (AK)^2 v; (AK)^3 v], Sigma(K) = S0 + (BK)(BK)^T.
P_, Q_ = 2, 1
N_ = 3 * Q_
_rng = np.random.default_rng(0)
A = jnp.asarray(_rng.normal(size=(Q_, P_)))
V = jnp.asarray(_rng.normal(size=Q_))
B = jnp.asarray(_rng.normal(size=(N_, P_)) / 2)
K0 = jnp.asarray(_rng.normal(size=(P_, Q_)) / 2)
COEF = jnp.asarray([0.3, -0.2, 0.25])
mean_fn, cov_fn = question(A, V, B, 0.5 * jnp.eye(N_))


def cubic(x):
    y = COEF @ x
    return y**3 + y**2 + x[0]


def cubic_closed_form(K):
    mu, sigma = mean_fn(K), cov_fn(K)
    m, s2 = COEF @ mu, COEF @ sigma @ COEF
    return m**3 + 3 * m * s2 + m**2 + s2 + mu[0]


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_gradient_through_the_parameterisation(rule):
    key = jax.random.key(1)

    def z(K):
        return gj.expectation(cubic, mean_fn(K), cov_fn(K), rule=rule, key=key)

    value, grad = jax.jit(jax.value_and_grad(z))(K0)
    exact_value, exact_grad = jax.value_and_grad(cubic_closed_form)(K0)
    # degree 3: every deterministic rule is exact; random ones are within sampling error
    tol = 1e-10 if not rule.is_random else 0.15
    assert jnp.allclose(value, exact_value, rtol=tol, atol=tol)
    assert jnp.allclose(grad, exact_grad, rtol=tol, atol=tol)


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_check_grads_in_mean_and_cov(rule):
    key = jax.random.key(1)
    check_grads(  # compiled: check_grads evaluates it many times
        jax.jit(lambda m, c: gj.expectation(jnp.sin, m, (c + c.T) / 2, rule=rule, key=key)),
        (mean_fn(K0), cov_fn(K0)),
        order=1,
        modes=("rev",),
        atol=1e-5,
        rtol=1e-5,
    )


def test_unscented_hyperparameters_are_traceable_leaves():
    def z(alpha):
        rule = gj.Unscented(alpha=alpha, kappa=1.0)
        return gj.expectation(lambda x: jnp.sum(x**4), jnp.zeros(2), jnp.eye(2), rule=rule)

    # sum of x_i^4 is degree 4: the value moves with alpha, and so does its alpha-derivative
    alpha = 0.7
    assert jnp.allclose(jax.jit(z)(alpha), 2 * alpha**2 * 3.0)
    assert jnp.allclose(jax.grad(z)(alpha), 2 * 2 * alpha * 3.0)
    assert jnp.allclose(
        gj.Unscented(alpha=1.0, beta=2.0, kappa=1.0).covariance_center_weight(2), 1 / 3 + 2.0
    )


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_estimate_gives_a_finite_error_that_covers_a_smooth_case(rule):
    a = jnp.array([0.3, -0.2, 0.1])
    est = jax.jit(
        lambda m: gj.estimate(
            lambda x: jnp.exp(a @ x), m, jnp.eye(3), rule=rule, key=jax.random.key(2)
        )
    )(jnp.zeros(3))
    true = jnp.exp(a @ a / 2)
    assert jnp.isfinite(est.error) and est.error > 0
    assert abs(est.value - true) <= 4 * est.error


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_float32_is_kept(rule):
    def f(x):
        return x @ x + x[0] ** 3

    mean, cov = jnp.zeros(3, jnp.float32), jnp.eye(3, dtype=jnp.float32)
    z = jax.jit(lambda m, c: gj.expectation(f, m, c, rule=rule, key=jax.random.key(3)))(mean, cov)
    assert z.dtype == jnp.float32
    assert jnp.allclose(z, 3.0, rtol=1e-5 if not rule.is_random else 0.1)


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_jit_and_vmap_agree_with_a_loop(rule):
    means = jnp.array([[0.0, 0.1, 0.2], [0.5, -0.3, 1.0]])
    cov = jnp.array([[1.0, 0.2, 0.0], [0.2, 0.8, 0.1], [0.0, 0.1, 0.5]])
    key = jax.random.key(4)

    def z(m):
        return gj.expectation(
            lambda x: jnp.exp(0.3 * x[0]) * jnp.cos(x[1]) + x[2] ** 2, m, cov, rule=rule, key=key
        )

    batched = jax.jit(jax.vmap(z))(means)
    assert jnp.allclose(batched, jnp.stack([jax.jit(z)(m) for m in means]), rtol=1e-10)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: gj.SparseGrid(level=-1), ValueError, "level >= 0"),
        (lambda: gj.SparseGrid(level=2.0), TypeError, "needs an int"),
        (lambda: gj.SparseGrid(level=26), ValueError, "up to 25"),
        (lambda: gj.Cubature(degree=4), ValueError, "must be 3 or 5"),
        (lambda: gj.Unscented(alpha=0.0), ValueError, "nonzero"),
        (lambda: gj.QuasiMonteCarlo(num_samples=1000), ValueError, "power of two"),
        (lambda: gj.QuasiMonteCarlo(num_samples=64, num_replicates=0), ValueError, ">= 1"),
        (lambda: gj.QuasiMonteCarlo(num_samples=64, num_replicates=3), ValueError, "power"),
    ],
)
def test_bad_hyperparameters_are_refused_when_the_rule_is_built(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_errors_that_need_the_dimension_are_raised_eagerly_and_under_jit():
    rule = gj.Unscented(kappa=-3.0)
    with pytest.raises(ValueError, match="dim \\+ kappa > 0"):
        gj.expectation(jnp.sum, jnp.zeros(3), jnp.eye(3), rule=rule)
    with pytest.raises(ValueError, match="dim \\+ kappa > 0"):
        jax.jit(lambda m: gj.expectation(jnp.sum, m, jnp.eye(3), rule=rule))(jnp.zeros(3))
    qmc = gj.QuasiMonteCarlo(num_samples=64)
    with pytest.raises(ValueError, match="up to 64 dimensions"):
        gj.expectation(jnp.sum, jnp.zeros(65), jnp.eye(65), rule=qmc, key=jax.random.key(0))
    with pytest.raises(ValueError, match="needs a key"):
        gj.expectation(jnp.sum, jnp.zeros(2), jnp.eye(2), rule=qmc)


def test_rules_are_pytrees_with_static_sizes():
    leaves = jax.tree.leaves(gj.Unscented(alpha=0.5, beta=2.0, kappa=1.0))
    assert leaves == [0.5, 2.0, 1.0]
    for rule in (gj.SparseGrid(level=3), gj.Cubature(degree=5), gj.QuasiMonteCarlo(num_samples=8)):
        assert jax.tree.leaves(rule) == []
        fields = {field.name: getattr(rule, field.name) for field in dataclasses.fields(rule)}
        assert eqx.tree_equal(rule, type(rule)(**fields))


def test_rules_are_exact_for_their_degree_under_any_gaussian():
    # The rule against the closed form: a polynomial of the rule's total degree under a
    # correlated Gaussian with a mean, value and gradient (gj.integrands.Polynomial knows both).
    dim, rng = 2, np.random.default_rng(1)
    mean, chol = jnp.array([0.3, -0.2]), jnp.array(np.tril(rng.normal(size=(2, 2))) / 2)
    cov = chol @ chol.T + 0.5 * jnp.eye(dim)

    def polynomial(degree):
        exponents = [
            e for e in itertools.product(range(degree + 1), repeat=dim) if sum(e) <= degree
        ]
        return gj.integrands.Polynomial(rng.normal(size=len(exponents)), exponents)

    rules = [gj.GaussHermite(order=3), gj.SparseGrid(level=3), gj.Cubature(degree=5)]
    cases = [(rule, polynomial(rule.degree)) for rule in rules]

    @jax.jit
    def results(mean, cov):
        out = []
        for rule, p in cases:
            pair = []
            for exact in (True, False):
                z = lambda m, c: gj.expectation(p, m, c, rule=rule, exact=exact)  # noqa: B023, E731
                pair.append(jax.value_and_grad(z, argnums=(0, 1))(mean, cov))
            out.append(pair)
        return out

    for (rule, _), (exact, numeric) in zip(cases, results(mean, cov), strict=True):
        for a, b in zip(jax.tree.leaves(exact), jax.tree.leaves(numeric), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9, err_msg=repr(rule))
