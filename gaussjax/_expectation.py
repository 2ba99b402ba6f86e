"""expectation() and estimate(): the front door for E[f(x)] and its error."""

from collections.abc import Callable

from jaxtyping import Array, Float, PRNGKeyArray

from ._errors import Estimate, estimate_integral
from ._estimators import AbstractEstimator
from ._problem import resolve
from ._progress import AbstractProgress
from ._rules import AbstractRule
from ._rules._base import PyTree


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
    progress: "bool | AbstractProgress" = False,
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
        rule: a gaussjax rule; default `gj.default_rule(r)`.
        estimator: "pathwise" (differentiate through f; exact derivative of the rule's
            approximation, low variance) or "score" (the likelihood ratio: f is never
            differentiated, so f may have jumps or be a `jax.pure_callback`; more variance;
            needs a covariance of full rank), or `gj.Pathwise()` / `gj.Score(baseline=...)`.
        key: a `jax.random` key, required by random rules.
        batch_size: evaluate the nodes this many at a time, in bounded memory.
        progress: True for a tqdm bar per pass over the chunks, advancing chunk by chunk from
            inside the compiled loop (under `jit`, and backward under `grad`), or a
            `gj.AbstractProgress` to receive the progress; False (default) puts nothing in the
            program. A pass is one sweep over the chunks: one forward, plus one backward when
            differentiated in reverse mode. Without `batch_size` the rule is one chunk.

    Returns:
        A pytree shaped like f(x), in the dtype of mean and covariance.

    Raises:
        ValueError: wrong shapes, not exactly one covariance argument, a random rule without
            key, too many nodes; at run time (under `jit` too) a covariance that is not
            positive definite. With estimator="score": cov_factor of shape
            (n, r) with r < n (no density), and at run time a singular factor. With
            estimator="pathwise", when differentiated in mean or covariance: an f that calls
            `jax.pure_callback`, or that depends on x only through operations with zero
            derivative (a step, rounding); the message says to use estimator="score".
        TypeError: f not callable or not returning arrays; rule not a gaussjax rule.

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
    options = dict(
        rule=rule, estimator=estimator, key=key, batch_size=batch_size, progress=progress
    )
    return resolve("gj.expectation", f, mean, covariance, **options).integrate()


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
    progress: "bool | AbstractProgress" = False,
) -> Estimate:
    r"""$E[f(x)]$ as `gj.expectation` computes it, with an error estimate beside it.

    The error is, per rule:

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
    `gj.expectation`; the value is differentiable the same way. With `progress`, each rule
    evaluated is its own pass: two for a deterministic rule (the rule, then its reference),
    one for a random rule.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> est = gj.estimate(jnp.cos, jnp.zeros(1), jnp.eye(1), rule=gj.GaussHermite(order=8))
        >>> bool(jnp.allclose(est.value, jnp.exp(-0.5))), bool(est.error < 1e-4)
        (True, True)
    """
    covariance = dict(cov=cov, scale_tril=scale_tril, cov_factor=cov_factor, cov_diag=cov_diag)
    options = dict(
        rule=rule, estimator=estimator, key=key, batch_size=batch_size, progress=progress
    )
    return estimate_integral(resolve("gj.estimate", f, mean, covariance, **options))
