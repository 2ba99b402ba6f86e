"""projection=W: f a function of W^T x, integrated in k dimensions; projections found in f's
program; the score estimator, random rules and batch_size through the stage; the errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import norm
from references import parameterisation

import gaussjax as gj
from gaussjax._example import question_functions, question_matrices

N = 4
MEAN = jnp.array([0.2, -0.1, 0.4, 0.3])
CHOL = jnp.tril(jnp.arange(1.0, 17.0).reshape(N, N) / 20) + 0.6 * jnp.eye(N)
COV = CHOL @ CHOL.T
W2 = jnp.array([[0.5, -0.2], [0.3, 0.4], [-0.6, 0.1], [0.2, 0.7]])  # (n, k) = (4, 2)
A = jnp.array([0.5, -0.3, 0.2, 0.4])


def cubic(y):
    return y[0] ** 2 * y[1] + 0.5 * y[1] ** 3 - y[0] + 1.0


@pytest.mark.parametrize(
    "name, covariance",
    [
        ("cov", COV),
        ("cov_factor", CHOL[:, :1]),  # r = 1 < k: the rule runs in one dimension
    ],
    ids=["cov", "cov_factor_narrow"],
)
def test_explicit_projection_equals_the_full_integral_and_its_derivatives(name, covariance):
    # Gauss-Hermite of order 2 is exact for a cubic in any dimension, so both sides are exact:
    # the value and the gradients in mean, the covariance argument and W agree to rounding.
    rule = gj.GaussHermite(order=2)

    def projected(m, v, W):
        return gj.expectation(cubic, m, rule=rule, projection=W, **{name: v})

    def full(m, v, W):
        return gj.expectation(lambda x: cubic(W.T @ x), m, rule=rule, projection=None, **{name: v})

    @jax.jit
    def both(m, v, W):
        return [jax.value_and_grad(z, argnums=(0, 1, 2))(m, v, W) for z in (projected, full)]

    (value, grads), (want, want_grads) = both(MEAN, covariance, W2)
    np.testing.assert_allclose(value, want, rtol=1e-12)
    for got, expected in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    est = gj.estimate(cubic, MEAN, rule=rule, projection=W2, **{name: covariance})
    assert est.dim == min(2, covariance.shape[1])


def smooth_ridges():
    """f of x, the dimension the default rule should run in, and E[f] in closed form."""
    W3 = jnp.stack([A, 2 * A, W2[:, 0]], axis=1)  # rank 2
    s = jnp.sqrt(A @ COV @ A)
    return {
        "w @ x": (lambda x: jnp.exp(A @ x), 1, jnp.exp(A @ MEAN + s**2 / 2)),
        "x @ W": (lambda x: jnp.sin(x @ W2).sum(), 2, None),
        "W.T @ x": (lambda x: jnp.exp(0.5 * W2.T @ x) @ jnp.array([1.0, -1.0]), 2, None),
        "dependent columns": (lambda x: jnp.cos(x @ W3) @ jnp.ones(3), 2, None),
        "probit": (
            lambda x: norm.cdf(A @ x + 0.2),
            1,
            norm.cdf((A @ MEAN + 0.2) / (1 + s**2) ** 0.5),
        ),
        "indexed": (lambda x: x[0] + jnp.exp(A @ x), N, None),
        "kink": (lambda x: jax.nn.relu(A @ x), N, None),
        "step": (lambda x: (A @ x > 0).astype(x.dtype), N, None),
        "nested jit": (jax.jit(lambda x: jnp.exp(A @ x)), N, None),
    }


@pytest.mark.parametrize("name", list(smooth_ridges()))
def test_projection_found_in_the_program(name):
    f, dim, closed_form = smooth_ridges()[name]

    def not_projected(m, c):
        return gj.estimate(f, m, c, projection=None)

    def on_a_full_grid(m, c):
        return gj.expectation(f, m, c, projection=None, rule=gj.GaussHermite(order=12))

    assert jax.eval_shape(not_projected, MEAN, COV).dim == N  # projection=None turns it off
    # the ladder without projection is compiled only where its value is compared
    reference = on_a_full_grid if dim < N else not_projected
    found, other = jax.jit(lambda m, c: (gj.estimate(f, m, c), reference(m, c)))(MEAN, COV)
    if dim < N:
        assert jnp.allclose(found.value, other, rtol=1e-8)  # the same integral
    else:
        assert found.value == other.value  # nothing found: nothing changed
    assert found.dim == dim
    if closed_form is not None:
        np.testing.assert_allclose(found.value, closed_form, rtol=1e-13)  # in 1-D: exact


def test_a_matrix_being_differentiated_is_not_found_but_the_gradient_is_right():
    # a traced matrix is not known when f is traced: no projection, and the answer is unchanged
    def z(a):
        return gj.estimate(lambda x: jnp.exp(a @ x), MEAN, COV)

    assert jax.eval_shape(z, A).dim == N
    closed = jax.grad(lambda a: jnp.exp(a @ MEAN + 0.5 * a @ COV @ a))(A)
    np.testing.assert_allclose(jax.jit(jax.grad(lambda a: z(a).value))(A), closed, rtol=1e-6)
    projected = jax.grad(
        lambda a: gj.expectation(lambda y: jnp.exp(y[0]), MEAN, COV, projection=a[:, None])
    )
    np.testing.assert_allclose(jax.jit(projected)(A), closed, rtol=1e-13)


def test_score_random_rules_and_batch_size_through_the_stage():
    def exact(m, c):
        return norm.cdf((A @ m - 0.1) / jnp.sqrt(A @ c @ A))

    def step(y):  # a jump: the score estimator, in the one dimension of y = a^T x
        return (y[0] > 0.1).astype(y.dtype)

    options = dict(projection=A[:, None], estimator="score", key=jax.random.key(0))

    @jax.jit
    def run(m, c):
        rule = gj.MonteCarlo(num_samples=2**12)
        mc = gj.estimate_grad(step, m, c, rule=rule, num_repeats=8, **options)
        chunked = gj.expectation(step, m, c, rule=rule, batch_size=1000, **options)
        return mc, gj.expectation(step, m, c, rule=rule, **options), chunked

    mc, whole, chunked = run(MEAN, COV)
    np.testing.assert_allclose(whole, chunked, rtol=1e-12)
    assert abs(whole - exact(MEAN, COV)) < 0.03
    for got, error, want in zip(
        mc.value, mc.error, jax.grad(exact, (0, 1))(MEAN, COV), strict=True
    ):
        assert jnp.all(jnp.abs(got - want) < 5 * error + 1e-12) and mc.dim == 1


def test_bonnet_price_and_chain_rule_through_the_stage():
    rule = gj.GaussHermite(order=2)
    mean_fn, cov_fn, K = parameterisation(N)

    @jax.jit
    def run(m, c, K):
        methods = [
            gj.mean_cov_grads(cubic, m, c, method=method, rule=rule, projection=W2)
            for method in ("autodiff", "bonnet_price")
        ]
        report = gj.chain_rule(cubic, mean_fn, cov_fn, K, rule=rule, projection=W2)
        return methods, report

    methods, report = run(MEAN, COV, K)
    for other in methods[1:]:
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-10), methods[0], other)
    np.testing.assert_allclose(report.contraction, report.dZ_dK, atol=1e-12)


def test_a_probit_ridge_in_six_dimensions_is_a_one_dimensional_integral():
    # benchmarks/ridge.py prints the whole table: the plain call finds w and meets its
    # tolerance in one dimension, where the 6-dimensional grid of 15,625 nodes is off by 2.5e-5
    matrices = question_matrices(q=2, p=3)
    mean_fn, cov_fn, _, _ = question_functions(matrices)
    K = jnp.asarray(matrices["K0"])
    probit = gj.integrands.Probit(w=2.7 * jnp.linspace(1.0, -0.5, 6), b=0.3)

    def dZ_dK(f, **options):
        return jax.jit(jax.grad(lambda K: gj.expectation(f, mean_fn(K), cov_fn(K), **options)))(K)

    exact = dZ_dK(probit)

    def error(grad):
        return float(jnp.linalg.norm(grad - exact) / jnp.linalg.norm(exact))

    assert error(dZ_dK(probit, exact=False)) < 1e-10  # found: one dimension; measured 1.1e-12
    assert 1e-5 < error(dZ_dK(probit, exact=False, rule=gj.GaussHermite(order=5))) < 1e-4
    est = jax.jit(lambda m, c: gj.estimate(probit, m, c, exact=False))(mean_fn(K), cov_fn(K))
    assert est.dim == 1 and est.evaluations < 100


def test_projection_errors_name_the_caller():
    with pytest.raises(ValueError, match="gj.expectation: projection must be a matrix W of shape"):
        gj.expectation(cubic, MEAN, COV, projection=jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="gj.estimate: projection must be a matrix W"):
        gj.estimate(cubic, MEAN, COV, projection="yes")
    with pytest.raises(TypeError, match="gj.chain_rule: f must return a scalar"):
        mean_fn, cov_fn, K = parameterisation(N)
        gj.chain_rule(lambda y: y, mean_fn, cov_fn, K, projection=W2)
    broken = W2.at[0, 0].set(jnp.nan)
    with pytest.raises(Exception, match="gj.expectation: the projected covariance W\\^T Sigma W"):
        jax.block_until_ready(
            jax.jit(lambda m: gj.expectation(cubic, m, COV, projection=broken))(MEAN)
        )
