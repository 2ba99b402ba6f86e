"""Tolerances: rtol=/atol= refine the rule; the plain call is right or says it could not be."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import integrands, parameterisation, saturating

import gaussjax as gj

RUNTIME_ERRORS = jax.errors.JaxRuntimeError


def relative(a, b):
    return float(jnp.linalg.norm(jnp.ravel(a - b)) / jnp.linalg.norm(jnp.ravel(b)))


@pytest.mark.parametrize("n", [1, 3])
def test_the_plain_call_meets_its_default_tolerance_on_every_closed_form(n):
    mean_fn, cov_fn, K = parameterisation(n)
    mean, cov = mean_fn(K), cov_fn(K)
    cases = integrands(n)
    values = jax.jit(
        lambda m, c: {name: gj.expectation(f, m, c) for name, (f, _) in cases.items()}
    )(mean, cov)
    for name, (_, exact) in cases.items():
        assert relative(values[name], exact(mean, cov)) <= 1e-6, name


def test_gradients_of_the_plain_call_come_from_the_rule_that_met_the_tolerance():
    mean_fn, cov_fn, K = parameterisation(2)
    f, exact = integrands(2)["saturating"]
    grad = jax.jit(jax.grad(lambda K: gj.expectation(f, mean_fn(K), cov_fn(K))))(K)
    assert relative(grad, jax.grad(lambda K: exact(mean_fn(K), cov_fn(K)))(K)) < 1e-6


def test_the_quietly_wrong_case_of_the_old_default_is_now_right():
    # n = 8, a smooth saturating cost: the old default (SparseGrid(level=5)) was 3.3% off on
    # dZ/dK with no warning; the plain call now adapts and meets rtol = 1e-6
    n = 8
    mean, cov = jnp.linspace(-0.3, 0.3, n), 0.5 * jnp.eye(n) + 0.1
    f, exact = saturating(jnp.linspace(0.5, -0.5, n), 3.0 * jnp.eye(n))
    value, grad = jax.jit(jax.value_and_grad(lambda m: gj.expectation(f, m, cov)))(mean)
    assert relative(value, exact(mean, cov)) < 1e-6
    assert relative(grad, jax.grad(exact)(mean, cov)) < 1e-5
    old = jax.jit(jax.grad(lambda m: gj.expectation(f, m, cov, rule=gj.SparseGrid(level=5))))(mean)
    assert relative(old, jax.grad(exact)(mean, cov)) > 1e-3


def test_a_given_rule_is_refined_within_its_family_until_the_tolerance_is_met():
    f, exact = integrands(2)["cosine"]
    mean, cov = jnp.array([0.3, -0.5]), jnp.array([[0.6, 0.2], [0.2, 0.4]])
    est = jax.jit(
        lambda m: gj.estimate(f, m, cov, rule=gj.GaussHermite(order=2), rtol=1e-10, atol=0.0)
    )(mean)
    assert relative(est.value, exact(mean, cov)) < 1e-10
    assert est.error <= 1e-10 * abs(est.value) and est.evaluations > 2**2 + 1
    fixed = gj.expectation(f, mean, cov, rule=gj.GaussHermite(order=2))
    assert relative(fixed, exact(mean, cov)) > 1e-4  # without rtol: the rule as it is


def test_an_unreachable_tolerance_raises_with_the_error_reached_or_estimates_the_best():
    f = lambda x: jnp.maximum(x[0], 0.0)  # noqa: E731
    mean, cov = jnp.zeros(2), jnp.eye(2)
    options = dict(rtol=1e-12, max_evaluations=500)
    with pytest.raises(ValueError, match=r"could not reach rtol=1e-12.*max_evaluations=500.*"):
        gj.expectation(f, mean, cov, **options)
    with pytest.raises(RUNTIME_ERRORS, match="smallest error estimate reached was about 1e"):
        jax.block_until_ready(jax.jit(lambda m: gj.expectation(f, m, cov, **options))(mean))
    est = jax.jit(lambda m: gj.estimate(f, m, cov, **options))(mean)
    truth = 1 / np.sqrt(2 * np.pi)
    assert 0 < est.error < 0.1 and est.evaluations <= 500
    assert abs(est.value - truth) <= 3 * est.error


def test_under_vmap_each_gaussian_gets_a_value_within_the_tolerance():
    f, exact = integrands(2)["probit"]
    means = jnp.array([[0.0, 0.0], [1.0, -1.0], [-2.0, 0.5]])
    cov = jnp.array([[0.6, 0.2], [0.2, 0.4]])
    values = jax.jit(jax.vmap(lambda m: gj.expectation(f, m, cov, rtol=1e-8)))(means)
    for value, m in zip(values, means, strict=True):
        assert relative(value, exact(m, cov)) < 1e-8


def test_random_rules_refine_by_doubling(key):
    f, exact = integrands(3)["exp_linear"]
    mean, cov = jnp.zeros(3), jnp.eye(3)
    rule = gj.QuasiMonteCarlo(num_samples=256)
    est = jax.jit(lambda m: gj.estimate(f, m, cov, rule=rule, key=key, rtol=1e-3))(mean)
    assert est.evaluations > 256 and est.error <= 1e-3 * abs(est.value)  # three standard errors
    assert relative(est.value, exact(mean, cov)) < 1e-3


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(rtol=-1.0), "rtol must be a number >= 0"),
        (dict(atol="tight"), "atol must be a number >= 0"),
        (dict(rtol=1e-6, max_evaluations=0), "max_evaluations must be a positive int"),
        (dict(rule=gj.GaussHermite(3), max_evaluations=100), "max_evaluations bounds"),
        (dict(rtol=1e-6, max_evaluations=3), "less than the cheapest rule"),
    ],
)
def test_bad_tolerances_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        gj.expectation(jnp.sin, jnp.zeros(1), jnp.eye(1), **options)
