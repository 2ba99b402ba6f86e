"""gj.chain_rule under jax.vmap: the contraction properties work report by report."""

import jax
import jax.numpy as jnp
import pytest

import gaussjax as gj

A = jnp.array([[0.6, -0.3, 0.2], [0.1, 0.5, -0.4]])
B = jnp.array([[0.3, 0.1, -0.2], [0.0, 0.2, 0.1]])


def mean_fn(K):
    return jnp.tanh(A @ K).sum(axis=1)


def cov_fn(K):
    BK = B @ K
    return 0.1 * jnp.eye(2) + BK @ BK.T


def f(x):
    return jnp.exp(-0.5 * jnp.sum((x - 0.3) ** 2))


def report_of(K):
    return gj.chain_rule(f, mean_fn, cov_fn, K, rule=gj.GaussHermite(order=6))


@pytest.mark.parametrize("batch_shape", [(4,), (2, 3)])
def test_properties_of_a_vmapped_report_match_a_python_loop(batch_shape):
    Ks = jax.random.normal(jax.random.key(0), (*batch_shape, 3, 2))
    batched = report_of
    for _ in batch_shape:
        batched = jax.vmap(batched)
    reports = jax.jit(batched)(Ks)

    loop = [jax.jit(report_of)(K) for K in Ks.reshape(-1, 3, 2)]
    for name in ["dZ_dK_through_mean", "dZ_dK_through_cov", "contraction"]:
        got = getattr(reports, name)
        assert got.shape == (*batch_shape, 3, 2)
        expected = jnp.stack([getattr(report, name) for report in loop])
        assert jnp.allclose(got.reshape(-1, 3, 2), expected, rtol=1e-12, atol=1e-14)
    assert jnp.allclose(reports.contraction, reports.dZ_dK, rtol=1e-10, atol=1e-14)


def test_properties_of_a_single_report_are_unchanged():
    K = jnp.arange(6.0).reshape(3, 2) / 6
    report = report_of(K)
    through_mean = jnp.einsum("k,kij->ij", report.dZ_dmean, report.dmean_dK)
    through_cov = jnp.einsum("kl,klij->ij", report.dZ_dcov, report.dcov_dK)
    assert jnp.allclose(report.dZ_dK_through_mean, through_mean, rtol=1e-14, atol=1e-16)
    assert jnp.allclose(report.dZ_dK_through_cov, through_cov, rtol=1e-14, atol=1e-16)
    assert jnp.allclose(report.contraction, report.dZ_dK, rtol=1e-10, atol=1e-14)


# ---- K as a pytree of arrays (a model's parameters) ---------------------------------------------


def pytree_mean_fn(params):
    return jnp.tanh(A @ params["gain"]).sum(axis=1) + params["offset"]


def pytree_cov_fn(params):
    BK = B @ params["gain"]
    return jnp.diag(params["offset"] ** 2 + 0.1) + BK @ BK.T


PARAMS = {"gain": jnp.arange(6.0).reshape(3, 2) / 6, "offset": jnp.array([0.2, -0.3])}


def pytree_report(params):
    rule = gj.GaussHermite(order=6)
    return gj.chain_rule(f, pytree_mean_fn, pytree_cov_fn, params, rule=rule)


def test_a_dict_of_parameters_gives_pieces_shaped_like_it():
    report = pytree_report(PARAMS)
    assert set(report.dmean_dK) == set(report.dcov_dK) == set(report.dZ_dK) == {"gain", "offset"}
    assert report.dmean_dK["gain"].shape == (2, 3, 2) and report.dmean_dK["offset"].shape == (2, 2)
    assert report.dcov_dK["gain"].shape == (2, 2, 3, 2)
    assert report.dcov_dK["offset"].shape == (2, 2, 2)
    want = jax.grad(
        lambda p: gj.expectation(
            f, pytree_mean_fn(p), pytree_cov_fn(p), rule=gj.GaussHermite(order=6)
        )
    )(PARAMS)
    for name in PARAMS:
        assert jnp.allclose(report.dZ_dK[name], want[name], rtol=1e-12)
        assert jnp.allclose(report.contraction[name], report.dZ_dK[name], rtol=1e-10, atol=1e-14)
        through = report.dZ_dK_through_mean[name] + report.dZ_dK_through_cov[name]
        assert jnp.allclose(through, want[name], rtol=1e-10, atol=1e-14)


def test_a_tuple_of_parameters_and_a_vmapped_batch_of_them():
    tuple_report = gj.chain_rule(
        f,
        lambda p: pytree_mean_fn({"gain": p[0], "offset": p[1]}),
        lambda p: pytree_cov_fn({"gain": p[0], "offset": p[1]}),
        (PARAMS["gain"], PARAMS["offset"]),
        rule=gj.GaussHermite(order=6),
    )
    assert isinstance(tuple_report.dZ_dK, tuple) and len(tuple_report.dZ_dK) == 2
    assert jnp.allclose(tuple_report.dZ_dK[0], pytree_report(PARAMS).dZ_dK["gain"])
    batch = jax.tree.map(lambda leaf: jnp.stack([leaf, 2 * leaf, -leaf]), PARAMS)
    reports = jax.jit(jax.vmap(pytree_report))(batch)
    assert reports.contraction["gain"].shape == (3, 3, 2)
    for i in range(3):
        single = jax.jit(pytree_report)(jax.tree.map(lambda leaf, i=i: leaf[i], batch))
        for name in PARAMS:
            assert jnp.allclose(reports.contraction[name][i], single.contraction[name], rtol=1e-12)
