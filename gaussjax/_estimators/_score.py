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
every derivative of $E[\varphi]$ vanishes. It is a control variate against sampling noise, so it
is subtracted for random rules only: on a deterministic rule $c \sum_i w_i s(\xi_i)$ is zero
where the rule integrates the score s exactly, and a rule error where it does not (rules on a
Laplace fit, whose weights carry a ratio of densities), never a gain. For random rules c is the
rule's own value of Z at the current point. For a rule of independent samples (`MonteCarlo`) the
moments are also scaled by $N/(N-1)$, which is the leave-one-out baseline $c_{-i} =
\frac{1}{N-1}\sum_{j \ne i} f(x_j)$, independent of sample i, and so exactly unbiased at every
order. The points of a scrambled net (`QuasiMonteCarlo`) are not independent, so there c is the
plain value: its correlation with the points enters only through $c \sum_i w_i s(\xi_i)$, whose
second factor has mean zero and is itself a QMC error, so the bias is of the order of the
product of two QMC errors.

Everything else in the problem that is an array (the values f closes over, found by tracing f
once at the boundary; a rule's traced hyperparameters) is an explicit argument of the custom_jvp
functions and gets pathwise derivatives (with the baseline frozen, mixed second derivatives in
them and in (mean, L) carry an $O(1/N)$ bias under the leave-one-out baseline).
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, Float

from .._rules import AbstractRandomRule
from .._rules._base import PyTree
from .._runtime import check
from .._weighted_sum import as_floating
from ._base import AbstractEstimator


class Score(AbstractEstimator):
    r"""The score-function (likelihood-ratio) estimator; f is never differentiated.

    With $\Sigma = L L^\top$ (L of shape (n, r), rank n) and $x = \mu + L\xi$:

    $$\frac{dZ}{d\mu} = E[(f(x) - c)\, L^{-\top}\xi], \qquad
      \frac{dZ}{d\Sigma} = \tfrac12 L^{-\top} E[(f(x) - c)(\xi\xi^\top - I)] L^{-1},$$

    computed on the rule's nodes; higher derivatives are score estimates too. The baseline c, a
    control variate, applies to random rules (deterministic rules use c = 0): the rule's own
    value of Z, and for a rule of independent samples (`MonteCarlo`) the leave-one-out mean of
    the other samples, which keeps the estimate unbiased; `baseline=False` uses c = 0.
    Parameters that f closes over get ordinary pathwise derivatives. `estimator="score"` is
    `gj.Score()`.

    Args:
        baseline: subtract the baseline c (True) or not (False).

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> step = lambda x: (x[0] > 0.0).astype(x.dtype)    # E = Phi(mu), dE/dmu = phi(mu)
        >>> grad = jax.grad(lambda m: gj.expectation(step, m, jnp.eye(1), estimator="score",
        ...                                          rule=gj.GaussHermite(order=30)))
        >>> round(float(grad(jnp.zeros(1))[0]), 2)           # 1 / sqrt(2 pi) = 0.3989...
        0.4
    """

    baseline: bool = eqx.field(default=True, static=True)

    def check(self, problem) -> None:
        r"""The score estimator needs a density: a factor with at least as many columns as rows;
        and its baseline, for a rule of independent samples, at least two samples.

        For `cov_factor` L of shape (n, r), r < n, x lies on the affine subspace
        $\mu + $ range(L). The score estimator sees f only there: it estimates the derivatives
        along $d\mu = L a$, $dL = L B$, but not the ones that move the subspace, which depend
        on f off it, where the Gaussian has no mass and no likelihood ratio exists. So that no
        partial gradient is returned as if whole, this is an error.
        """
        rule = problem.rule
        if (
            self.baseline
            and isinstance(rule, AbstractRandomRule)
            and rule.has_independent_samples(problem.dim)
            and rule.num_nodes(problem.dim) < 2
        ):
            raise problem.error(
                f"estimator='score' with {rule}: the baseline of a rule of independent samples "
                "is the mean of the other samples, and one sample has none. Pass "
                "num_samples >= 2, or estimator=gj.Score(baseline=False)."
            )
        n, r = problem.factor.shape
        if r < n:
            raise problem.error(
                f"estimator='score' needs a Gaussian with a density on R^{n}, but cov_factor has "
                f"shape ({n}, {r}) with rank at most {r} < {n}: derivatives that move the "
                "subspace mean + range(cov_factor) depend on f off it, which no likelihood "
                "ratio sees. Pass cov=cov_factor @ cov_factor.T + eps * I (a density), or, for "
                "the derivatives within the subspace, differentiate in (a, B) of "
                "gj.expectation(lambda z: f(mean + cov_factor @ z), a, scale_tril=I + B) with z "
                f"in R^{r}, or use estimator='pathwise' for a differentiable f."
            )

    def integrate(self, problem) -> PyTree:
        rule, num_nodes = problem.rule, problem.rule.num_nodes(problem.dim)
        independent = isinstance(rule, AbstractRandomRule) and rule.has_independent_samples(
            problem.dim
        )
        baseline = self.baseline and isinstance(rule, AbstractRandomRule)
        scale = num_nodes / (num_nodes - 1) if baseline and independent else 1.0
        mean, factor, others, static = _split(problem)
        return _value(static, baseline, scale, mean, factor, others)


def _split(problem):
    """(mean, factor, the problem's other arrays, everything that is not an array)."""
    without = problem.replace(mean=None, factor=None)
    others, static = eqx.partition(without, eqx.is_array)
    return problem.mean, problem.factor, others, static


def _raw_moments(order: int, static, mean, factor, others) -> tuple[tuple, tuple]:
    """(E_rule[f xi^j] for j <= order, E_rule[xi^j] for j <= order), f's output axes first."""
    problem = eqx.combine(others, static).replace(mean=mean, factor=factor)

    def at_node(xi):
        y = jax.tree.map(lambda v: as_floating(v, mean.dtype), problem.f(mean + factor @ xi))
        powers = [jnp.ones((), xi.dtype)]
        for _ in range(order):
            powers.append(powers[-1][..., None] * xi)
        with_f = tuple(jax.tree.map(lambda v, p=p: _outer(v, p), y) for p in powers)
        return with_f, tuple(powers)

    return problem.weighted_sum(at_node)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _moments(order: int, static, mean, factor, others) -> tuple[tuple, tuple]:
    """_raw_moments as a custom_jvp function of (mean, factor, others)."""
    return _raw_moments(order, static, mean, factor, others)


def _moments_jvp(order: int, static, primals, tangents):
    mean, factor, others = primals
    dmean, dfactor, dothers = tangents
    with_f, powers = _moments(order + 2, static, mean, factor, others)
    out = (with_f[: order + 1], powers[: order + 1])
    dout = (
        _score_tangent(with_f, order, factor, dmean, dfactor, static.caller),
        _score_tangent(powers, order, factor, dmean, dfactor, static.caller),
    )
    extra = _others_tangent(lambda o: _raw_moments(order, static, mean, factor, o), others, dothers)
    return out, _add(_cast_like(dout, out), extra)


_moments.defjvp(_moments_jvp, symbolic_zeros=True)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _value(static, baseline: bool, scale: float, mean, factor, others) -> PyTree:
    """E_rule[f] as a custom_jvp function of (mean, factor, others): score tangents."""
    return _raw_moments(0, static, mean, factor, others)[0][0]


def _value_jvp(static, baseline: bool, scale: float, primals, tangents):
    mean, factor, others = primals
    dmean, dfactor, dothers = tangents
    with_f, powers = _moments(2, static, mean, factor, others)
    z = with_f[0]
    # the baseline c is a constant (stop_gradient): E[(f - c) phi] has E[f phi]'s derivatives
    center = jax.lax.stop_gradient(z) if baseline else jax.tree.map(jnp.zeros_like, z)
    centered = tuple(
        jax.tree.map(lambda m, c, p=p: scale * (m - _outer(c, p)), m_j, center)
        for m_j, p in zip(with_f, powers, strict=True)
    )
    dz = _score_tangent(centered, 0, factor, dmean, dfactor, static.caller)[0]
    extra = _others_tangent(
        lambda o: _raw_moments(0, static, mean, factor, o)[0][0], others, dothers
    )
    return z, _add(_cast_like(dz, z), extra)


_value.defjvp(_value_jvp, symbolic_zeros=True)


def _others_tangent(function, others, dothers):
    """Pathwise directional derivative of function(others) along the leaves of others that move
    (None: none moves)."""
    leaves, structure = jax.tree.flatten(others)
    tangents = jax.tree.leaves(dothers, is_leaf=lambda t: isinstance(t, SymbolicZero))
    moving = [i for i, t in enumerate(tangents) if not isinstance(t, SymbolicZero)]
    if not moving:
        return None

    def of_moving(values):
        full = list(leaves)
        for i, value in zip(moving, values, strict=True):
            full[i] = value
        return function(jax.tree.unflatten(structure, full))

    primals = [leaves[i] for i in moving]
    return jax.jvp(of_moving, (primals,), ([tangents[i] for i in moving],))[1]


def _score_tangent(moments: tuple, order: int, factor, dmean, dfactor, caller: str) -> tuple:
    r"""The tangents $dm_j$, $j \le$ order, of moments $m_j = E[g\, \xi^{\otimes j}]$ (any g)
    from $m_0, .., m_{order+2}$: with $a = L^+ d\mu$, $B = L^+ dL$,

    $dm_j = m_{j+1} a + m_{j+2} : B - \mathrm{tr}(B)\, m_j - \sum_p (m_{j-1} \otimes a
    \text{ with a in slot } p) - \sum_p (B \text{ applied to slot } p \text{ of } m_j)$.
    """
    has_mean = not isinstance(dmean, SymbolicZero)
    has_factor = not isinstance(dfactor, SymbolicZero)
    if has_mean or has_factor:
        inverse = _right_inverse(factor, caller)
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


def _right_inverse(factor: Float[Array, "n r"], caller: str) -> Float[Array, "r n"]:
    r"""$L^{-1}$ (r = n) or $L^+ = L^\top (L L^\top)^{-1}$ (r > n), checked at run time."""
    n, r = factor.shape
    if r == n:
        inverse = jnp.linalg.inv(factor)
    else:
        inverse = jnp.linalg.solve(factor @ factor.T, factor).T
    return check(
        inverse,
        ~jnp.isfinite(inverse),
        f"{caller}: estimator='score' needs an invertible covariance factor (scale_tril or "
        "cov_factor of full row rank: a Gaussian with a density), but the factor is singular. "
        "Add jitter to the covariance, or use estimator='pathwise'.",
    )


def _outer(value: Array, power: Array) -> Array:
    """value (any shape s) times xi^{(x) j} (shape (r,) * j), shape s + (r,) * j."""
    return value.reshape(value.shape + (1,) * power.ndim) * power


def _cast_like(tangent: PyTree, primal: PyTree) -> PyTree:
    return jax.tree.map(lambda t, p: t.astype(p.dtype), tangent, primal)


def _add(tangent: PyTree, extra: PyTree | None) -> PyTree:
    return tangent if extra is None else jax.tree.map(jnp.add, tangent, extra)
