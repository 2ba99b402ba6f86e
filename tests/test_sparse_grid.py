"""SparseGrid: the Genz-Keister 1-D rules, the Smolyak table, node counts, honest error flags."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import norm
from references import gaussian_moment, question, saturating

import gaussjax as gj
from gaussjax._default_rule import default_rule
from gaussjax._rules._genz_keister import GENZ_KEISTER_DEGREES, genz_keister_table
from gaussjax._rules._sparse_grid import smolyak_size, sparse_grid_size, sparse_grid_table

# Published Genz-Keister nodes for the weight exp(-x^2) (Burkardt's hermite_genz_keister tables);
# ours are for N(0, 1), larger by sqrt(2).
PUBLISHED_35 = [
    0.17606414208200893,
    0.52403354748695763,
    1.2247448713915889,
    2.0232301911005157,
    2.9592107790638380,
    3.6677742159463378,
    4.4995993983103881,
    6.3759392709822356,
]


def test_genz_keister_nodes_match_the_published_values():
    nodes, _ = genz_keister_table()
    assert nodes.shape == (35,)
    for x in PUBLISHED_35:
        assert np.min(np.abs(nodes - x * np.sqrt(2))) < 1e-13


@pytest.mark.parametrize("rule", range(5))
def test_genz_keister_rules_are_exact_to_their_degree_and_no_further(rule):
    nodes, weights = genz_keister_table()
    degree = GENZ_KEISTER_DEGREES[rule]
    for k in range(degree + 1):
        scale = np.abs(weights[rule]) @ np.abs(nodes) ** k
        assert abs(weights[rule] @ nodes**k - gaussian_moment([k])) <= 1e-12 * scale, k
    k, moment = degree + 1, gaussian_moment([degree + 1])
    assert abs(weights[rule] @ nodes**k - moment) > 1e-8 * moment  # rounding: 1e-13


def test_genz_keister_rules_are_nested_and_the_19_node_rule_has_a_negative_weight():
    _, weights = genz_keister_table()
    sizes = (weights != 0).sum(axis=1)
    assert list(sizes) == [1, 3, 9, 19, 35]
    assert (weights[3] < 0).sum() == 2  # the pair at +-2.86, as Genz and Keister publish it
    assert (weights[[0, 1, 2, 4]] >= 0).all()


def usual_growth(level):
    """The 1-D rules of other libraries' grids: Genz-Keister rule i at sub-level i."""
    return tuple(range(level + 1))


def test_reference_node_counts_with_the_level_growth_of_other_libraries():
    # This growth is the one behind the reference counts.
    assert smolyak_size(usual_growth(2), 10) == 261
    assert smolyak_size(usual_growth(3), 6) == 689
    # 18,001 in the reference used the 37-node final rule (1+2+6+10+18), two more nodes per
    # axis; with the 35-node rule the same grid has 2 * 10 fewer:
    assert smolyak_size(usual_growth(4), 10) == 18_001 - 20


def test_our_growth_needs_fewer_nodes_for_the_same_degree():
    assert [gj.SparseGrid(level=level).num_nodes(10) for level in range(1, 6)] == [
        21,
        201,
        1221,
        5661,
        22365,
    ]
    for level, dim in [(2, 10), (3, 6), (4, 10)]:
        assert sparse_grid_size(level, dim) < smolyak_size(usual_growth(level), dim)


@pytest.mark.parametrize("level, dim", [(0, 3), (1, 1), (2, 5), (3, 4), (4, 7)])
def test_table_matches_num_nodes_and_its_weights_sum_to_one(level, dim):
    axes, values, weights = sparse_grid_table(level, dim)
    assert len(axes) == len(values) == len(weights) == gj.SparseGrid(level=level).num_nodes(dim)
    assert np.isclose(weights.sum(), 1.0)


def test_level_2_is_the_classic_degree_5_grid_with_negative_weights_in_higher_dimensions():
    _, _, weights = sparse_grid_table(2, 10)
    assert len(weights) == 2 * 10**2 + 1
    assert (weights < 0).any()


def test_batch_size_gives_the_same_value():
    f = lambda x: jnp.exp(0.2 * x.sum()) * jnp.cos(x[0])  # noqa: E731
    rule = gj.SparseGrid(level=3)
    whole = jax.jit(lambda m: gj.expectation(f, m, jnp.eye(5), rule=rule))(jnp.zeros(5))
    chunked = jax.jit(lambda m: gj.expectation(f, m, jnp.eye(5), rule=rule, batch_size=50))(
        jnp.zeros(5)
    )
    assert jnp.allclose(whole, chunked, rtol=1e-12)


def test_default_rule_matches_its_documented_table():
    rows = re.findall(
        r"\| (\d+)-(\d*) \| SparseGrid\(level=(\d)\) \| ([\d,]+)", default_rule.__doc__
    )
    assert len(rows) == 5
    for low, high, level, first_count in rows:
        ends = [int(low)] + ([int(high)] if high else [])
        for dim in ends:
            assert default_rule(dim) == gj.SparseGrid(level=int(level))
        if high:
            assert default_rule(int(low)).num_nodes(int(low)) == int(first_count.replace(",", ""))
            assert default_rule(int(high) + 1) != gj.SparseGrid(level=int(level))


def test_the_plain_call_works_in_fifty_dimensions():
    a = jnp.linspace(-0.2, 0.2, 50)
    f = lambda x: jnp.exp(a @ x)  # noqa: E731
    z = gj.expectation(f, jnp.zeros(50), jnp.eye(50), batch_size=2**15, projection=None)
    assert default_rule(50) == gj.SparseGrid(level=3)
    assert jnp.allclose(z, jnp.exp(a @ a / 2), rtol=1e-3)


def test_estimate_flags_a_kinked_integrand():
    # ReLU at n = 6: sparse grids converge slowly and erratically; the error they report is
    # large, and covers the true error.
    w, b = jnp.linspace(0.5, 1.0, 6), 0.3
    s = jnp.sqrt(w @ w)
    true = b * norm.cdf(b / s) + s * norm.pdf(b / s)
    for level in (2, 3, 4):
        rule = gj.SparseGrid(level=level)
        est = jax.jit(
            lambda m, rule=rule: gj.estimate(
                lambda x: jax.nn.relu(w @ x + b), m, jnp.eye(6), rule=rule
            )
        )(jnp.zeros(6))
        assert abs(est.value - true) > 0.05 * true  # really wrong
        assert est.error > abs(est.value - true)  # and flagged as such
        assert est.error > 0.2 * abs(est.value)


def test_on_a_peaked_integrand_a_sparse_grid_loses_to_a_tensor_grid_of_equal_cost():
    # The saturating cost through the question's parameterisation (n = 6, as in the README).
    p, q, n = 3, 2, 6
    rng = np.random.default_rng(0)
    A, v = rng.normal(size=(q, p)) / np.sqrt(p), rng.normal(size=q)
    B, K = rng.normal(size=(n, p)) / np.sqrt(p), rng.normal(size=(p, q)) * 0.5
    m, P = rng.normal(size=n) * 0.5, 2.0 * np.eye(n)
    mean_fn, cov_fn = question(A, v, B, 0.5 * np.eye(n))
    mean, cov = mean_fn(jnp.asarray(K)), cov_fn(jnp.asarray(K))
    f, saturating_expectation = saturating(m, P)

    def closed_form(mean):
        return saturating_expectation(mean, cov)

    exact = jax.grad(closed_form)(mean)

    def grad_error(rule):
        g = jax.jit(jax.grad(lambda mu: gj.expectation(f, mu, cov, rule=rule)))(mean)
        return jnp.linalg.norm(g - exact) / jnp.linalg.norm(exact)

    sparse, tensor = gj.SparseGrid(level=4), gj.GaussHermite(order=3)  # 709 and 729 nodes
    assert sparse.num_nodes(n) < tensor.num_nodes(n)
    assert grad_error(sparse) > 3 * grad_error(tensor)
    est = jax.jit(lambda mu: gj.estimate(f, mu, cov, rule=sparse))(mean)
    assert est.error > abs(est.value - closed_form(mean))
