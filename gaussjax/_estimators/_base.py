"""What an estimator is: a way to compute E[f(x)] by a rule and differentiate it."""

import abc

import equinox as eqx

from .._rules._base import PyTree


class AbstractEstimator(eqx.Module):
    r"""How `gj.expectation` computes $Z = E[f(x)]$ by a rule and differentiates it in the
    mean, the covariance and everything they are computed from.

    An estimator implements `integrate(problem)`: given a validated `gj.Problem` (f, mean,
    factor L with $\Sigma = L L^\top$, rule, key, batch_size), return
    $\sum_i w_i f(\mu + L\xi_i)$ as a function of `problem.mean` and `problem.factor` whose JAX
    derivatives are the estimator's. `problem.weighted_sum(g)` sums any $g(\xi)$ over the
    rule's nodes, in chunks when `batch_size` is set. It may also implement `check(problem)`,
    raising `problem.error(...)` for a problem it cannot serve.

    Example:
        A pathwise estimator that treats the covariance as a constant:

        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> class FrozenCovariance(gj.AbstractEstimator):
        ...     def integrate(self, problem):
        ...         factor = jax.lax.stop_gradient(problem.factor)
        ...         return problem.weighted_sum(lambda xi: problem.f(problem.mean + factor @ xi))
        >>> z = lambda m, c: gj.expectation(lambda x: x @ x, m, c, estimator=FrozenCovariance(),
        ...                                 rule=gj.GaussHermite(order=2))
        >>> g_mean, g_cov = jax.grad(z, argnums=(0, 1))(jnp.ones(2), jnp.eye(2))
        >>> g_mean.tolist(), bool(jnp.all(g_cov == 0))
        ([2.0, 2.0], True)
    """

    @abc.abstractmethod
    def integrate(self, problem: "Problem") -> PyTree:  # noqa: F821
        """E[f(x)] for `problem`, differentiable in its mean and factor as this estimator says."""

    def check(self, problem: "Problem") -> None:  # noqa: F821
        """Raise `problem.error(...)` where this estimator cannot serve `problem` (default: all
        problems are served)."""
