"""The table of bad inputs in docs/errors.md: each row, eagerly and under `jit` (and `vmap` where
a batch can hold one bad member). No row may give a NaN, a wrong number or a bare JAX or NumPy
traceback; each error names the entry point that was called."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from references import gaussian_moment

import gaussjax as gj
from gaussjax._rules._gauss_hermite import _golub_welsch

MEAN, COV = jnp.zeros(2), jnp.eye(2)
RULE = gj.GaussHermite(order=3)
RUNTIME_ERROR = jax.errors.JaxRuntimeError


def f(x):
    return jnp.sum(x**2)


def expectation(mean, cov, **options):
    return gj.expectation(f, mean, cov, rule=RULE, **options)


# --- NaN or inf in mean or covariance -------------------------------------------------------


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf, -jnp.inf])
def test_a_mean_that_is_not_finite_is_an_error_eagerly_under_jit_and_vmap(bad):
    mean = MEAN.at[1].set(bad)
    with pytest.raises(ValueError, match="gj.expectation: mean holds NaN or inf"):
        expectation(mean, COV)
    with pytest.raises(RUNTIME_ERROR, match="gj.expectation: mean holds NaN or inf"):
        jax.block_until_ready(jax.jit(expectation)(mean, COV))
    with pytest.raises(RUNTIME_ERROR, match="mean holds NaN or inf"):
        means = jnp.stack([MEAN, mean])
        jax.block_until_ready(jax.jit(jax.vmap(expectation, (0, None)))(means, COV))
    assert np.isclose(jax.jit(expectation)(MEAN, COV), 2.0)  # the good call still runs


@pytest.mark.parametrize(
    "form, value, message",
    [
        ("scale_tril", jnp.eye(2).at[1, 0].set(jnp.nan), "scale_tril holds NaN or inf"),
        ("cov_factor", jnp.ones((2, 3)).at[0, 2].set(jnp.inf), "cov_factor holds NaN or inf"),
        ("cov_diag", jnp.array([1.0, jnp.nan]), "cov_diag must be positive and finite"),
        ("cov_diag", jnp.array([1.0, 0.0]), "cov_diag must be positive and finite"),
        ("cov", jnp.eye(2).at[0, 0].set(jnp.inf), "cov holds NaN or inf"),
    ],
)
def test_every_covariance_form_refuses_values_that_are_not_finite(form, value, message):
    def z(v):
        return gj.expectation(f, MEAN, rule=RULE, **{form: v})

    with pytest.raises(ValueError, match=message):
        z(value)
    with pytest.raises(RUNTIME_ERROR, match=message):
        jax.block_until_ready(jax.jit(z)(value))


# --- f not finite at some nodes --------------------------------------------------------------


def log_of_first(x):
    return jnp.log(x[0])  # NaN for x[0] < 0, at half the nodes


def test_f_that_is_not_finite_is_an_error_naming_f_and_a_node_eagerly():
    with pytest.raises(ValueError, match=r"gj.expectation: f returned NaN or inf") as info:
        gj.expectation(log_of_first, MEAN, COV, rule=RULE)
    message = str(info.value)
    assert "First found at node" in message and "GaussHermite(order=3)" in message
    # the node named is one where f is indeed not finite
    point = np.array(eval(message.split("at x = ")[1].rstrip(".")))
    assert not np.isfinite(log_of_first(jnp.asarray(point)))


def test_f_that_is_not_finite_is_an_error_under_jit_and_vmap():
    def z(m):
        return gj.expectation(log_of_first, m, COV, rule=RULE)

    with pytest.raises(RUNTIME_ERROR, match="f returned NaN or inf"):
        jax.block_until_ready(jax.jit(z)(MEAN))
    with pytest.raises(RUNTIME_ERROR, match="f returned NaN or inf"):
        jax.block_until_ready(jax.jit(jax.vmap(z))(jnp.stack([MEAN + 10.0, MEAN])))
    # far from 0 every node of the small rule has x[0] > 0: finite, and no error
    assert np.isfinite(jax.jit(z)(MEAN + 10.0))


@pytest.mark.parametrize(
    "entry",
    [
        lambda **o: gj.expectation(log_of_first, MEAN, COV, rule=RULE, **o),
        lambda **o: gj.estimate(log_of_first, MEAN, COV, rule=RULE, **o).value,
        lambda **o: gj.log_expectation(log_of_first, MEAN, COV, rule=RULE, **o),
    ],
    ids=["expectation", "estimate", "log_expectation"],
)
def test_check_finite_false_lets_nan_propagate_as_ieee_does(entry):
    with pytest.raises(ValueError, match="returned NaN"):
        entry()
    assert np.isnan(entry(check_finite=False))
    assert np.isnan(jax.jit(lambda: entry(check_finite=False))())


def test_check_finite_false_propagates_from_the_tolerance_driven_default_rule_too():
    # a short ladder keeps the test quick; without the opt-out this is the error above. (The
    # ladder is the same for gj.expectation; log space also passes the NaN through its log.)
    options = dict(max_evaluations=64, rtol=0.1, check_finite=False)
    assert np.isnan(gj.log_expectation(log_of_first, MEAN, COV, **options))


def test_an_overflowing_weighted_sum_is_an_error_too():
    huge = jnp.finfo(jnp.float64).max
    with pytest.raises(ValueError, match="overflowed"):
        gj.expectation(lambda x: huge + 0 * x[0], MEAN, COV, rule=RULE)


def test_grad_of_f_that_is_not_finite_is_an_error_too():
    def z(m):
        return gj.expectation(log_of_first, m, COV, rule=RULE)

    with pytest.raises(ValueError, match="f returned NaN or inf"):
        jax.grad(z)(MEAN)
    with pytest.raises(RUNTIME_ERROR, match="f returned NaN or inf"):
        jax.block_until_ready(jax.jit(jax.grad(z))(MEAN))


# --- one run-time check per call ------------------------------------------------------------


def conditionals(function, *args) -> int:
    return jax.jit(function).lower(*args).compile().as_text().count("conditional(")


def test_the_checks_of_one_call_are_one_conditional_in_the_compiled_program():
    # mean, covariance (finite, symmetric, positive definite) and f's values: on a GPU each
    # conditional waits for its predicate on the host, so they are joined into one
    assert conditionals(expectation, MEAN, COV) == 1
    assert conditionals(jax.value_and_grad(expectation), MEAN, COV) == 1
    # the gradient entry points: one for their arguments, one inside each gradient they take
    grads = lambda m, c: gj.mean_cov_grads(f, m, c, rule=RULE)  # noqa: E731
    assert conditionals(grads, MEAN, COV) == 2
    report = lambda K: gj.chain_rule(f, jnp.tanh, lambda K: COV + jnp.outer(K, K), K, rule=RULE)  # noqa: E731
    assert conditionals(report, MEAN + 0.5) == 3


def test_the_first_check_that_fails_is_the_one_reported_also_in_a_batch():
    asymmetric = jnp.array([[1.0, 0.5], [0.1, 1.0]])
    nan_mean = MEAN.at[0].set(jnp.nan)
    with pytest.raises(RUNTIME_ERROR, match="mean holds NaN or inf"):  # checked before cov
        jax.block_until_ready(jax.jit(expectation)(nan_mean, asymmetric))
    with pytest.raises(RUNTIME_ERROR, match="cov is not symmetric"):  # before f's values
        z = lambda m, c: gj.expectation(log_of_first, m, c, rule=RULE)  # noqa: E731
        jax.block_until_ready(jax.jit(z)(MEAN, asymmetric))
    means, covs = jnp.stack([MEAN, MEAN, nan_mean]), jnp.stack([COV, asymmetric, COV])
    with pytest.raises(RUNTIME_ERROR, match="mean holds NaN or inf"):  # member 2, checked first
        jax.block_until_ready(jax.jit(jax.vmap(expectation))(means, covs))
    assert np.allclose(jax.jit(jax.vmap(expectation))(means[:1], covs[:1]), 2.0)


# --- asymmetric covariance -------------------------------------------------------------------


def test_an_asymmetric_cov_is_an_error_beyond_the_documented_tolerance():
    asymmetric = jnp.array([[1.0, 0.5], [0.1, 1.0]])
    message = r"gj.expectation: cov is not symmetric: .* is 0.4, beyond the 1.5e-08"
    with pytest.raises(ValueError, match=message):
        expectation(MEAN, asymmetric)
    with pytest.raises(RUNTIME_ERROR, match=r"cov is not symmetric: .* about 1e\+00"):
        jax.block_until_ready(jax.jit(expectation)(MEAN, asymmetric))
    with pytest.raises(RUNTIME_ERROR, match="cov is not symmetric"):
        covs = jnp.stack([COV, asymmetric])
        jax.block_until_ready(jax.jit(jax.vmap(expectation, (None, 0)))(MEAN, covs))


def test_rounding_level_asymmetry_is_accepted():
    cov = jnp.array([[2.0, 0.3], [0.3, 1.0]])
    rounded = cov.at[0, 1].add(1e-12)  # far below the tolerance of 1.5e-8
    assert np.isclose(expectation(MEAN, rounded), expectation(MEAN, cov), rtol=1e-11)
    cov32 = cov.astype(jnp.float32)
    assert np.isfinite(expectation(MEAN.astype(jnp.float32), cov32.at[0, 1].add(1e-5)))
    with pytest.raises(ValueError, match="3.5e-04 allowed for rounding in float32"):
        expectation(MEAN.astype(jnp.float32), cov32.at[0, 1].add(1e-2))


# --- rules -----------------------------------------------------------------------------------


def test_gauss_hermite_of_order_400_is_right():
    rule = gj.GaussHermite(order=400)
    z = gj.expectation(lambda x: jnp.cos(x[0]), jnp.zeros(1), jnp.eye(1), rule=rule)
    assert np.isclose(z, np.exp(-0.5), rtol=1e-13, atol=0)
    z = gj.expectation(lambda x: x[0] ** 40, jnp.zeros(1), jnp.eye(1), rule=rule)
    assert np.isclose(z, gaussian_moment([40]), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warning either
        gj.expectation(lambda x: x[0], jnp.zeros(1), jnp.eye(1), rule=gj.GaussHermite(order=401))


@pytest.mark.parametrize("order", [5, 60, 151, 300])
def test_golub_welsch_agrees_with_numpy_where_numpy_is_finite(order):
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    ours_nodes, ours_weights = _golub_welsch(order)
    assert np.allclose(ours_nodes, nodes, rtol=0, atol=1e-12)
    assert np.allclose(ours_weights, weights / np.sqrt(2 * np.pi), rtol=2e-13, atol=0)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: gj.GaussHermite(order=10_001), ValueError, "order <= 10000"),
        (lambda: gj.GaussHermite(order=0), ValueError, "order >= 1"),
        (lambda: gj.GaussHermite(order=2.5), TypeError, "needs an int"),
        (lambda: gj.SparseGrid(level=-1), ValueError, "level >= 0"),
        (lambda: gj.Cubature(degree=4), ValueError, "must be 3 or 5"),
        (lambda: gj.MonteCarlo(num_samples=-1), ValueError, "num_samples >= 1"),
        (lambda: gj.QuasiMonteCarlo(num_samples=0), ValueError, "num_samples"),
    ],
)
def test_rule_sizes_out_of_range_are_refused_when_the_rule_is_built(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("dim", [0, -1, 2.0, True, "3"])
def test_default_rule_refuses_a_dim_that_is_not_a_positive_int(dim):
    with pytest.raises(ValueError, match="gj.default_rule: dim must be an int >= 1"):
        gj.default_rule(dim)


def test_default_rule_accepts_numpy_ints():
    assert gj.default_rule(np.int64(3)) == gj.default_rule(3)


def test_unscented_parameters_that_make_nan_weights_are_an_error_also_when_traced():
    def z(alpha):
        return gj.expectation(f, MEAN, COV, rule=gj.Unscented(alpha=alpha))

    with pytest.raises(ValueError, match="alpha != 0"):
        z(jnp.asarray(0.0))
    with pytest.raises(RUNTIME_ERROR, match="alpha != 0"):
        jax.block_until_ready(jax.jit(z)(jnp.asarray(0.0)))
    assert np.isclose(jax.jit(z)(jnp.asarray(1.0)), 2.0)


def test_qmc_beyond_its_direction_numbers_is_a_clear_error():
    from gaussjax._rules._quasi_monte_carlo import MAX_DIM

    n = MAX_DIM + 1
    with pytest.raises(ValueError, match=f"up to {MAX_DIM} dimensions, got {n}"):
        gj.expectation(
            f,
            jnp.zeros(n),
            cov_diag=jnp.ones(n),
            rule=gj.QuasiMonteCarlo(num_samples=8),
            key=jax.random.key(0),
        )


# --- keys, callbacks, batch sizes ------------------------------------------------------------


MC = gj.MonteCarlo(num_samples=16)


@pytest.mark.parametrize("key", [0, 1.5, "seed", np.array([1, 2, 3])])
def test_a_key_that_is_not_a_jax_key_says_jax_random_key(key):
    message = r"gj.expectation: key must be a JAX random key.*key=jax.random.key\(seed\)"
    with pytest.raises(TypeError, match=message):
        gj.expectation(f, MEAN, COV, rule=MC, key=key)
    with pytest.raises(TypeError, match=message):
        jax.jit(lambda m: gj.expectation(f, m, COV, rule=MC, key=key))(MEAN)


def test_legacy_and_typed_keys_are_both_accepted_and_an_array_of_keys_is_not():
    typed = gj.expectation(f, MEAN, COV, rule=MC, key=jax.random.key(3))
    legacy = gj.expectation(f, MEAN, COV, rule=MC, key=jax.random.PRNGKey(3))
    assert np.isclose(typed, legacy)
    with pytest.raises(ValueError, match=r"a single key, got an array of keys of shape \(2,\)"):
        gj.expectation(f, MEAN, COV, rule=MC, key=jax.random.split(jax.random.key(0)))


def test_pure_callback_without_vmap_method_names_the_fix():
    def black_box(x):
        return jax.pure_callback(lambda x: np.sum(x**2), jax.ShapeDtypeStruct((), x.dtype), x)

    message = r'gj.expectation: f calls jax.pure_callback without vmap_method.*"expand_dims"'
    with pytest.raises(ValueError, match=message):
        gj.expectation(black_box, MEAN, COV, rule=RULE, estimator="score")
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda m: gj.expectation(black_box, m, COV, rule=RULE, estimator="score"))(MEAN)
    with pytest.raises(ValueError, match=message):  # in a program nested in f's
        gj.expectation(jax.jit(black_box), MEAN, COV, rule=RULE, estimator="score")
    with pytest.raises(ValueError, match="gj.mean_cov_grads: f calls jax.pure_callback"):
        gj.mean_cov_grads(black_box, MEAN, COV, method="score", rule=RULE)


@pytest.mark.parametrize("batch_size", [0, -3, 2.0, True, "4", jnp.array(4), np.array([4])])
def test_batch_size_of_every_wrong_kind_is_refused(batch_size):
    with pytest.raises(ValueError, match="gj.expectation: batch_size must be a positive int"):
        expectation(MEAN, COV, batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        jax.jit(lambda m: expectation(m, COV, batch_size=batch_size))(MEAN)


@pytest.mark.parametrize("batch_size", [1, 4, np.int64(5), 100])
def test_batch_size_of_every_right_kind_gives_the_same_value(batch_size):
    assert np.isclose(expectation(MEAN, COV, batch_size=batch_size), 2.0, rtol=1e-13)


# --- shapes, dtypes and the other entry points -----------------------------------------------


def test_mean_cov_grads_and_estimate_grad_turn_lists_into_arrays_of_the_documented_shapes():
    mean, cov = [0.5, -0.2], [[1.0, 0.2], [0.2, 2.0]]
    for method in ("autodiff", "bonnet_price", "score"):
        dmean, dcov = gj.mean_cov_grads(f, mean, cov, method=method, rule=RULE)
        assert isinstance(dmean, jax.Array) and dmean.shape == (2,)
        assert isinstance(dcov, jax.Array) and dcov.shape == (2, 2)
        assert np.allclose(dmean, 2 * np.array(mean)) and np.allclose(dcov, np.eye(2))
    estimate = gj.estimate_grad(f, mean, cov, rule=RULE)
    for part, shape in zip((*estimate.value, *estimate.error), [(2,), (2, 2)] * 2):
        assert isinstance(part, jax.Array) and part.shape == shape


def test_an_f_returning_an_int_has_zero_gradients_by_every_method():
    for method in ("autodiff", "bonnet_price", "score"):
        dmean, dcov = gj.mean_cov_grads(lambda x: 3, MEAN, COV, method=method, rule=RULE)
        assert dmean.dtype == dcov.dtype == jnp.float64
        assert np.allclose(dmean, 0, atol=1e-14) and np.allclose(dcov, 0, atol=1e-14)


def test_integer_inputs_are_promoted_to_the_default_float():
    z = gj.expectation(f, jnp.array([1, 2]), jnp.array([[2, 0], [0, 1]]), rule=RULE)
    assert z.dtype == jnp.float64 and np.isclose(z, 1 + 4 + 2 + 1)


def test_mixed_float32_and_float64_compute_in_the_wider_dtype():
    z = gj.expectation(f, MEAN.astype(jnp.float32) + 1, COV, rule=RULE)
    assert z.dtype == jnp.float64 and np.isclose(z, 4.0)


@pytest.mark.parametrize(
    "mean, covariance, message",
    [
        (jnp.zeros(0), {"cov": jnp.eye(0)}, r"non-empty 1-D array .* got shape \(0,\)"),
        (jnp.array(0.0), {"cov": jnp.eye(1)}, r"got shape \(\)"),
        (jnp.zeros((2, 1)), {"cov": COV}, r"got shape \(2, 1\)"),
        (MEAN, {"cov": jnp.eye(3)}, r"cov must have shape \(2, 2\)"),
        (MEAN, {"scale_tril": jnp.ones(2)}, r"scale_tril must have shape \(2, 2\)"),
        (MEAN, {"cov_factor": jnp.ones(2)}, r"cov_factor must have shape \(n, r\)"),
        (MEAN, {"cov_factor": jnp.ones((2, 0))}, r"r >= 1"),
        (MEAN, {"cov_diag": COV}, r"cov_diag must have shape \(2,\)"),
    ],
)
def test_zero_dimensional_and_misshapen_gaussians_are_refused_at_trace_time(
    mean, covariance, message
):
    with pytest.raises(ValueError, match="gj.expectation: .*" + message):
        gj.expectation(f, mean, rule=RULE, **covariance)
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda m: gj.expectation(f, m, rule=RULE, **covariance))(mean)


# --- estimators ------------------------------------------------------------------------------


def test_one_monte_carlo_sample_with_the_score_baseline_is_an_error_not_a_zero_gradient():
    def z(m, estimator):
        return gj.expectation(
            f, m, COV, rule=gj.MonteCarlo(num_samples=1), estimator=estimator, key=jax.random.key(1)
        )

    with pytest.raises(ValueError, match=r"one sample has none\. Pass num_samples >= 2"):
        jax.grad(z)(MEAN, "score")
    with pytest.raises(ValueError, match="one sample has none"):
        jax.jit(jax.grad(z), static_argnums=1)(MEAN, "score")
    gradient = jax.grad(z)(MEAN, gj.Score(baseline=False))
    assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)


# --- a covariance that is not positive definite ----------------------------------------------


def test_non_positive_definite_cov_raises_the_documented_types_without_a_banner(capfd):
    indefinite = jnp.array([[1.0, 2.0], [2.0, 1.0]])
    message = "gj.expectation: cov is not positive definite"
    with pytest.raises(ValueError, match=message) as eager:
        expectation(MEAN, indefinite)
    with pytest.raises(ValueError, match=message) as eager_grad:  # primal values are known
        jax.grad(lambda c: expectation(MEAN, c))(indefinite)
    with pytest.raises(RUNTIME_ERROR, match=message) as jitted:
        jax.block_until_ready(jax.jit(expectation)(MEAN, indefinite))
    captured = capfd.readouterr()
    for text in (str(eager.value), str(eager_grad.value), str(jitted.value), *captured):
        assert "filter_jit" not in text and "EQX_ON_ERROR" not in text
    assert type(eager.value) is ValueError
