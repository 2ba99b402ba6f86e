"""adapt="laplace": rules placed on the Laplace fit of f N, and their derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from references import logistic_likelihood, parameterisation, question, saturating, student_kernel

import gaussjax as gj


def relative(a, b):
    return float(jnp.linalg.norm(jnp.ravel(a - b)) / jnp.linalg.norm(jnp.ravel(b)))


def question_at_n6():
    rng = np.random.default_rng(0)
    A, B = 0.5 * rng.standard_normal((2, 3)), 0.3 * rng.standard_normal((6, 3))
    mean_fn, cov_fn = question(A, np.array([1.0, -0.5]), B, 0.05 * np.eye(6))
    return mean_fn, cov_fn, jnp.asarray(0.5 * rng.standard_normal((3, 2)))


@pytest.mark.parametrize("width, distance", [(0.25, 0.0), (100.0, 3.0)])
def test_a_peaked_cost_through_the_question_is_exact_with_one_to_729_nodes(width, distance):
    mean_fn, cov_fn, K = question_at_n6()
    mean, sd = mean_fn(K), jnp.sqrt(jnp.diag(cov_fn(K)))
    direction = jnp.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]) / jnp.sqrt(6.0)
    f, closed_form = saturating(mean + distance * sd * direction, width * jnp.eye(6))
    exact_value, exact_grad = jax.value_and_grad(lambda K: closed_form(mean_fn(K), cov_fn(K)))(K)
    for order in (1, 3):  # 1 and 729 nodes; a plain 3-per-axis grid is 95% off at width 100
        rule = gj.GaussHermite(order=order)
        value, grad = jax.jit(
            jax.value_and_grad(
                lambda K, rule=rule: gj.expectation(
                    f, mean_fn(K), cov_fn(K), rule=rule, adapt="laplace"
                )
            )
        )(K)
        assert relative(value, exact_value) < 1e-10
        assert relative(grad, exact_grad) < 1e-10


RULES = [
    gj.GaussHermite(order=2),
    gj.SparseGrid(level=2),
    gj.Cubature(degree=3),
    gj.Unscented(),
    gj.MonteCarlo(num_samples=16),
    gj.QuasiMonteCarlo(num_samples=64),
]


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_every_rule_is_exact_on_the_fit_when_f_times_the_density_is_gaussian(rule):
    # f N / q is then a constant, so any rule whose weights sum to one gets Z exactly
    f, closed_form = saturating(jnp.array([1.5, -1.0, 0.5]), 20.0 * jnp.eye(3))
    mean, cov = jnp.array([0.1, 0.2, -0.1]), jnp.array([[1.0, 0.3, 0], [0.3, 0.8, 0], [0, 0, 0.5]])
    value = jax.jit(
        lambda m: gj.expectation(f, m, cov, rule=rule, adapt="laplace", key=jax.random.key(0))
    )(mean)
    assert relative(value, closed_form(mean, cov)) < 1e-10


def test_every_covariance_form_adapts():
    f, closed_form = saturating(jnp.array([1.0, -0.5, 0.5]), 10.0 * jnp.eye(3))
    mean = jnp.array([0.1, 0.2, -0.1])
    low = jnp.array([[1.0, 0.0], [0.5, 0.7], [0.2, -0.3]])
    wide = jnp.concatenate([jnp.eye(3), 0.5 * jnp.ones((3, 1))], axis=1)
    rule = gj.GaussHermite(order=3)
    cases = [
        (dict(cov_factor=low), low @ low.T),
        (dict(cov_factor=wide), wide @ wide.T),
        (dict(scale_tril=jnp.tril(wide[:, :3] + 0.2)), None),
        (dict(cov_diag=jnp.array([1.0, 0.5, 2.0])), jnp.diag(jnp.array([1.0, 0.5, 2.0]))),
    ]
    for covariance, cov in cases:
        if cov is None:
            L = jnp.tril(wide[:, :3] + 0.2)
            cov = L @ L.T
        value = gj.expectation(f, mean, rule=rule, adapt="laplace", **covariance)
        assert relative(value, closed_form(mean, cov)) < 1e-10, covariance


@pytest.mark.slow
def test_derivatives_through_the_mode_pass_check_grads_to_second_order():
    f, _ = logistic_likelihood(2, 30)
    rule = gj.GaussHermite(order=4)

    @jax.jit
    def z(m, L):
        return gj.expectation(f, m, scale_tril=L, rule=rule, adapt="laplace")

    L = jnp.array([[0.8, 0.0], [0.3, 0.6]])
    check_grads(z, (jnp.array([0.2, -0.1]), L), order=2, modes=("rev",), atol=1e-6)


def test_price_identity_holds_on_the_fit():
    f, _ = saturating(jnp.array([0.5, -0.5]), 4.0 * jnp.eye(2))
    cov = jnp.array([[1.0, 0.2], [0.2, 0.5]])

    def z(m, c):
        return gj.expectation(f, m, c, rule=gj.GaussHermite(order=3), adapt="laplace")

    mean = jnp.array([0.1, 0.3])
    hessian = jax.jit(jax.hessian(z))(mean, cov)
    np.testing.assert_allclose(hessian, 2 * jax.jit(jax.grad(z, argnums=1))(mean, cov), atol=1e-12)


def test_frozen_centre_and_differentiated_centre_agree_once_the_rule_converges():
    f, _ = logistic_likelihood(2, 40)
    mean_fn, cov_fn, K = parameterisation(2)

    def dZ_dK(order, laplace):
        rule = gj.GaussHermite(order=order)
        return jax.jit(
            jax.grad(lambda K: gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, adapt=laplace))
        )(K)

    reference = dZ_dK(16, gj.Laplace())
    assert relative(dZ_dK(10, gj.Laplace()), reference) < 1e-8
    assert relative(dZ_dK(10, gj.Laplace(freeze_centre=True)), reference) < 1e-8
    # with one node (the Laplace approximation) the differentiated centre is still the
    # derivative of the value computed: against a central difference along a direction
    laplace_z = jax.jit(
        lambda K: gj.expectation(f, mean_fn(K), cov_fn(K), rule=gj.GaussHermite(1), adapt="laplace")
    )
    direction, eps = jnp.ones_like(K) / jnp.sqrt(K.size), 1e-5
    slope = (laplace_z(K + eps * direction) - laplace_z(K - eps * direction)) / (2 * eps)
    derivative = jnp.vdot(jax.grad(laplace_z)(K), direction)
    assert abs(derivative - slope) < 1e-6 * abs(slope)


def test_the_score_estimator_and_batching_work_on_the_fit(key):
    f, closed_form = saturating(jnp.array([1.0, -0.5]), 5.0 * jnp.eye(2))
    cov = jnp.array([[1.0, 0.2], [0.2, 0.5]])
    mean = jnp.array([0.1, 0.3])
    exact = jax.grad(closed_form, argnums=(0, 1))(mean, cov)
    for options in (dict(estimator="score"), dict(batch_size=5)):
        grads = jax.jit(
            jax.grad(
                lambda m, c, options=options: gj.expectation(
                    f, m, c, rule=gj.GaussHermite(order=4), adapt="laplace", **options
                ),
                argnums=(0, 1),
            )
        )(mean, cov)
        for got, want in zip(grads, exact, strict=True):
            np.testing.assert_allclose(0.5 * (got + got.T) if got.ndim == 2 else got,
                                       want, rtol=1e-8, atol=1e-12)  # fmt: skip
    means = jnp.array([[0.1, 0.3], [0.5, -0.2], [-1.0, 0.0]])
    batched = jax.jit(
        jax.vmap(lambda m: gj.expectation(f, m, cov, rule=gj.GaussHermite(3), adapt="laplace"))
    )(means)
    np.testing.assert_allclose(batched, jax.vmap(lambda m: closed_form(m, cov))(means), rtol=1e-10)


def test_float32_is_kept():
    target = jnp.array([1.0, -0.5], jnp.float32)
    f = lambda x: jnp.exp(-2.5 * jnp.sum((x - target) ** 2))  # noqa: E731
    _, closed_form = saturating(target, 5.0 * jnp.eye(2))
    mean, cov = jnp.array([0.1, 0.3], jnp.float32), jnp.eye(2, dtype=jnp.float32)
    value = gj.expectation(f, mean, cov, rule=gj.GaussHermite(order=3), adapt="laplace")
    assert value.dtype == jnp.float32
    assert relative(value, closed_form(mean, cov)) < 1e-5


def test_a_logistic_likelihood_to_1e_6_with_1296_nodes_at_n_4():
    f, _ = logistic_likelihood(4, 200)
    mean_fn, cov_fn, K = parameterisation(4)

    def dZ_dK(rule, adapt="laplace"):
        return jax.jit(
            jax.grad(lambda K: gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, adapt=adapt))
        )(K)

    reference = dZ_dK(gj.GaussHermite(order=10))
    assert relative(dZ_dK(gj.GaussHermite(order=6)), reference) < 1e-6  # measured: 3.2e-7
    assert relative(dZ_dK(gj.GaussHermite(order=6), adapt=None), reference) > 1e-2  # 8e-2


def test_student_t_kernels_to_1e_6_with_1728_nodes_at_n_3():
    mean_fn, cov_fn, K = parameterisation(3)
    f = student_kernel(jnp.array([0.4, -0.3, 0.2]), 4.0 * jnp.eye(3), nu=10.0)

    def dZ_dK(order):
        rule = gj.GaussHermite(order=order)
        return jax.jit(
            jax.grad(lambda K: gj.expectation(f, mean_fn(K), cov_fn(K), rule=rule, adapt="laplace"))
        )(K)

    assert relative(dZ_dK(12), dZ_dK(30)) < 1e-6


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_an_f_that_is_not_positive_at_the_mean_is_a_clear_error(jit):
    def z(m):
        return gj.expectation(
            lambda x: x[0], m, jnp.eye(2), rule=gj.GaussHermite(3), adapt="laplace"
        )

    run = jax.jit(z) if jit else z
    error = jax.errors.JaxRuntimeError if jit else ValueError
    with pytest.raises(error, match="positive at the mean"):
        jax.block_until_ready(run(jnp.array([-1.0, 0.0])))
    assert jnp.isfinite(run(jnp.array([1.0, 0.0])))


def test_bad_adapt_arguments():
    f = lambda x: jnp.exp(-x @ x)  # noqa: E731
    with pytest.raises(ValueError, match="adapt must be None, False, 'laplace'"):
        gj.expectation(f, jnp.zeros(2), jnp.eye(2), adapt="aghq")
    with pytest.raises(TypeError, match="f must return a scalar"):
        gj.expectation(lambda x: jnp.exp(-x), jnp.zeros(2), jnp.eye(2), adapt="laplace")
    with pytest.raises(ValueError, match="max_steps"):
        gj.Laplace(max_steps=0)
    with pytest.raises(ValueError, match="bonnet_price"):
        gj.mean_cov_grads(f, jnp.zeros(2), jnp.eye(2), method="bonnet_price", adapt="laplace")
