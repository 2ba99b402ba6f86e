"""dZ/dmean and dZ/d(covariance) three ways, and a gradient with its error estimate."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._covariance import checked_mean, factor_from, validate_gaussian
from ._errors import Estimate, against_reference, exactly, in_dimension, over_replicates
from ._estimators import AbstractEstimator
from ._laplace import Laplace
from ._pipeline import value
from ._problem import Problem, resolve
from ._progress import AbstractProgress
from ._projection import project
from ._rules import AbstractDeterministicRule, AbstractRule
from ._runtime import checked_once

METHODS = ("autodiff", "bonnet_price", "score")


def z_function(
    caller: str, f, mean, covariance: dict, **options
) -> tuple[Problem, str, Array, Callable]:
    """Validate once; return (problem, covariance name, its value, z) where
    z(mean, value, rule, key) is Z as a function of mean and the covariance argument, for that
    rule and key, without tracing f again."""
    mean, name, cov_value = validate_gaussian(mean, covariance, caller)
    problem = resolve(caller, f, mean, {name: cov_value}, scalar=True, **options)

    @checked_once
    def z(m, v, rule, key):
        m, factor = checked_mean(m, caller), factor_from(name, v, caller)
        return value(problem.replace(mean=m, factor=factor, rule=rule, key=key))

    return problem, name, cov_value, z


@checked_once
def mean_cov_grads(
    f: Callable[[Float[Array, " n"]], Float[Array, ""]],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"] | None = None,
    *,
    scale_tril: Float[Array, "n n"] | None = None,
    cov_factor: Float[Array, "n r"] | None = None,
    cov_diag: Float[Array, " n"] | None = None,
    method: str = "autodiff",
    rule: AbstractRule | None = None,
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
) -> tuple[Float[Array, " n"], Array]:
    r"""$(dZ/d\mu, dZ/d\Sigma)$ for $Z = E[f(x)]$, $x \sim N(\mu, \Sigma)$, computed by `method`:

    - "autodiff": `jax.grad` of `gj.expectation` with `estimator="pathwise"` (the exact
      derivative of the rule's approximation);
    - "bonnet_price": the expectations $E[\nabla f(x)]$ (Bonnet) and
      $G = \frac12 E[\nabla^2 f(x)]$ (Price), computed by the rule;
    - "score": `jax.grad` of `gj.expectation` with `estimator="score"`:
      $E[f(x) L^{-\top}\xi]$ and $\frac12 L^{-\top} E[f(x)(\xi\xi^\top - I)] L^{-1}$, baseline
      subtracted.

    All three agree to rounding where f is smooth and the rule exact for it (for the score
    method, exact for f times quadratics). The second output is the gradient in the covariance
    argument given: for `cov` the symmetric $dZ/d\Sigma = G$, shape (n, n); for `scale_tril` L
    the lower triangle of $2 G L$; for `cov_factor` L, $2 G L$, shape (n, r); for `cov_diag`,
    the diagonal of G, shape (n,).

    Args:
        f: scalar function of one point x of shape (n,).
        mean: $\mu$, shape (n,).
        cov, scale_tril, cov_factor, cov_diag: exactly one, as in `gj.expectation`.
        method: "autodiff", "bonnet_price" or "score".
        rule, key, batch_size, adapt, rtol, atol, max_evaluations, exact, projection: as in
            `gj.expectation` (adapt not with "bonnet_price", whose integrands are not
            positive). For a `gj.integrands` integrand (`exact=True`) every method returns the
            gradient of the closed form.
        progress: as in `gj.expectation` ("autodiff" and "score" make a forward and a
            backward pass, "bonnet_price" a forward pass).

    Returns:
        (dZ/dmean of shape (n,), dZ/d(covariance argument) of that argument's shape).

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = lambda x: x[0] ** 2 * x[1]                  # Z = (mu0^2 + S00) mu1 + 2 S01 mu0
        >>> mean, cov = jnp.array([1.0, 2.0]), jnp.array([[1.0, 0.5], [0.5, 2.0]])
        >>> for method in ("autodiff", "bonnet_price", "score"):
        ...     g_mean, g_cov = gj.mean_cov_grads(f, mean, cov, method=method,
        ...                                       rule=gj.GaussHermite(order=4))
        ...     print(method, jnp.round(g_mean, 3), jnp.round(g_cov[0], 3))
        autodiff [5. 2.] [2. 1.]
        bonnet_price [5. 2.] [2. 1.]
        score [5. 2.] [2. 1.]
    """
    caller = "gj.mean_cov_grads"
    if method not in METHODS:
        raise ValueError(
            f"{caller}: method must be one of {', '.join(map(repr, METHODS))}, got {method!r}."
        )
    if method == "bonnet_price" and adapt not in (None, False):
        raise ValueError(
            f"{caller}: adapt= needs a positive f, and method='bonnet_price' integrates grad f "
            "and hess f; use method='autodiff' with adapt."
        )
    covariance = dict(cov=cov, scale_tril=scale_tril, cov_factor=cov_factor, cov_diag=cov_diag)
    estimator = "score" if method == "score" else "pathwise"
    options = dict(rule=rule, estimator=estimator, key=key, batch_size=batch_size, adapt=adapt)
    options |= dict(exact=exact, projection=projection, progress=progress)
    options |= dict(check_finite=check_finite)
    tolerance = dict(rtol=rtol, atol=atol, max_evaluations=max_evaluations)
    problem, name, cov_value, z = z_function(caller, f, mean, covariance, **options, **tolerance)
    if method != "bonnet_price" or problem.exact:
        grad = jax.grad(z, argnums=(0, 1))
        return grad(problem.mean, cov_value, problem.rule, problem.key)
    reduced = project(problem)  # E[grad f], 1/2 E[hess f] in y = W^T x, then mapped to x
    g_mean, g_cov = value(reduced.replace(f=_BonnetPrice(reduced.f)))
    if problem.projection is not None:
        W = problem.projection
        g_mean, g_cov = W @ g_mean, W @ g_cov @ W.T
    return g_mean, _in_covariance_argument(g_cov, name, problem.factor)


class _BonnetPrice(eqx.Module):
    """x -> (grad f(x), 1/2 hess f(x))."""

    f: Callable

    def __call__(self, x):
        f = lambda x: jnp.asarray(self.f(x), x.dtype)  # noqa: E731 - an int f has derivatives 0
        return jax.grad(f)(x), 0.5 * jax.hessian(f)(x)


def _in_covariance_argument(g_cov: Float[Array, "n n"], name: str, factor) -> Array:
    r"""$G = dZ/d\Sigma$ (symmetric) as the gradient in the covariance argument `name`."""
    if name == "cov":
        return g_cov
    if name == "cov_diag":
        return jnp.diag(g_cov)
    through_factor = 2 * g_cov @ factor  # d tr(G L L^T) = 2 tr(G L dL^T)
    return jnp.tril(through_factor) if name == "scale_tril" else through_factor


@checked_once
def estimate_grad(
    f: Callable[[Float[Array, " n"]], Float[Array, ""]],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"] | None = None,
    *,
    scale_tril: Float[Array, "n n"] | None = None,
    cov_factor: Float[Array, "n r"] | None = None,
    cov_diag: Float[Array, " n"] | None = None,
    rule: AbstractRule | None = None,
    estimator: str | AbstractEstimator = "pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
    adapt: "str | Laplace | bool | None" = None,
    num_repeats: int = 16,
    exact: bool = True,
    projection: Float[Array, "n k"] | str | None = "auto",
    progress: "bool | AbstractProgress" = False,
    check_finite: bool = True,
) -> Estimate:
    r"""The gradient $(dZ/d\mu, dZ/d(\text{covariance}))$ by `estimator`, with its error.

    For a random rule (`MonteCarlo`, `QuasiMonteCarlo`), the gradient is computed `num_repeats`
    times with independent keys `jax.random.split(key, num_repeats)`; `value` is their mean and
    `error` its standard error, $s/\sqrt{R}$ with s the sample standard deviation over the R
    repeats (cost: R runs of the rule). The standard deviation of one run is
    `error * sqrt(num_repeats)`: compare it between `estimator="pathwise"` and `"score"` to see
    how much more variance the score estimator has. For a deterministic rule, `value` is the
    gradient with `rule` and `error` the rule's own indicator applied to gradients, as in
    `gj.estimate` (the difference from its reference rule). The gradient in the covariance is
    taken in the argument given, as in `gj.mean_cov_grads`.

    Args:
        f: scalar function of one point x of shape (n,).
        mean: $\mu$, shape (n,).
        cov, scale_tril, cov_factor, cov_diag: exactly one, as in `gj.expectation`.
        rule: as in `gj.expectation`; without one, `gj.default_rule(d)` (a fixed rule, so that
            its error indicator applies; d the dimension after any projection).
        estimator, key, batch_size, adapt, exact, projection: as in `gj.expectation`; for a
            `gj.integrands` integrand (`exact=True`) the gradient of its closed form, error 0.
        progress: as in `gj.expectation` (a forward and, for the pathwise estimator, a
            backward pass per run of the rule: `num_repeats` runs for a random rule; for a
            deterministic one the rule, its reference and, from two dimensions, its two
            turned copies).
        num_repeats: R >= 2 independent runs for a random rule.

    Returns:
        `gj.Estimate(value=(dZ_dmean, dZ_dcov), error=(its errors))`.

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> f = lambda x: jnp.sin(x[0]) + x[1] ** 2   # dZ/dmu = (cos(mu0) e^{-S00/2}, 2 mu1)
        >>> est = gj.estimate_grad(f, jnp.zeros(2), jnp.eye(2), estimator="score",
        ...                        rule=gj.MonteCarlo(num_samples=1000), key=jax.random.key(0))
        >>> g_mean, se_mean = est.value[0], est.error[0]
        >>> bool(jnp.all(jnp.abs(g_mean - jnp.array([jnp.exp(-0.5), 0.0])) < 5 * se_mean))
        True
    """
    caller = "gj.estimate_grad"
    if not isinstance(num_repeats, int) or isinstance(num_repeats, bool) or num_repeats < 2:
        raise ValueError(f"{caller}: num_repeats must be an int >= 2, got {num_repeats!r}.")
    covariance = dict(cov=cov, scale_tril=scale_tril, cov_factor=cov_factor, cov_diag=cov_diag)
    options = dict(rule=rule, estimator=estimator, key=key, batch_size=batch_size, adapt=adapt)
    options |= dict(exact=exact, projection=projection, progress=progress)
    options |= dict(check_finite=check_finite)
    problem, _, cov_value, z = z_function(caller, f, mean, covariance, **options, fixed_rule=True)
    grad = jax.grad(z, argnums=(0, 1))
    if problem.exact:
        return exactly(grad(problem.mean, cov_value, problem.rule, problem.key))
    if isinstance(problem.rule, AbstractDeterministicRule):
        estimate = against_reference(
            lambda r: grad(problem.mean, cov_value, r, None), problem.rule, problem.dim
        )
    else:
        keys = jax.random.split(problem.key, num_repeats)
        grads = jax.lax.map(lambda k: grad(problem.mean, cov_value, problem.rule, k), keys)
        estimate = over_replicates(grads)
    return in_dimension(estimate, problem.dim)
