r"""The mode $z^*$ of a smooth log-density $\psi(z; \theta)$, by damped Newton, with the
implicit derivative $dz^* = H^{-1}\, \partial_\theta \nabla_z \psi \cdot d\theta$,
$H = -\nabla^2_z \psi(z^*)$.

The derivative rule is written with JAX operations at $z^*$ (itself differentiable by the same
rule), so `grad`, `jacfwd`, `jacrev` and `hessian` of anything computed from $z^*$ are exact
derivatives of the mode, not of the iterations that found it.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve
from jaxtyping import Array, Float

ARMIJO = 1e-4
"""Sufficient increase: accept a step t p when psi rises by at least ARMIJO t g.p."""
MAX_HALVINGS = 40
EIGENVALUE_FLOOR = 1e-6
"""Directions of curvature below this (or of the wrong sign) are treated as curvature 1e-6."""


def newton_direction(gradient: Array, hessian: Array) -> tuple[Array, Array]:
    r"""$p = H^{-1} g$ with $H = -\nabla^2\psi$ (by Cholesky), or where H is not positive
    definite $|H|^{-1} g$ with absolute eigenvalues (at least EIGENVALUE_FLOOR); and the Newton
    decrement squared $g \cdot p$."""
    cholesky = jnp.linalg.cholesky(-hessian)

    def by_cholesky():
        return cho_solve((cholesky, True), gradient)

    def by_eigenvalues():
        curvature, vectors = jnp.linalg.eigh(-hessian)
        curvature = jnp.maximum(jnp.abs(curvature), EIGENVALUE_FLOOR)
        return vectors @ ((vectors.T @ gradient) / curvature)

    direction = jax.lax.cond(jnp.all(jnp.isfinite(cholesky)), by_cholesky, by_eigenvalues)
    return direction, gradient @ direction


def newton(psi: Callable, static, max_steps: int, tolerance: float, theta, z0: Array) -> Array:
    """argmax_z psi(z, theta, static) by damped Newton, not differentiable (see find_mode)."""

    def safe_psi(z):
        value = psi(z, theta, static)
        return jnp.where(jnp.isfinite(value), value, -jnp.inf)

    value_and_grad = jax.value_and_grad(safe_psi)
    hessian = jax.hessian(safe_psi)

    def step(state):
        z, value, gradient, k, _ = state
        direction, decrement = newton_direction(gradient, hessian(z))
        usable = jnp.all(jnp.isfinite(direction))
        direction = jnp.where(usable, direction, 0.0)
        decrement = jnp.where(usable, decrement, 0.0)  # nowhere to go: stop

        def halve(search):
            t, _, j = search
            return t / 2, safe_psi(z + (t / 2) * direction), j + 1

        slack = 16 * jnp.finfo(z.dtype).eps * (1 + jnp.abs(value))  # rounding, near the mode

        def rejected(search):
            t, new_value, j = search
            return (new_value < value + ARMIJO * t * decrement - slack) & (j < MAX_HALVINGS)

        start = (jnp.ones((), z.dtype), safe_psi(z + direction), 0)
        t, _, _ = jax.lax.while_loop(rejected, halve, start)
        z = z + t * direction
        value, gradient = value_and_grad(z)
        return z, value, gradient, k + 1, decrement

    def going(state):
        _, value, _, k, decrement = state
        return (k < max_steps) & (decrement > tolerance**2) & jnp.isfinite(value)

    value, gradient = value_and_grad(z0)
    start = (z0, value, gradient, 0, jnp.asarray(jnp.inf, z0.dtype))
    z, *_ = jax.lax.while_loop(going, step, start)
    return z


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3))
def find_mode(
    psi: Callable, static, max_steps: int, tolerance: float, theta, z0: Float[Array, " r"]
) -> Float[Array, " r"]:
    """argmax_z psi(z, theta, static), by damped Newton from z0 (at most max_steps steps,
    stopping once the Newton decrement is below `tolerance`)."""
    return newton(psi, static, max_steps, tolerance, theta, z0)


@find_mode.defjvp
def _find_mode_jvp(psi, static, max_steps, tolerance, primals, tangents):
    theta, z0 = primals
    dtheta, _ = tangents
    z = find_mode(psi, static, max_steps, tolerance, theta, z0)

    def gradient(z, theta):
        return jax.grad(psi)(z, theta, static)

    curvature = -jax.jacfwd(gradient)(z, theta)
    usable = jnp.all(jnp.isfinite(curvature))  # (a failed fit, which the caller flags)
    curvature = jnp.where(usable, curvature, jnp.eye(z.shape[0], dtype=z.dtype))
    _, moved = jax.jvp(lambda t: gradient(z, t), (theta,), (dtheta,))
    return z, jnp.linalg.solve(curvature, jnp.where(usable, moved, 0.0))
