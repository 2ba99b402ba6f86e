r"""Adaptive rules: place the rule on the Laplace fit of $f(x) N(x; \mu, \Sigma)$.

In the coordinates $x = \mu + L z$, $z \sim N(0, I)$, let $\psi(z) = \log f(\mu + Lz) - |z|^2/2$,
$z^*$ its mode and $H = -\nabla^2\psi(z^*) = C C^\top$. With $q = N(z^*, H^{-1})$,

$$Z = E_{N(0, I)}[f(\mu + Lz)] = E_q\Big[f(\mu + Lz)\, \frac{N(z; 0, I)}{q(z)}\Big]
    \approx \sum_i w_i\, \frac{N(z_i; 0, I)}{q(z_i)}\, f(\mu + L z_i), \qquad
    z_i = z^* + C^{-\top}\xi_i:$$

the same rule, on q instead of $N(0, I)$: its nodes $\xi_i$ move to $z_i$ and its weights take
the ratio of densities, so f, the mean and the factor are untouched. The change of measure is
exact, so only the rule's error changes: where $f N$ is close to a Gaussian, $f N / q$ is close
to a constant and few nodes are exact (adaptive Gauss-Hermite quadrature: lme4's nAGQ, the R
package aghq, INLA). A tensor Gauss-Hermite rule becomes AGHQ; a sparse grid an adapted sparse
grid; QMC becomes QMC importance sampling from the Laplace fit.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve, solve_triangular
from jaxtyping import Array, Bool, Float

from ._log_program import log_abs
from ._mode import find_mode, newton
from ._rules._adapted import Adaptation, adapted
from ._rules._base import PyTree
from ._runtime import check

TOLERANCE = {8: 1e-10, 4: 3e-4, 2: 1e-2}
"""Default Newton-decrement tolerance of the mode search, by the float's size in bytes."""


class Laplace(eqx.Module):
    r"""Place the rule on the Laplace fit of $f(x) N(x; \mu, \Sigma)$ (adaptive quadrature).

    `adapt="laplace"` is `gj.Laplace()`. The mode of $\log f(x) + \log N(x; \mu, \Sigma)$ is
    found by damped Newton (a line search, curvature made positive where f is not log-concave),
    starting at the mean; the rule then runs on $N(x^*, H^{-1})$ with $H$ the curvature at the
    mode, integrating $f N / q$. f must be positive at the mean and smooth (twice
    differentiable in x) along the way, and scalar.

    Derivatives: by default the result is differentiated through the mode and the curvature
    as well (implicitly: $dz^* = H^{-1} \partial\nabla\psi$), so `jax.grad` gives the exact
    derivative of the value computed, even for a one-node rule (the Laplace approximation).
    `freeze_centre=True` holds q fixed: then only the density $N(x; \mu, \Sigma)$ in
    $\tilde f$ is differentiated (a likelihood-ratio form, exact in the limit), which never
    differentiates f at the nodes but needs a rule that integrates $\tilde f$ times quadratics.

    Args:
        max_steps: Newton steps at most (default 50).
        tolerance: stop once the Newton decrement $\sqrt{g^\top H^{-1} g}$ is below this
            (default 1e-10 in float64, 3e-4 in float32).
        freeze_centre: hold the fitted Gaussian q constant when differentiating.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = lambda x: jnp.exp(-50.0 * jnp.sum((x - 2.0) ** 2))   # a narrow peak, 2 sd away
        >>> exact = jnp.exp(-2 * 200 / 101) / 101     # per axis: exp(-200/101) / sqrt(101)
        >>> z = gj.expectation(f, jnp.zeros(2), jnp.eye(2), rule=gj.GaussHermite(order=2),
        ...                    adapt="laplace")
        >>> bool(jnp.allclose(z, exact, rtol=1e-10))
        True
    """

    max_steps: int = eqx.field(static=True, default=50)
    tolerance: float | None = eqx.field(static=True, default=None)
    freeze_centre: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(f"Laplace(max_steps=...) needs an int >= 1, got {self.max_steps!r}.")
        if self.tolerance is not None and not self.tolerance > 0:
            raise ValueError(f"Laplace(tolerance=...) must be positive, got {self.tolerance!r}.")


def resolve_adapt(adapt, caller: str) -> "Laplace | None | bool":
    """None (no adaptation, or the tolerance-driven call decides), False (never), or a Laplace."""
    if adapt is None or adapt is False or isinstance(adapt, Laplace):
        return adapt
    if adapt == "laplace":
        return Laplace()
    raise ValueError(
        f"{caller}: adapt must be None, False, 'laplace' or gj.Laplace(...), got {adapt!r}."
    )


def _square_factor(factor: Float[Array, "n r"]) -> Float[Array, "n s"]:
    """A factor of full column rank: itself when r <= n, else the Cholesky factor of L L^T."""
    n, r = factor.shape
    return factor if r <= n else jnp.linalg.cholesky(factor @ factor.T)


def _log_target(z, theta, static):
    f, mean, factor = eqx.combine(theta, static)
    return f.log_f(mean + factor @ z) - 0.5 * z @ z


class _LogF(eqx.Module):
    """log f(x): read off f's program (finite where f underflows), or f itself in log space."""

    f: PyTree
    log_space: bool = eqx.field(static=True)

    def log_f(self, x):
        if self.log_space:
            value = self.f(x)
            return jnp.where(jnp.isnan(value), -jnp.inf, value)
        return log_abs(self.f, x)


def fit(problem, laplace: Laplace) -> tuple[object, Adaptation, Bool[Array, ""], str]:
    """(the problem with a factor of full column rank, the Laplace fit in its coordinates, a
    flag saying the fit is usable, the message to raise when it is not). Where the fit fails,
    q is N(0, I) itself: the adaptation is the identity, finite, and flagged."""
    mean, dtype = problem.mean, problem.mean.dtype
    factor = _square_factor(problem.factor)
    log_f = _LogF(problem.f, problem.log_space)
    theta, static = eqx.partition((log_f, mean, factor), eqx.is_array)
    tolerance = laplace.tolerance or TOLERANCE[jnp.dtype(dtype).itemsize]
    z0 = jnp.zeros(factor.shape[1], dtype)
    start_ok = jnp.isfinite(log_f.log_f(mean))
    if not problem.log_space:
        start_ok = start_ok & (problem.f(mean) >= 0)  # with a finite log: positive
    if laplace.freeze_centre:  # q is held constant: the mode need not be differentiable
        theta = jax.lax.stop_gradient(theta)
        z = newton(_log_target, static, laplace.max_steps, tolerance, theta, z0)
    else:
        z = find_mode(_log_target, static, laplace.max_steps, tolerance, theta, z0)

    curvature = -jax.hessian(_log_target)(z, theta, static)
    fixed = jax.lax.stop_gradient((z, curvature))
    test = jnp.linalg.cholesky(fixed[1])
    step = cho_solve((test, True), jax.grad(_log_target)(fixed[0], theta, static))
    decrement = jax.lax.stop_gradient(step @ test @ test.T @ step)  # g^T H^-1 g
    ok = start_ok & jnp.all(jnp.isfinite(test)) & (decrement <= (10 * tolerance) ** 2)
    identity = jnp.eye(z.shape[0], dtype=dtype)
    cholesky = jnp.linalg.cholesky(jnp.where(ok, curvature, identity))
    adaptation = Adaptation(
        shift=jnp.where(ok, z, 0.0),
        transform=solve_triangular(cholesky, identity, lower=True).T,  # C^{-T}
        log_det=-jnp.sum(jnp.log(jnp.diag(cholesky))),
    )
    return problem.replace(factor=factor), adaptation, ok, _failure_message(problem.caller, laplace)


def prepared(problem):
    """The problem with its rule on the Laplace fit when adapt= asks for one (an error where
    the fit fails)."""
    if problem.adapt is None:
        return problem
    base, adaptation, ok, message = fit(problem, problem.adapt)
    adaptation = eqx.tree_at(lambda a: a.shift, adaptation, check(adaptation.shift, ~ok, message))
    return base.replace(rule=adapted(problem.rule, adaptation), adapt=None)


def _failure_message(caller: str, laplace: Laplace) -> str:
    return (
        f"{caller}: adapt='laplace' could not fit a Gaussian to f(x) N(x; mean, cov): f must be "
        "positive at the mean (log f finite there) and smooth, and the mode search must "
        f"converge within max_steps={laplace.max_steps} to a point of negative curvature. For "
        "an f that is zero or negative at the mean, integrate a positive part separately (or "
        "add a constant), or pass adapt=None; for slow convergence, raise "
        "gj.Laplace(max_steps=...)."
    )
