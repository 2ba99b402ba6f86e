"""gj.integrands: every closed form against a rule (values and gradients), Isserlis, Price's
identity, what the entry points report, and the errors."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import gaussian_moment, integrands, ridge_expectations

import gaussjax as gj
from gaussjax import integrands as gi

MEAN = jnp.array([0.3, -0.4])
COV = jnp.array([[0.7, 0.2], [0.2, 0.5]])
A = jnp.array([0.6, -0.3])
W = jnp.array([0.8, 0.5])
P = jnp.array([[0.6, 0.15], [0.15, 0.3]])
M = jnp.array([0.5, -0.2])
QUARTIC = gi.Polynomial(
    coefficients=[0.5, -1.0, 0.3, 2.0, 0.7], exponents=[[2, 2], [1, 0], [3, 1], [0, 0], [0, 4]]
)
LINEAR = gi.Polynomial(coefficients=[1.0, -0.5, 0.2], exponents=[[1, 0], [0, 1], [0, 0]])
QUADRATIC = gi.Quadratic(Q=jnp.array([[1.0, 0.4], [-0.2, 0.5]]), b=A, c=0.3)
EXP_LINEAR = gi.ExpLinear(a=A, b=0.1)
EXP_QUADRATIC = gi.ExpQuadratic(P=P, m=M)
COS, SIN = gi.Cos(a=W, b=0.2), gi.Sin(a=W, b=-0.4)
PROBIT = gi.Probit(w=W, b=0.2)
RELU, STEP = gi.ReLU(w=W, b=0.2), gi.Step(w=W, c=0.1)

SMOOTH = {
    "polynomial": QUARTIC,
    "exp_linear": EXP_LINEAR,
    "exp_quadratic_second_moment": EXP_QUADRATIC**2,
    "sin": SIN,
    "sum_and_multiples": 2.0 * COS - PROBIT / 4 + QUADRATIC,
    "polynomial_times_exp_quadratic": EXP_QUADRATIC * QUADRATIC,
    "polynomial_times_cos": LINEAR * COS,
    "polynomial_times_probit": QUADRATIC * PROBIT,
    "exp_linear_times_probit": EXP_LINEAR * PROBIT,
    "two_exp_quadratics": EXP_QUADRATIC * gi.ExpQuadratic(P=0.5 * jnp.eye(2), m=-M),
}
KINKED = {
    "polynomial_times_relu": LINEAR * RELU,
    "polynomial_times_step": QUADRATIC * STEP,
}


def z(f, **options):
    return lambda m, c: gj.expectation(f, m, c, **options)


def relative(a, b):
    a, b = jnp.ravel(jnp.asarray(a)), jnp.ravel(jnp.asarray(b))
    return float(jnp.linalg.norm(a - b) / jnp.maximum(jnp.linalg.norm(b), 1e-300))


@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_closed_forms_match_a_high_order_rule(name):
    # (Z, dZ/dmean, dZ/dcov) in closed form and by a 24 x 24 Gauss-Hermite grid
    @jax.jit
    def results(mean, cov):
        out = []
        for exact, options in ((True, {}), (False, dict(rule=gj.GaussHermite(order=24)))):
            fn = z(SMOOTH[name], exact=exact, **options)
            out.append((fn(mean, cov), *jax.grad(fn, argnums=(0, 1))(mean, cov)))
        return out

    exact, numeric = results(MEAN, COV)
    for a, b in zip(exact, numeric, strict=True):
        assert relative(a, b) < 1e-9
    assert jnp.allclose(exact[2], exact[2].T)  # the symmetric gradient


@pytest.mark.parametrize("name", KINKED)
def test_kinked_closed_forms_within_the_error_of_quasi_monte_carlo(name):
    # Gauss-Hermite converges slowly on kinks and jumps; scrambled Sobol points with 8
    # independent scramblings give an honest standard error for the value and the gradient.
    f = KINKED[name]
    rule, key = gj.QuasiMonteCarlo(num_samples=2**13), jax.random.key(3)
    options = dict(rule=rule, key=key, exact=False)
    estimator = "score" if "step" in name else "pathwise"  # a jump has no pathwise gradient

    @jax.jit
    def results(mean, cov):
        est = gj.estimate(f, mean, cov, **options)
        grad = gj.estimate_grad(f, mean, cov, estimator=estimator, num_repeats=8, **options)
        exact = jax.value_and_grad(z(f), argnums=(0, 1))(mean, cov)
        return est, grad, exact

    est, grad, (value, exact_grad) = results(MEAN, COV)
    assert abs(est.value - value) < 5 * est.error + 1e-12 and est.error < 0.02 * abs(value)
    for got, error, want in zip(grad.value, grad.error, exact_grad, strict=True):
        assert jnp.all(jnp.abs(jnp.asarray(got) - want) < 5 * error + 1e-9)


def test_closed_forms_agree_with_the_shared_references():
    # independent derivations: tests/references.py and gaussjax._example
    n = 3
    refs = integrands(n)
    a = jnp.linspace(0.5, -0.3, n)
    w = jnp.linspace(-0.4, 0.6, n) + 0.2
    Q = jnp.eye(n) + 0.1 * jnp.ones((n, n))
    b = jnp.arange(1.0, n + 1.0) / n
    target, P3 = jnp.linspace(0.3, -0.2, n), 0.8 * jnp.eye(n) + 0.1 * jnp.ones((n, n))
    ours = {
        "exp_linear": gi.ExpLinear(a=a),
        "quadratic": gi.Quadratic(Q=Q, b=b),
        "cosine": gi.Cos(a=w),
        "saturating": gi.ExpQuadratic(P=P3, m=target),
        "probit": gi.Probit(w=w),
    }
    mean, cov = jnp.array([0.2, -0.3, 0.5]), 0.4 * jnp.eye(n) + 0.1
    for name, f in ours.items():
        function, closed_form = refs[name]
        assert jnp.allclose(f(mean + 0.3), function(mean + 0.3), rtol=1e-12)
        assert jnp.allclose(f.expectation(mean, cov), closed_form(mean, cov), rtol=1e-12)
    ridges = ridge_expectations(w @ mean + 0.2, w @ cov @ w)
    relu = gi.ReLU(w=w, b=0.2)
    for name, f in [("relu", relu), ("squared_relu", relu**2), ("step", gi.Step(w=w, c=-0.2))]:
        np.testing.assert_allclose(f.expectation(mean, cov), ridges[name], rtol=1e-13)


def test_polynomial_moments_are_isserlis():
    n, degree = 3, 6
    exponents = [e for e in itertools.product(range(degree + 1), repeat=n) if sum(e) <= degree]
    standard = jnp.stack(
        [
            gi.Polynomial(coefficients=[1.0], exponents=[e]).expectation(jnp.zeros(n), jnp.eye(n))
            for e in exponents
        ]
    )
    np.testing.assert_allclose(standard, [gaussian_moment(e) for e in exponents])
    # four variables, zero mean: E[x0 x1 x2 x3] = S01 S23 + S02 S13 + S03 S12 (Isserlis)
    L = jnp.tril(jnp.arange(1.0, 17.0).reshape(4, 4) / 10) + jnp.eye(4)
    S = L @ L.T
    four = gi.Polynomial(coefficients=[1.0], exponents=[[1, 1, 1, 1]])
    isserlis = S[0, 1] * S[2, 3] + S[0, 2] * S[1, 3] + S[0, 3] * S[1, 2]
    assert jnp.allclose(four.expectation(jnp.zeros(4), S), isserlis, rtol=1e-14)
    # one variable with a mean: E[x^4] = mu^4 + 6 mu^2 s + 3 s^2
    mu, s = 0.7, 1.3
    quartic = gi.Polynomial(coefficients=[1.0], exponents=[[4]])
    got = quartic.expectation(jnp.array([mu]), jnp.array([[s]]))
    assert jnp.allclose(got, mu**4 + 6 * mu**2 * s + 3 * s**2, rtol=1e-14)


def test_derivatives_of_closed_forms_obey_price():
    # d^2 Z / dmu^2 = 2 dZ/dSigma holds exactly for the true expectation, kinks included
    fs = [LINEAR * PROBIT, RELU, STEP]

    @jax.jit
    def pieces(mean, cov):
        return [
            (jax.hessian(z(f), argnums=0)(mean, cov), jax.grad(z(f), argnums=1)(mean, cov))
            for f in fs
        ]

    for hessian, g_cov in pieces(MEAN, COV):
        np.testing.assert_allclose(hessian, 2 * g_cov, rtol=1e-10, atol=1e-12)


def test_entry_points_say_the_answer_is_exact(key):
    f = EXP_LINEAR * PROBIT
    rule = gj.MonteCarlo(num_samples=16)  # never used: the closed form is exact

    @jax.jit
    def everything(mean, cov):
        est = gj.estimate(f, mean, cov, rule=rule, key=key)
        grad = gj.estimate_grad(f, mean, cov, rule=rule, key=key)
        methods = [gj.mean_cov_grads(f, mean, cov, method=m) for m in ("autodiff", "bonnet_price")]
        return est, grad, methods, jax.grad(z(f), argnums=(0, 1))(mean, cov)

    est, grad, methods, want = everything(MEAN, COV)
    assert est.exact and est.dim is None and est.error == 0
    assert jnp.allclose(est.value, f.expectation(MEAN, COV), rtol=1e-15)
    assert grad.exact and all(jnp.all(e == 0) for e in grad.error)
    for got in (grad.value, *methods):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-14), got, want)
    numeric = gj.estimate(f, MEAN, COV, exact=False, rule=gj.GaussHermite(order=2))
    assert not numeric.exact and numeric.dim == 2 and numeric.error > 0


def test_parameters_of_the_integrand_are_differentiable():
    # dZ/dK and dZ/dw of a probit times an exponential: the closed form against the rule (the
    # integrand's arrays are leaves, so both paths differentiate in them)
    K = jnp.array([[0.5, -0.2], [0.1, 0.4]])

    def z_of(K, w, exact):
        f = gi.Probit(w=w, b=0.2) * EXP_LINEAR
        mean, cov = jnp.tanh(K) @ jnp.array([0.7, -0.4]), 0.3 * jnp.eye(2) + 0.2 * K @ K.T
        return gj.expectation(f, mean, cov, exact=exact, rule=gj.GaussHermite(order=20))

    exact, numeric = jax.jit(
        lambda K, w: [jax.grad(z_of, argnums=(0, 1))(K, w, e) for e in (True, False)]
    )(K, W)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9), exact, numeric)


def test_jit_vmap_and_float32():
    means = jnp.stack([MEAN, -MEAN, 2 * MEAN])
    batched = jax.jit(jax.vmap(lambda m: gj.expectation(QUARTIC * COS, m, COV)))(means)
    looped = jnp.stack([(QUARTIC * COS).expectation(m, COV) for m in means])
    np.testing.assert_allclose(batched, looped, rtol=1e-13)
    f32 = jax.jit(lambda m, c: gj.expectation(EXP_LINEAR * PROBIT, m, c))(
        MEAN.astype(jnp.float32), COV.astype(jnp.float32)
    )
    assert f32.dtype == jnp.float32
    assert jnp.allclose(f32, (EXP_LINEAR * PROBIT).expectation(MEAN, COV), rtol=1e-5)


def test_integrands_are_called_like_any_f():
    x = jnp.array([0.4, -1.1])
    assert jnp.allclose(QUARTIC(x), 0.5 * 0.16 * 1.21 - 0.4 + 0.3 * 0.064 * -1.1 + 2 + 0.7 * 1.4641)
    assert jnp.allclose((RELU**2)(x), jnp.maximum(W @ x + 0.2, 0) ** 2)
    assert jnp.allclose((LINEAR * STEP)(x), LINEAR(x) * (W @ x > 0.1))
    assert jnp.allclose(QUADRATIC.as_polynomial()(x), QUADRATIC(x))
    assert jnp.allclose(sum([COS, SIN])(x), COS(x) + SIN(x))
    assert jnp.allclose((np.float64(2.0) * COS)(x), 2 * COS(x))


def test_errors_are_clear():
    with pytest.raises(TypeError, match="no closed form is known for Cos \\* Probit"):
        COS * PROBIT
    with pytest.raises(ValueError, match="different lengths"):
        COS + gi.Cos(a=jnp.ones(3))
    with pytest.raises(ValueError, match="Polynomial: coefficients must have shape"):
        gi.Polynomial(coefficients=[1.0, 2.0], exponents=[[1, 0]])
    with pytest.raises(ValueError, match="exponents must be a"):
        gi.Polynomial(coefficients=[1.0], exponents=[[0.5, 1]])
    with pytest.raises(ValueError, match="ExpQuadratic: P must have shape"):
        gi.ExpQuadratic(P=jnp.eye(2), m=jnp.zeros(3))
    with pytest.raises(TypeError, match="adds to another integrand only"):
        COS + 1.0
    with pytest.raises(
        ValueError, match="gj.estimate: the integrand Probit takes points of length 2"
    ):
        gj.estimate(PROBIT, jnp.zeros(3), jnp.eye(3))
    with pytest.raises(TypeError, match="gj.expectation: exact must be True or False"):
        gj.expectation(PROBIT, MEAN, COV, exact="yes")
