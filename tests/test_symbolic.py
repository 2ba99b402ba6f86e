"""gaussjax.symbolic: Isserlis' theorem, tilting, the chain rule in K, and agreement with the
numerical path through to_jax."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy
from references import gaussian_moment

import gaussjax as gj
import gaussjax.symbolic as gs

X = sympy.symbols("x0:3")


def test_standard_moments_are_isserlis():
    for e in itertools.product(range(5), repeat=3):
        monomial = sympy.Mul(*[x**k for x, k in zip(X, e, strict=True)])
        got = gs.expectation(monomial, X, sympy.zeros(3, 1), sympy.eye(3))
        assert got.is_Integer and float(got) == gaussian_moment(e)
    S = sympy.Matrix(3, 3, lambda i, j: sympy.Symbol(f"s{min(i, j)}{max(i, j)}"))
    s = S[0, 1] * S[2, 2] + 2 * S[0, 2] * S[1, 2]  # Isserlis: three pairings of (0, 1, 2, 2)
    assert sympy.expand(gs.expectation(X[0] * X[1] * X[2] ** 2, X, sympy.zeros(3, 1), S) - s) == 0


def test_symbolic_mean_and_covariance():
    m = sympy.Matrix(sympy.symbols("m0:3"))
    S = sympy.Matrix(3, 3, lambda i, j: sympy.Symbol(f"s{min(i, j)}{max(i, j)}"))
    got = gs.expectation(X[0] ** 2 * X[1], X, m, S)
    assert sympy.expand(got - ((m[0] ** 2 + S[0, 0]) * m[1] + 2 * S[0, 1] * m[0])) == 0
    a, b = sympy.symbols("a b")
    tilted = gs.expectation(X[0] * sympy.exp(a * X[0] + b * X[1] + 1), X, m, S)
    linear = a * m[0] + b * m[1] + 1
    variance = (a**2 * S[0, 0] + 2 * a * b * S[0, 1] + b**2 * S[1, 1]) / 2
    want = (m[0] + a * S[0, 0] + b * S[0, 1]) * sympy.exp(linear + variance)
    assert sympy.simplify(tilted - want) == 0


def test_agrees_with_the_numerical_path_through_to_jax():
    # a polynomial times an exponential, with a numeric covariance: symbolic value and gradient
    # in the mean, evaluated in JAX, against gj.expectation with an exact-enough rule
    m = sympy.Matrix(sympy.symbols("m0:3"))
    cov = sympy.Matrix([[1, sympy.Rational(1, 3), 0], [sympy.Rational(1, 3), 2, 0], [0, 0, 1]])
    expr = (X[0] ** 2 * X[2] - 3 * X[1] + 1) * sympy.exp(X[0] / 4 - X[1] / 5) + X[1] ** 3
    Z = gs.expectation(expr, X, m, cov)
    value = gs.to_jax(Z, [m])
    gradient = gs.to_jax(sympy.Matrix([Z]).jacobian(m), [m])
    mean = jnp.array([0.3, -0.2, 0.5])
    cov_array = jnp.asarray(np.array(cov, dtype=float))
    f = gs.to_jax(expr, [list(X)])

    def z(mean):
        return gj.expectation(f, mean, cov_array, rule=gj.GaussHermite(order=20))

    numeric = jax.jit(jax.value_and_grad(z))(mean)
    np.testing.assert_allclose(value(mean), numeric[0], rtol=1e-12)
    np.testing.assert_allclose(gradient(mean).ravel(), numeric[1], rtol=1e-12)


def test_chain_rule_in_K_matches_gaussjax():
    # mu(K) = [A K v; (A K)^2 v] (n = 2, q = 1), Sigma(K) = S0 + (B K)(B K)^T, f quadratic
    K = sympy.Matrix(2, 1, sympy.symbols("k0:2"))
    A, v = sympy.Matrix([[1, -2]]), sympy.Rational(1, 2)
    B = sympy.Matrix([[1, 0], [1, 1]]) / 2
    AK = (A * K)[0]
    mean = sympy.Matrix([AK * v, AK**2 * v])
    cov = sympy.eye(2) / 10 + (B * K) * (B * K).T
    x = sympy.symbols("x0:2")
    f = x[0] ** 2 + 3 * x[0] * x[1] - x[1]
    dZ_dK = gs.chain_rule(f, x, mean, cov, K)
    assert dZ_dK.shape == (2, 1) and all(entry.is_polynomial(*K) for entry in dZ_dK)
    point = jnp.array([[0.4], [-0.3]])
    quadratic = gj.integrands.Quadratic(Q=jnp.array([[1.0, 3.0], [0.0, 0.0]]), b=[0.0, -1.0])
    mean_fn, cov_fn = gs.to_jax(mean, [K]), gs.to_jax(cov, [K])
    report = jax.jit(lambda K: gj.chain_rule(quadratic, lambda K: mean_fn(K)[:, 0], cov_fn, K))(
        point
    )
    np.testing.assert_allclose(gs.to_jax(dZ_dK, [K])(point), report.dZ_dK, rtol=1e-13)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="not a polynomial times exp"):
        gs.expectation(sympy.sin(X[0]), X, sympy.zeros(3, 1), sympy.eye(3))
    with pytest.raises(ValueError, match="not an exponential of a linear form"):
        gs.expectation(sympy.exp(X[0] ** 2), X, sympy.zeros(3, 1), sympy.eye(3))
    with pytest.raises(ValueError, match="mean must be n x 1 and cov n x n"):
        gs.expectation(X[0], X, sympy.zeros(2, 1), sympy.eye(3))
    with pytest.raises(ValueError, match="must not depend on x"):
        gs.expectation(X[0], X, sympy.Matrix(X), sympy.eye(3))
    with pytest.raises(ValueError, match="K must be a Matrix of symbols"):
        gs.chain_rule(X[0], X, sympy.zeros(3, 1), sympy.eye(3), sympy.Matrix([[1]]))
