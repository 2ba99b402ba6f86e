"""expectation() and estimate(): the front door for E[f(x)] and its error."""

from collections.abc import Callable

from jaxtyping import Array, Float, PRNGKeyArray

from ._errors import Estimate
from ._estimators import AbstractEstimator
from ._laplace import Laplace
from ._pipeline import estimate as estimate_of
from ._pipeline import value
from ._problem import resolve
from ._progress import AbstractProgress
from ._rules import AbstractRule
from ._rules._base import PyTree
from ._runtime import checked_once


@checked_once
def expectation(
    f: Callable[[Float[Array, " n"]], PyTree],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"] | None = None,
    *,
    scale_tril: Float[Array, "n n"] | None = None,
    cov_factor: Float[Array, "n r"] | None = None,
    cov_diag: Float[Array, " n"] | None = None,
    rule: AbstractRule | None = None,
    estimator: "str | AbstractEstimator" = "pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
    adapt: "str | Laplace | bool | None" = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_evaluations: int | None = None,
    exact: bool = True,
    projection: Float[Array, "n k"] | str | None = "auto",
    progress: "bool | AbstractProgress" = False,
    check_finite: bool = True,
) -> PyTree:
    r"""The expected value $Z = E[f(x)]$, $x \sim N(\mu, \Sigma)$, by a rule on $N(0, I)$:

    $$Z \approx \sum_i w_i\, f(\mu + L \xi_i), \qquad \Sigma = L L^\top.$$

    Differentiable in `mean` and in the covariance argument with `jax.grad`, `jacrev`, `jacfwd`
    and `hessian`; composes with `jit` and `vmap`. The gradient in `cov` is the symmetric one,
    $dZ/d\Sigma = \frac12 E[\nabla^2 f]$, so Price's identity $d^2Z/d\mu^2 = 2\, dZ/d\Sigma$ holds
    to rounding for a rule exact on f.

    Args:
        f: maps one point x of shape (n,) to an array or a pytree of arrays.
        mean: $\mu$, shape (n,).
        cov: $\Sigma$, shape (n, n), positive definite; its symmetric part
            (cov + cov.T) / 2 is factored by Cholesky.
        scale_tril: L, shape (n, n), lower triangular (the upper triangle is ignored).
        cov_factor: L, shape (n, r): $\Sigma = L L^\top$ of rank r; the rule runs in r dimensions.
        cov_diag: the variances, shape (n,), positive: $\Sigma = \mathrm{diag}$(cov_diag).
        rule: a gaussjax rule. Without one, the call is tolerance-driven (below): it chooses
            and refines its rules itself until the error estimate meets the tolerance.
        estimator: "pathwise" (differentiate through f; exact derivative of the rule's
            approximation, low variance) or "score" (the likelihood ratio: f is never
            differentiated, so f may have jumps or be a `jax.pure_callback`; more variance;
            needs a covariance of full rank), or `gj.Pathwise()` / `gj.Score(baseline=...)`.
        key: a `jax.random` key, required by random rules (and letting a call without
            `rule` use `gj.QuasiMonteCarlo` as its last resort).
        batch_size: evaluate the nodes this many at a time, in bounded memory (a rule may
            round it: `GaussHermite` down to whole sub-grids of order^k nodes, `MonteCarlo` up
            to an even number). Under `jax.vmap` (many Gaussians), at most this many points
            over the whole batch: it is summed a slice of Gaussians at a time. Without it,
            under `jax.vmap`, a rule of at most 32 nodes calls an elementwise f (small sums and
            products allowed; in reverse mode any short f) once per node, which XLA fuses
            into one loop over the batch, and a gradient whose points would need more than
            1 GiB is summed a slice at a time (docs/performance.md, "Many Gaussians at
            once").
        adapt: "laplace" (or `gj.Laplace(...)`): run the rule on the Laplace fit of
            $f(x) N(x; \mu, \Sigma)$ (adaptive quadrature), for a scalar f, positive and smooth
            (see `gj.Laplace`). None (default): not with a given rule; a call without `rule`
            may try it (when f is scalar and differentiable). False: never.
        rtol, atol: refine until the error estimate is at most atol + rtol |Z| (elementwise).
            A call without `rule` uses rtol = 1e-6 in float64 (1e-4 in float32), atol = 0; with
            `rule`, only when one is given, refining within the rule's family (Gauss-Hermite
            order, sparse-grid level, QMC and Monte Carlo doubling).
        max_evaluations: the budget of evaluations of f for the refinement (default 10^6).
        exact: if f is a `gj.integrands` integrand (which knows its expectation in closed
            form), use the closed form: value and every derivative exact, and rule,
            estimator, key and batch_size unused. False integrates it by the rule like any f.
        projection: W of shape (n, k) for an f that takes $y = W^\top x$ of shape (k,): the
            rule runs in k dimensions on $y \sim N(W^\top\mu, W^\top\Sigma W)$,
            differentiable in mean, covariance and W. "auto" (default): when `rule` is not
            given and f's program uses x only through products with constant matrices
            (`w @ x`, `x @ W`, `A @ x`, values known when f is traced) whose columns span
            k < r dimensions, and makes no kink (`jnp.maximum`, `relu`, a comparison), the
            default rule runs in those k dimensions (exact to rounding: f is evaluated on that
            subspace, where it takes all its values). A rule you pass runs in the dimension it
            was chosen for, n (or r). None: never project. The projection comes first: a
            tolerance or an adaptation then works in the k dimensions.
        progress: True for a tqdm bar per pass over the chunks, advancing chunk by chunk from
            inside the compiled loop (under `jit`, and backward under `grad`), or a
            `gj.AbstractProgress` to receive the progress; False (default) puts nothing in the
            program. A pass is one sweep over the chunks of one rule: one forward, plus one
            backward when differentiated in reverse mode. Without `batch_size` the rule is one
            chunk.
        check_finite: True (default): an f that returns NaN or inf at a node is an error
            naming f (eagerly, and the node). False: NaN and inf propagate, as IEEE arithmetic
            does (mean and covariance are checked either way).

    Returns:
        A pytree shaped like f(x), in the dtype of mean and covariance.

    Tolerance-driven calls (no `rule`, or `rtol`/`atol` given) evaluate a fixed ladder of
    rules: for r dimensions, tensor Gauss-Hermite grids from order 2 (r <= 6) and sparse grids
    from level 1 (r >= 5), each plain and on the Laplace fit, and with a `key`
    `gj.QuasiMonteCarlo` from 1,024 points, interleaved by cost, each family's rules about
    doubling in nodes; the first that meets the tolerance gives the value (and the derivatives).
    A rule's error is its difference from the previous rule of its family (three standard
    errors for QMC). If none meets it within `max_evaluations`, the call raises (at run time
    under `jit`) with the error reached; `gj.estimate` returns the best value and its error.

    Raises:
        ValueError: wrong shapes (of a projection too), not exactly one covariance argument, a
            random rule without key, too many nodes, a bad batch_size. Values, eagerly: NaN or
            inf in mean or covariance, a cov asymmetric beyond rounding or not positive
            definite, f returning NaN or inf, a tolerance not reached within the budget, a
            Laplace fit that failed (f not positive at the mean, no mode found). With
            estimator="score": cov_factor of shape (n, r) with r < n (no density), a singular
            factor. With estimator="pathwise", when differentiated in mean or covariance: an f
            that calls `jax.pure_callback`, or that depends on x only through operations with
            zero derivative (a step, rounding); the message says to use estimator="score".
        jax.errors.JaxRuntimeError: the same checks of values under `jit` and `vmap`, when the
            compiled call runs (the message holds the ValueError's text; docs/errors.md).
        TypeError: f not callable or not returning arrays; rule not a gaussjax rule; key not
            a JAX random key.

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> f = lambda x: jnp.exp(x[0])            # E[exp(x0)] = exp(mu0 + Sigma00 / 2)
        >>> mean, cov = jnp.array([0.5, 0.0]), jnp.array([[1.0, 0.3], [0.3, 2.0]])
        >>> z = gj.expectation(f, mean, cov, rule=gj.GaussHermite(order=20))
        >>> bool(jnp.allclose(z, jnp.exp(0.5 + 0.5)))
        True
        >>> g = jax.grad(lambda m: gj.expectation(f, m, cov, rule=gj.GaussHermite(order=20)))
        >>> bool(jnp.allclose(g(mean), jnp.array([jnp.exp(1.0), 0.0])))
        True
    """
    covariance = dict(cov=cov, scale_tril=scale_tril, cov_factor=cov_factor, cov_diag=cov_diag)
    options = dict(rule=rule, estimator=estimator, key=key, batch_size=batch_size, adapt=adapt)
    options |= dict(exact=exact, projection=projection, progress=progress)
    options |= dict(check_finite=check_finite)
    tolerance = dict(rtol=rtol, atol=atol, max_evaluations=max_evaluations)
    return value(resolve("gj.expectation", f, mean, covariance, **options, **tolerance))


@checked_once
def estimate(
    f: Callable[[Float[Array, " n"]], PyTree],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"] | None = None,
    *,
    scale_tril: Float[Array, "n n"] | None = None,
    cov_factor: Float[Array, "n r"] | None = None,
    cov_diag: Float[Array, " n"] | None = None,
    rule: AbstractRule | None = None,
    estimator: "str | AbstractEstimator" = "pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
    adapt: "str | Laplace | bool | None" = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_evaluations: int | None = None,
    exact: bool = True,
    projection: Float[Array, "n k"] | str | None = "auto",
    progress: "bool | AbstractProgress" = False,
    check_finite: bool = True,
) -> Estimate:
    r"""$E[f(x)]$ as `gj.expectation` computes it, with an error estimate beside it.

    The error is, per rule (a deterministic rule's difference below is widened: times 2 from a
    coarser reference, times 3 from the finer Cubature(5); from two dimensions it is the largest
    of that and 3 times its differences from itself turned by two fixed rotations, which cost
    the rule's own evaluations twice again):

    | rule | error | extra evaluations of f |
    |---|---|---|
    | `MonteCarlo` | standard error $s/\sqrt N$ | none |
    | `QuasiMonteCarlo` | standard error over its independent scramblings | none |
    | `GaussHermite(order=m)` | $|Z_m - Z_{m-1}|$ (inf for m = 1) | $(m-1)^d$ |
    | `SparseGrid(level=L)` | $|Z_L - Z_{L-1}|$ (inf for L = 0) | the level L-1 grid |
    | `Cubature(degree=5)` | $|Z_5 - Z_{Cubature(3)}|$ | 2d |
    | `Cubature(degree=3)`, `Unscented` | $|Z - Z_{Cubature(5)}|$ | $2d^2 + 1$ |

    The deterministic ones are indicators, not bounds: reliable once the rule converges, they can
    be small by accident (odd integrands, symmetric errors, kinks). Same arguments as
    `gj.expectation`; the value is differentiable the same way. With a tolerance (no `rule`,
    or `rtol`/`atol`), the estimate of the first rule of the ladder that meets it, or of the
    best one when none does (no error is raised), and `evaluations` counts what was spent.
    With `progress`, each rule evaluated is its own pass: for a deterministic rule the rule,
    its reference and (from two dimensions) its two turned copies; one for a random rule. For a
    `gj.integrands` integrand (with `exact=True`) the value is its closed form and the error 0:
    `est.exact` says so.
    `est.dim` is the dimension the rule ran in (smaller than n after a projection, given or
    found in f's program).

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> est = gj.estimate(jnp.cos, jnp.zeros(1), jnp.eye(1), rule=gj.GaussHermite(order=8))
        >>> bool(jnp.allclose(est.value, jnp.exp(-0.5))), bool(est.error < 1e-4)
        (True, True)
        >>> w = jnp.array([1.0, 2.0, -1.0])                  # a ridge: rule runs in 1 dimension
        >>> gj.estimate(lambda x: jnp.cos(w @ x), jnp.zeros(3), jnp.eye(3)).dim
        1
        >>> exact = gj.estimate(gj.integrands.Cos(a=w), jnp.zeros(3), jnp.eye(3))
        >>> round(float(exact.value), 6), float(exact.error), exact.exact   # exp(-3), exactly
        (0.049787, 0.0, True)
    """
    covariance = dict(cov=cov, scale_tril=scale_tril, cov_factor=cov_factor, cov_diag=cov_diag)
    options = dict(rule=rule, estimator=estimator, key=key, batch_size=batch_size, adapt=adapt)
    options |= dict(exact=exact, projection=projection, progress=progress)
    options |= dict(check_finite=check_finite)
    tolerance = dict(rtol=rtol, atol=atol, max_evaluations=max_evaluations)
    return estimate_of(resolve("gj.estimate", f, mean, covariance, **options, **tolerance))


@checked_once
def log_expectation(
    log_f: Callable[[Float[Array, " n"]], PyTree],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"] | None = None,
    *,
    scale_tril: Float[Array, "n n"] | None = None,
    cov_factor: Float[Array, "n r"] | None = None,
    cov_diag: Float[Array, " n"] | None = None,
    rule: AbstractRule | None = None,
    estimator: "str | AbstractEstimator" = "pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
    adapt: "str | Laplace | bool | None" = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_evaluations: int | None = None,
    projection: Float[Array, "n k"] | str | None = "auto",
    progress: "bool | AbstractProgress" = False,
    check_finite: bool = True,
) -> PyTree:
    r"""$\log E[e^{\ell(x)}]$, $x \sim N(\mu, \Sigma)$, computed in log space: for likelihoods
    whose $E[f]$ underflows (a product of thousands of probabilities).

    With $s = \max_i \ell(x_i)$ over the rule's nodes (held constant),

    $$\log \sum_i w_i e^{\ell(x_i)} = s + \log \sum_i w_i e^{\ell(x_i) - s},$$

    and the sum on the right is computed and differentiated by the estimator as in
    `gj.expectation` (one extra pass over the nodes finds s). With `adapt="laplace"` the rule
    runs on the Laplace fit of $e^{\ell} N$, in log space throughout. Rules with negative weights
    can make the sum non-positive: a clear error then. Elementwise for an array-valued `log_f`.
    Tolerances (`rtol`, `atol`) apply to the returned logarithm: atol on log Z is a relative
    tolerance on Z.

    Args:
        log_f: maps one point x of shape (n,) to $\ell(x)$, an array or a pytree of arrays.
        mean, cov, scale_tril, cov_factor, cov_diag, rule, estimator, key, batch_size, adapt,
            rtol, atol, max_evaluations, projection, progress: as in `gj.expectation`.

    Returns:
        log E[exp(log_f(x))], shaped like log_f(x).

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> log_f = lambda x: x[0] - 1000.0        # exp(log_f) underflows: E = exp(-1000 + 1/2)
        >>> z = gj.log_expectation(log_f, jnp.zeros(1), jnp.eye(1), rule=gj.GaussHermite(20))
        >>> round(float(z), 6)
        -999.5
    """
    covariance = dict(cov=cov, scale_tril=scale_tril, cov_factor=cov_factor, cov_diag=cov_diag)
    options = dict(rule=rule, estimator=estimator, key=key, batch_size=batch_size, adapt=adapt)
    options |= dict(projection=projection, exact=False, progress=progress)
    options |= dict(check_finite=check_finite)
    tolerance = dict(rtol=rtol, atol=atol, max_evaluations=max_evaluations)
    problem = resolve("gj.log_expectation", log_f, mean, covariance, **options, **tolerance,
                      log_space=True)  # fmt: skip
    return value(problem)
