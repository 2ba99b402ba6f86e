"""dZ/dmean and dZ/dcov three ways, and a gradient with its standard error."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._default_rule import default_rule
from ._estimators import AbstractEstimator
from ._expectation import Estimate, expectation
from ._rules import AbstractRule

METHODS = ("autodiff", "bonnet_price", "score")


def _check_scalar_f(f, mean, caller: str) -> None:
    mean = jnp.asarray(mean)
    if not callable(f):
        raise TypeError(f"{caller}: f must be a callable x -> f(x), got {type(f).__name__}.")
    shape = jax.eval_shape(f, jax.ShapeDtypeStruct(mean.shape, mean.dtype))
    if not hasattr(shape, "shape") or shape.shape != ():
        raise TypeError(
            f"{caller}: f must return a scalar (a gradient in mean and cov needs one); it "
            f"returned {jax.tree.map(lambda s: s.shape, shape)}. Reduce it, or apply "
            "jax.jacrev to gj.expectation."
        )


def mean_cov_grads(
    f: Callable[[Float[Array, " n"]], Float[Array, ""]],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"],
    *,
    method: str = "autodiff",
    rule: AbstractRule | None = None,
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
) -> tuple[Float[Array, " n"], Float[Array, "n n"]]:
    r"""$(dZ/d\mu, dZ/d\Sigma)$ for $Z = E[f(x)]$, $x \sim N(\mu, \Sigma)$, computed by `method`:

    - "autodiff": `jax.grad` of `gj.expectation` with `estimator="pathwise"` (the exact
      derivative of the rule's approximation);
    - "bonnet_price": the expectations $E[\nabla f(x)]$ (Bonnet) and
      $\frac12 E[\nabla^2 f(x)]$ (Price), computed by the rule;
    - "score": `jax.grad` of `gj.expectation` with `estimator="score"`:
      $E[f(x) L^{-\top}\xi]$ and $\frac12 L^{-\top} E[f(x)(\xi\xi^\top - I)] L^{-1}$, baseline
      subtracted.

    All three agree to rounding where f is smooth and the rule exact for it (for the score
    method, exact for f times quadratics). dZ/dcov is the symmetric gradient.

    Args:
        f: scalar function of one point x of shape (n,).
        mean: $\mu$, shape (n,).
        cov: $\Sigma$, shape (n, n), symmetric positive definite.
        method: "autodiff", "bonnet_price" or "score".
        rule, key, batch_size: as in `gj.expectation`.

    Returns:
        (dZ/dmean of shape (n,), dZ/dcov of shape (n, n)).

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
    _check_scalar_f(f, mean, caller)
    options = dict(rule=rule, key=key, batch_size=batch_size)
    if method == "bonnet_price":

        def derivatives(x):
            return jax.grad(f)(x), 0.5 * jax.hessian(f)(x)

        return expectation(derivatives, mean, cov, **options)
    estimator = "pathwise" if method == "autodiff" else "score"
    return jax.grad(
        lambda m, c: expectation(f, m, c, estimator=estimator, **options), argnums=(0, 1)
    )(mean, cov)


def estimate_grad(
    f: Callable[[Float[Array, " n"]], Float[Array, ""]],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"],
    *,
    rule: AbstractRule | None = None,
    estimator: str | AbstractEstimator = "pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
    num_repeats: int = 16,
) -> Estimate:
    r"""The gradient $(dZ/d\mu, dZ/d\Sigma)$ by `estimator`, with an error estimate beside it.

    For a random rule (`MonteCarlo`, or any rule with `is_random`), the gradient is computed
    `num_repeats` times with independent keys `jax.random.split(key, num_repeats)`; `value` is
    their mean and `error` its standard error, $s/\sqrt{R}$ with s the sample standard deviation
    over the R repeats (cost: R runs of the rule). The standard deviation of one run is
    `error * sqrt(num_repeats)`: compare it between `estimator="pathwise"` and `"score"` to see
    how much more variance the score estimator has. For a deterministic rule, `value` is the
    gradient with `rule` and `error` the rule's own indicator applied to gradients, as in
    `gj.estimate` (e.g. the difference from the next coarser rule).

    Args:
        f: scalar function of one point x of shape (n,).
        mean, cov: the Gaussian, shapes (n,) and (n, n).
        rule, estimator, key, batch_size: as in `gj.expectation`.
        num_repeats: R >= 2 independent runs for a random rule.

    Returns:
        `gj.Estimate(value=(dZ_dmean, dZ_dcov), error=(its standard errors))`.

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
    _check_scalar_f(f, mean, caller)
    if not isinstance(num_repeats, int) or num_repeats < 2:
        raise ValueError(f"{caller}: num_repeats must be an int >= 2, got {num_repeats!r}.")

    def grad_with(chosen_rule, chosen_key):
        return jax.grad(
            lambda m, c: expectation(
                f,
                m,
                c,
                rule=chosen_rule,
                estimator=estimator,
                key=chosen_key,
                batch_size=batch_size,
            ),
            argnums=(0, 1),
        )(mean, cov)

    if rule is None:
        rule = default_rule(jnp.shape(mean)[0])
    if not isinstance(rule, AbstractRule):
        raise TypeError(
            f"{caller}: rule must be a gaussjax rule such as gj.MonteCarlo(num_samples=1000), "
            f"got {type(rule).__name__}."
        )
    if not rule.is_random:
        # the rule's own indicator, applied to gradients: identity is the only transform it uses
        value, error = rule.value_and_error(
            lambda chosen, transform: transform(grad_with(chosen, key)), None
        )
        return Estimate(value=value, error=error)
    rule.check_key(key)
    runs = jax.lax.map(lambda k: grad_with(rule, k), jax.random.split(key, num_repeats))
    value = jax.tree.map(lambda r: jnp.mean(r, axis=0), runs)
    error = jax.tree.map(lambda r: jnp.std(r, axis=0, ddof=1) / jnp.sqrt(num_repeats), runs)
    return Estimate(value=value, error=error)
