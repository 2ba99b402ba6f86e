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
    reports = batched(Ks)

    flat_Ks = Ks.reshape(-1, 3, 2)
    for name in ["dZ_dK_through_mean", "dZ_dK_through_cov", "contraction"]:
        got = getattr(reports, name)
        assert got.shape == (*batch_shape, 3, 2)
        expected = jnp.stack([getattr(jax.jit(report_of)(K), name) for K in flat_Ks])
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
