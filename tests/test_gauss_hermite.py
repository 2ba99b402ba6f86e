import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import gaussian_moment

import gaussjax as gj


def rounding(exponents) -> float:
    """Rounding error to allow for: a few ulps of the size of the terms, sqrt(E[x^(2e)])."""
    return 1e-13 * np.sqrt(gaussian_moment([2 * e for e in exponents]))


def monomial_expectation(exponents, rule):
    exponents = jnp.asarray(exponents)
    n = len(exponents)
    return gj.expectation(lambda x: jnp.prod(x**exponents), jnp.zeros(n), jnp.eye(n), rule=rule)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_integrates_every_monomial_with_each_exponent_up_to_2m_minus_1(n, order):
    rule = gj.GaussHermite(order=order)
    every = list(itertools.product(range(2 * order), repeat=n))  # up to 1,000: one program
    got = jax.jit(jax.vmap(lambda e: monomial_expectation(e, rule)))(jnp.asarray(every))
    for exponents, value in zip(every, got, strict=True):
        assert np.isclose(value, gaussian_moment(exponents), rtol=0, atol=rounding(exponents))


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_is_not_exact_for_exponent_2m(order):
    rule = gj.GaussHermite(order=order)
    got = monomial_expectation((2 * order, 0), rule)
    assert not np.isclose(got, gaussian_moment((2 * order, 0)), rtol=1e-6)


def test_nodes_and_weights_match_hermegauss_and_the_index_order():
    rule = gj.GaussHermite(order=3)
    z, w = np.polynomial.hermite_e.hermegauss(3)
    w = w / np.sqrt(2 * np.pi)
    for index, (i, j) in enumerate(itertools.product(range(3), repeat=2)):
        xi, weight = rule.node(jnp.asarray(index), 2, jnp.float64)
        assert np.allclose(xi, [z[j], z[i]]) and np.isclose(weight, w[i] * w[j])


def test_reports_size_and_degree():
    rule = gj.GaussHermite(order=4)
    assert rule.num_nodes(3) == 64
    assert rule.degree == 7
    assert not rule.is_random
    assert rule.error_reference() == gj.GaussHermite(order=3)
    assert gj.GaussHermite(order=1).error_reference() is None


@pytest.mark.parametrize("order", [0, -2])
def test_rejects_order_below_one(order):
    with pytest.raises(ValueError, match="order >= 1"):
        gj.GaussHermite(order=order)


@pytest.mark.parametrize("order", [2.5, "3", True])
def test_rejects_a_non_integer_order(order):
    with pytest.raises(TypeError, match="needs an int"):
        gj.GaussHermite(order=order)
