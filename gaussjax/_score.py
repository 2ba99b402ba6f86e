r"""The score-function (likelihood-ratio) estimator: derivatives of $E[f(\mu + L\xi)]$ that never
differentiate f.

Write $x = \mu + L\xi$, $\xi \sim N(0, I_r)$, $L$ of shape (n, r) with full row rank n, and
$a = L^+ d\mu$, $B = L^+ dL$ ($L^+ = L^{-1}$ when r = n). Then
$\xi = L^{-1}(x - \mu)$ moves by $d\xi = -(a + B\xi)$, the log-density by
$s(\xi) = \xi^\top a + \xi^\top B \xi - \mathrm{tr} B$, and for any weight $\varphi(\xi)$

$$d\, E[f(x)\, \varphi(\xi)] = E\big[f(x)\,\big(\varphi(\xi)\, s(\xi) - \nabla\varphi(\xi)
    \cdot (a + B\xi)\big)\big].$$

With $\varphi = 1$ this is DESIGN.md's $dZ/d\mu = E[f L^{-\top}\xi]$,
$dZ/d\Sigma = \frac12 L^{-\top} E[f(\xi\xi^\top - I)] L^{-1}$, written in (dmu, dL) so that it
holds for every covariance argument. With $\varphi = \xi^{\otimes j}$ the right-hand side is a
linear combination of the moments $m_k = E[(f(x) - c)\, \xi^{\otimes k}]$, $k \le j + 2$. So the
moments $(m_0, .., m_d)$ form a `jax.custom_jvp` function of (mean, L) whose tangent is a linear
contraction of $(m_0, .., m_{d+2})$ with (a, B): every derivative, of any order, is again a
score estimate, and `grad`, `jacrev`, `jacfwd` and `hessian` all work (order k costs moments of
degree 2k, $r^{2k}$ numbers per output of f).

The baseline c is a constant: $E[(f - c)\,\cdot]$ has the same derivatives as $E[f]$ because
every derivative of $E[\varphi]$ vanishes. c is the rule's own value of Z at the current point
(deterministic rules); for random rules the same, with the moments scaled by $N/(N-1)$, which is
the leave-one-out baseline $c_{-i} = \frac{1}{N-1}\sum_{j \ne i} f(x_j)$, independent of sample
i, and so exactly unbiased for independent samples (`MonteCarlo`) at every order.

Parameters that f closes over are hoisted out of its jaxpr as explicit arguments and get pathwise
derivatives (with the baseline frozen, mixed second derivatives in them and in (mean, L) carry
an $O(1/N)$ bias under the leave-one-out baseline).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.extend.core import ClosedJaxpr, jaxpr_as_fun
from jaxtyping import Array, Float, PRNGKeyArray

from ._rules import AbstractRule
from ._rules._base import PyTree
from ._weighted_sum import as_floating, weighted_sum


def score_integral(
    f: Callable[[Float[Array, " n"]], PyTree],
    mean: Float[Array, " n"],
    factor: Float[Array, "n r"],
    rule: AbstractRule,
    *,
    key: PRNGKeyArray | None,
    batch_size: int | None,
    baseline: bool,
) -> PyTree:
    r"""$\sum_i w_i f(\mu + L\xi_i)$, differentiated in mean and factor by the score function."""
    n, r = factor.shape
    if r < n:
        raise ValueError(f"score_integral needs a factor of full row rank, got shape {(n, r)}.")
    # Everything f closes over becomes an explicit argument (jax.closure_convert would leave
    # integer tracers and keys in the closure, stale when a jvp rule is traced later, as under
    # grad(jit(...))); the same for the key and the rule's array leaves.
    closed, shapes = jax.make_jaxpr(f, return_shape=True)(mean)
    out_structure = jax.tree.structure(shapes)

    def converted(x, consts):
        flat = jaxpr_as_fun(ClosedJaxpr(closed.jaxpr, consts))(x)
        return jax.tree.unflatten(out_structure, flat)

    rule_arrays, rule_rest = eqx.partition(rule, eqx.is_array)
    num_nodes = rule.num_nodes(r)
    if baseline and rule.is_random and num_nodes > 1:
        scale = num_nodes / (num_nodes - 1)
    else:
        scale = 1.0

    def raw_moments(order, mean, factor, consts, aux):
        """(E_rule[f xi^j] for j <= order, E_rule[xi^j] for j <= order), f's leaves first."""

        def at_node(xi):
            y = jax.tree.map(
                lambda v: as_floating(v, mean.dtype), converted(mean + factor @ xi, consts)
            )
            powers = [jnp.ones((), xi.dtype)]
            for _ in range(order):
                powers.append(powers[-1][..., None] * xi)
            with_f = tuple(jax.tree.map(lambda v, p=p: _outer(v, p), y) for p in powers)
            return with_f, tuple(powers)

        key, arrays = aux
        chosen = eqx.combine(arrays, rule_rest)
        return weighted_sum(at_node, chosen, r, mean.dtype, key, batch_size)

    def moments(order: int):
        """raw_moments as a custom_jvp function of (mean, factor, consts)."""

        @jax.custom_jvp
        def moments_fn(mean, factor, consts, aux):
            return raw_moments(order, mean, factor, consts, aux)

        def moments_jvp(primals, tangents):
            mean, factor, consts, aux = primals
            dmean, dfactor, dconsts, _ = tangents
            with_f, powers = moments(order + 2)(mean, factor, consts, aux)
            out = (with_f[: order + 1], powers[: order + 1])
            dout = (
                _score_tangent(with_f, order, factor, dmean, dfactor),
                _score_tangent(powers, order, factor, dmean, dfactor),
            )
            extra = _consts_tangent(
                lambda cs: raw_moments(order, mean, factor, cs, aux), consts, dconsts
            )
            return out, _add(_cast_like(dout, out), extra)

        moments_fn.defjvp(moments_jvp, symbolic_zeros=True)
        return moments_fn

    @jax.custom_jvp
    def value(mean, factor, consts, aux):
        return raw_moments(0, mean, factor, consts, aux)[0][0]

    def value_jvp(primals, tangents):
        mean, factor, consts, aux = primals
        dmean, dfactor, dconsts, _ = tangents
        with_f, powers = moments(2)(mean, factor, consts, aux)
        z = with_f[0]
        # the baseline c is a constant (stop_gradient): E[(f - c) phi] has E[f phi]'s derivatives
        center = jax.lax.stop_gradient(z) if baseline else jax.tree.map(jnp.zeros_like, z)
        centered = tuple(
            jax.tree.map(lambda m, c, p=p: scale * (m - _outer(c, p)), m_j, center)
            for m_j, p in zip(with_f, powers, strict=True)
        )
        dz = _score_tangent(centered, 0, factor, dmean, dfactor)[0]
        extra = _consts_tangent(
            lambda cs: raw_moments(0, mean, factor, cs, aux)[0][0], consts, dconsts
        )
        return z, _add(_cast_like(dz, z), extra)

    value.defjvp(value_jvp, symbolic_zeros=True)
    return value(mean, factor, list(closed.consts), (key, rule_arrays))


def _consts_tangent(function, consts: list, dconsts: list):
    """Pathwise directional derivative of function(consts) along the closed-over values that
    move (None: none moves)."""
    moving = [i for i, t in enumerate(dconsts) if not isinstance(t, SymbolicZero)]
    if not moving:
        return None

    def of_moving(values):
        full = list(consts)
        for i, value in zip(moving, values, strict=True):
            full[i] = value
        return function(full)

    primals = [consts[i] for i in moving]
    return jax.jvp(of_moving, (primals,), ([dconsts[i] for i in moving],))[1]


def _score_tangent(moments: tuple, order: int, factor, dmean, dfactor) -> tuple:
    r"""The tangents $dm_j$, $j \le$ order, of moments $m_j = E[g\, \xi^{\otimes j}]$ (any g)
    from $m_0, .., m_{order+2}$: with $a = L^+ d\mu$, $B = L^+ dL$,

    $dm_j = m_{j+1} a + m_{j+2} : B - \mathrm{tr}(B)\, m_j - \sum_p (m_{j-1} \otimes a
    \text{ with a in slot } p) - \sum_p (B \text{ applied to slot } p \text{ of } m_j)$.
    """
    has_mean = not isinstance(dmean, SymbolicZero)
    has_factor = not isinstance(dfactor, SymbolicZero)
    if has_mean or has_factor:
        inverse = _right_inverse(factor)
    a = inverse @ dmean if has_mean else None
    B = inverse @ dfactor if has_factor else None

    def leaf_tangent(m: list, j: int) -> Array:
        ns = m[j].ndim - j  # the axes of f's output come first, then j slots of xi
        total = jnp.zeros_like(m[j])
        if a is not None:
            total = total + m[j + 1] @ a
            for p in range(j):
                total = total - jnp.moveaxis(m[j - 1][..., None] * a, -1, ns + p)
        if B is not None:
            total = total + jnp.tensordot(m[j + 2], B, axes=([-2, -1], [0, 1]))
            total = total - jnp.trace(B) * m[j]
            for p in range(j):
                applied = jnp.tensordot(m[j], B, axes=([ns + p], [1]))
                total = total - jnp.moveaxis(applied, -1, ns + p)
        return total

    structure = jax.tree.structure(moments[0])
    leaves = [jax.tree.leaves(m_j) for m_j in moments]
    return tuple(
        jax.tree.unflatten(
            structure,
            [leaf_tangent([lv[i] for lv in leaves], j) for i in range(len(leaves[0]))],
        )
        for j in range(order + 1)
    )


def _right_inverse(factor: Float[Array, "n r"]) -> Float[Array, "r n"]:
    r"""$L^{-1}$ (r = n) or $L^+ = L^\top (L L^\top)^{-1}$ (r > n), checked at run time."""
    n, r = factor.shape
    if r == n:
        inverse = jnp.linalg.inv(factor)
    else:
        inverse = jnp.linalg.solve(factor @ factor.T, factor).T
    return eqx.error_if(
        inverse,
        ~jnp.all(jnp.isfinite(inverse)),
        "estimator='score' needs an invertible covariance factor (scale_tril or cov_factor of "
        "full row rank: a Gaussian with a density), "
        "but the factor is singular. Add jitter to the covariance, or use estimator='pathwise'.",
    )


def _outer(value: Array, power: Array) -> Array:
    """value (any shape s) times xi^{(x) j} (shape (r,) * j), shape s + (r,) * j."""
    return value.reshape(value.shape + (1,) * power.ndim) * power


def _cast_like(tangent: PyTree, primal: PyTree) -> PyTree:
    return jax.tree.map(lambda t, p: t.astype(p.dtype), tangent, primal)


def _add(tangent: PyTree, extra: PyTree | None) -> PyTree:
    return tangent if extra is None else jax.tree.map(jnp.add, tangent, extra)
