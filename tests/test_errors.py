import jax
import jax.numpy as jnp
import pytest

import gaussjax as gj

MEAN, COV = jnp.zeros(2), jnp.eye(2)
RULE = gj.GaussHermite(order=3)


def f(x):
    return jnp.sum(x**2)


def eager_and_jit(call, *args):
    """Run the failing call eagerly and inside jit; both must raise."""
    yield lambda: call(*args)
    yield lambda: jax.jit(call)(*args)


TRACE_TIME_ERRORS = [
    (ValueError, "mean must be a non-empty 1-D", lambda m, c: gj.expectation(f, m[0], c)),
    (
        ValueError,
        "mean must be a non-empty 1-D",
        lambda m, c: gj.expectation(f, jnp.ones((2, 2)), c),
    ),
    (ValueError, r"cov must have shape \(2, 2\)", lambda m, c: gj.expectation(f, m, c[:1])),
    (ValueError, r"cov_diag must have shape \(2,\)", lambda m, c: gj.expectation(f, m, cov_diag=c)),
    (ValueError, r"scale_tril must have shape", lambda m, c: gj.expectation(f, m, scale_tril=m)),
    (
        ValueError,
        r"cov_factor must have shape \(n, r\)",
        lambda m, c: gj.expectation(f, m, cov_factor=jnp.ones((3, 1))),
    ),
    (
        ValueError,
        "exactly one of cov, scale_tril, cov_factor, cov_diag \\(got none\\)",
        lambda m, c: gj.expectation(f, m),
    ),
    (
        ValueError,
        "exactly one of .* \\(got cov, cov_diag\\)",
        lambda m, c: gj.expectation(f, m, c, cov_diag=jnp.ones(2)),
    ),
    (TypeError, "f must be a callable", lambda m, c: gj.expectation(3.0, m, c)),
    (TypeError, "f must return an array", lambda m, c: gj.expectation(lambda x: "text", m, c)),
    (TypeError, "f must return a number", lambda m, c: gj.expectation(lambda x: None, m, c)),
    (TypeError, "mean must be real", lambda m, c: gj.expectation(f, m.astype(complex), c)),
    (
        ValueError,
        "MonteCarlo is a random rule and needs a key",
        lambda m, c: gj.expectation(f, m, c, rule=gj.MonteCarlo(num_samples=10)),
    ),
    (
        ValueError,
        "MonteCarlo is a random rule and needs a key",
        lambda m, c: gj.estimate(f, m, c, rule=gj.MonteCarlo(num_samples=10)),
    ),
    (
        ValueError,
        "more than the limit of 2147483647",
        lambda m, c: gj.expectation(
            f, jnp.zeros(20), jnp.eye(20), rule=gj.GaussHermite(order=5), batch_size=1024
        ),
    ),
    (
        ValueError,
        "batch_size must be a positive int",
        lambda m, c: gj.expectation(f, m, c, rule=RULE, batch_size=0),
    ),
    (ValueError, "order >= 1", lambda m, c: gj.expectation(f, m, c, rule=gj.GaussHermite(order=0))),
    (
        ValueError,
        "num_samples >= 1",
        lambda m, c: gj.expectation(f, m, c, rule=gj.MonteCarlo(num_samples=0)),
    ),
    (TypeError, "rule must be a gaussjax rule", lambda m, c: gj.expectation(f, m, c, rule=10)),
    (ValueError, "estimator must be one of", lambda m, c: gj.expectation(f, m, c, estimator="x")),
    (
        TypeError,
        "f must return a scalar",
        lambda m, c: gj.chain_rule(lambda x: x, lambda K: K, lambda K: jnp.diag(K**2), m).value,
    ),
]


@pytest.mark.parametrize("error, message, call", TRACE_TIME_ERRORS)
def test_bad_arguments_raise_a_clear_error_eagerly_and_under_jit(error, message, call):
    for run in eager_and_jit(call, MEAN + 1.0, COV):
        with pytest.raises(error, match=message):
            run()


RUN_TIME_ERRORS = [
    ("cov is not positive definite", lambda m, c: gj.expectation(f, m, -c, rule=RULE)),
    (
        "cov is not positive definite",
        lambda m, c: gj.expectation(f, m, jnp.array([[1.0, 2.0], [2.0, 1.0]]), rule=RULE),
    ),
    ("cov holds NaN or inf", lambda m, c: gj.expectation(f, m, c * jnp.nan, rule=RULE)),
    ("cov_diag must be positive", lambda m, c: gj.expectation(f, m, cov_diag=-m, rule=RULE)),
]


@pytest.mark.parametrize("message, call", RUN_TIME_ERRORS)
def test_bad_values_raise_at_run_time_under_jit_too_never_a_silent_nan(message, call):
    for run in eager_and_jit(call, MEAN + 1.0, COV):
        with pytest.raises(Exception, match=message):
            jax.block_until_ready(run())


def test_a_bad_covariance_raises_under_vmap_and_grad():
    covs = jnp.stack([COV, -COV])
    with pytest.raises(Exception, match="not positive definite"):
        jax.block_until_ready(
            jax.jit(jax.vmap(lambda c: gj.expectation(f, MEAN, c, rule=RULE)))(covs)
        )
    with pytest.raises(Exception, match="not positive definite"):
        jax.block_until_ready(jax.grad(lambda c: gj.expectation(f, MEAN, c, rule=RULE))(-COV))


def test_a_traced_number_in_a_vmap_is_the_failing_members_not_the_largest():
    from gaussjax._runtime import check_number

    def checked(x):
        return check_number(x, x < 0, x, "x is negative: {}")

    # the member that fails holds -1e-5; the one that passes holds 1e5, a larger decade
    with pytest.raises(jax.errors.JaxRuntimeError, match=r"x is negative: about 1e-05"):
        jax.block_until_ready(jax.jit(jax.vmap(checked))(jnp.array([-1e-5, 1e5])))
    assert jax.jit(jax.vmap(checked))(jnp.array([1e-5, 1e5]))[1] == 1e5
