"""The boundary: every entry point turns its arguments into one validated `Problem`, here.

Everything inward (estimators, error estimates, the weighted sum) takes a `Problem` and checks
nothing again. The name of the entry point the user called travels in the problem, so that an
error raised later (a run-time check, a gradient traced after the call returned) still names it.
"""

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._covariance import mean_and_factor
from ._default_rule import default_rule
from ._estimators import AbstractEstimator, resolve_estimator
from ._find_projection import Lifted, find_projection
from ._integrand import Integrand, equations, trace
from ._laplace import Laplace, resolve_adapt
from ._log_space import log_integrate
from ._progress import AbstractProgress, resolve_progress
from ._projection import check_projection, project, projected_dim
from ._rules import AbstractDeterministicRule, AbstractRandomRule, AbstractRule, Replicate
from ._rules._base import PyTree
from ._tolerance import Tolerance, resolve_tolerance
from ._weighted_sum import MAX_NODES, weighted_sum
from .integrands import AbstractIntegrand


class Problem(eqx.Module):
    r"""A validated expectation $E[f(x)]$, $x = \mu + L\xi$, $\xi \sim N(0, I_r)$, and how to
    compute it: what an estimator receives.

    Attributes:
        f: the integrand, a callable pytree mapping x of shape (n,) (with a projection, y of
            shape (k,)) to a pytree of arrays.
        mean: $\mu$, shape (n,), floating.
        factor: L, shape (n, r), with $\Sigma = L L^\top$.
        rule: the rule on $N(0, I_d)$, d = `dim` (None before a tolerance-driven call has
            chosen one).
        estimator: how derivatives flow back (`gj.Pathwise()`, `gj.Score()`, ...).
        key: the key of a random rule (None for a deterministic one).
        batch_size: nodes per chunk (None: all at once).
        caller: the public function the user called, for error messages.
        adapt: `gj.Laplace(...)` to place the rule on the Laplace fit first, or None.
        tolerance: `Tolerance` to refine the rule until its error estimate meets it, or None.
        log_space: whether f returns $\log$ of the integrand (`gj.log_expectation`).
        projection: W of shape (n, k) when f is a function of $y = W^\top x$ (given, or found
            in f's program), else None.
        exact: whether f is a `gj.integrands` integrand whose closed form is used.
        progress: where to report each pass over the chunks (`gj.AbstractProgress`), or None.
        check_finite: whether a NaN or inf from f is an error (True) or propagates (False).

    Built by every entry point from its arguments. `integrate()` first applies the projection
    stage (`mean` becomes $W^\top\mu$, `factor` a k-column factor of $W^\top\Sigma W$), so
    estimators (`gj.AbstractEstimator`) receive the problem in the dimension the rule runs in.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> class Show(gj.AbstractEstimator):
        ...     def integrate(self, problem):
        ...         print(problem.caller, problem.factor.shape, problem.rule)
        ...         return gj.Pathwise().integrate(problem)
        >>> z = gj.expectation(jnp.sum, jnp.zeros(3), cov_diag=jnp.ones(3), estimator=Show(),
        ...                    rule=gj.GaussHermite(order=5))
        gj.expectation (3, 3) GaussHermite(order=5)
    """

    f: Callable
    mean: Float[Array, " n"]
    factor: Float[Array, "n r"]
    rule: AbstractRule | None
    estimator: AbstractEstimator
    key: PRNGKeyArray | None
    batch_size: int | None = eqx.field(static=True)
    caller: str = eqx.field(static=True)
    adapt: Laplace | None = None
    tolerance: Tolerance | None = None
    log_space: bool = eqx.field(static=True, default=False)
    projection: Float[Array, "n k"] | None = None
    exact: bool = eqx.field(static=True, default=False)
    progress: AbstractProgress | None = eqx.field(static=True, default=None)
    check_finite: bool = eqx.field(static=True, default=True)

    @property
    def dim(self) -> int:
        """The dimension the rule runs in: r, or min(k, r) with a projection of k columns."""
        return projected_dim(self.factor.shape, self.projection)

    def weighted_sum(self, g: Callable[[Float[Array, " r"]], PyTree], at=None) -> PyTree:
        r"""$\sum_i w_i\, g(\xi_i)$ over the rule's nodes, chunked by `batch_size`; one pass
        reported to `progress` (forward, and backward when differentiated in reverse mode).

        With `at` = (shift, factor), $\sum_i w_i\, g(\mathrm{shift} + \mathrm{factor}\,\xi_i)$:
        the same sum, with the points made by the rule (a tensor grid makes them without a
        matrix product). `at=(problem.mean, problem.factor)` sums g(x) over the points x."""
        progress = None if self.progress is None else (self.progress, self.description)
        return weighted_sum(
            g, self.rule, self.dim, self.mean.dtype, self.key, self.batch_size, progress, at
        )

    @property
    def description(self) -> str:
        """The public function called and the rule, e.g. "gj.expectation GaussHermite(order=8)"
        (for one of a random rule's replicates, evaluated together by `gj.estimate`, the rule)."""
        rule = self.rule.rule if isinstance(self.rule, Replicate) else self.rule
        return f"{self.caller} {rule}"

    def integrate(self) -> PyTree:
        """E[f(x)] by the rule (log E[exp(f(x))] in log space), differentiable as the estimator
        says. No stage (adaptation, tolerance) is applied here: see `_pipeline.py`."""
        if self.log_space:
            return log_integrate(self)
        return self.estimator.integrate(self)

    def replace(self, **changes) -> "Problem":
        """The same problem with some attributes replaced (e.g. another rule or key)."""
        return dataclasses.replace(self, **changes)

    def error(self, message: str, kind: type = ValueError) -> Exception:
        """An exception whose message starts with the public function the user called."""
        return kind(f"{self.caller}: {message}")


def resolve(
    caller: str,
    f,
    mean,
    covariance: dict,
    *,
    rule,
    estimator,
    key,
    batch_size,
    adapt=None,
    rtol=None,
    atol=None,
    max_evaluations=None,
    exact: bool = True,
    projection="auto",
    progress=None,
    check_finite: bool = True,
    scalar: bool = False,
    log_space: bool = False,
    fixed_rule: bool = False,
) -> Problem:
    """Validate an entry point's arguments once and return the `Problem` they describe.

    `covariance` maps each covariance keyword (cov, scale_tril, cov_factor, cov_diag) to its
    value or None; `scalar` requires f to return a scalar (for gradients and chain rules);
    `log_space` says f returns a logarithm; `fixed_rule` gives a call without `rule` the
    default rule instead of a tolerance. `projection` is W (f a function of W^T x), None, or
    "auto" (look for W in f's program when the call chooses its rule). `progress` is None /
    False / True / a `gj.AbstractProgress`.
    """
    mean, factor = mean_and_factor(mean, covariance, caller)
    for name, flag in (("exact", exact), ("check_finite", check_finite)):
        if not isinstance(flag, bool):
            raise TypeError(f"{caller}: {name} must be True or False, got {flag!r}.")
    W = check_projection(projection, mean, caller)
    point = jax.ShapeDtypeStruct(mean.shape if W is None else W.shape[1:], mean.dtype)
    adapt = resolve_adapt(adapt, caller)
    exact = exact and isinstance(f, AbstractIntegrand) and not log_space
    if exact:
        _check_integrand(f, point, caller)
        integrand = f
    else:
        integrand = _trace_integrand(f, point, caller, scalar or isinstance(adapt, Laplace))
        if isinstance(projection, str) and rule is None:  # "auto", and we choose the rule
            basis = find_projection(integrand.program, integrand.consts, mean.dtype)
            if basis is not None and basis.shape[1] < factor.shape[1]:
                integrand, W = Lifted(integrand, basis), basis
    dim = projected_dim(factor.shape, W)
    if rule is None and fixed_rule:
        rule = default_rule(dim)
    if rule is not None and not isinstance(rule, AbstractRule):
        raise TypeError(
            f"{caller}: rule must be a gaussjax rule such as gj.GaussHermite(order=10), "
            f"got {type(rule).__name__}."
        )
    if isinstance(rule, AbstractRandomRule) and key is None:
        raise ValueError(
            f"{caller}: {type(rule).__name__} is a random rule and needs a key: pass "
            "key=jax.random.key(0) (any seed)."
        )
    key = _check_key(key, caller)
    batch_size = _check_batch_size(batch_size, caller)
    if rule is not None:
        check_sizes(rule, dim, caller)
        rule = rule.checked(dim, caller)
    tolerance = resolve_tolerance(rule, rtol, atol, max_evaluations, adapt, mean.dtype, caller)
    if exact:  # a closed form needs no rule, tolerance or adaptation
        tolerance, adapt = None, None
    problem = Problem(
        f=integrand,
        mean=mean,
        factor=factor,
        rule=rule,
        estimator=resolve_estimator(estimator, caller),
        key=None if isinstance(rule, AbstractDeterministicRule) else key,
        batch_size=batch_size,
        caller=caller,
        adapt=adapt if isinstance(adapt, Laplace) else None,
        tolerance=tolerance,
        log_space=log_space,
        projection=W,
        exact=exact,
        progress=resolve_progress(progress, caller),
        check_finite=check_finite,
    )
    if not exact:
        problem.estimator.check(project(problem))
    return problem


def _check_integrand(f: AbstractIntegrand, point: jax.ShapeDtypeStruct, caller: str) -> None:
    if f.dim != point.shape[0]:
        raise ValueError(
            f"{caller}: the integrand {type(f).__name__} takes points of length {f.dim}, but the "
            f"Gaussian (after any projection) has dimension {point.shape[0]}."
        )


def _trace_integrand(f, mean: jax.ShapeDtypeStruct, caller: str, scalar: bool) -> Integrand:
    """f traced once on a point shaped like mean: a callable pytree, or a clear error."""
    if not callable(f):
        raise TypeError(f"{caller}: f must be a callable x -> f(x), got {type(f).__name__}.")
    point = jax.ShapeDtypeStruct(mean.shape, mean.dtype)
    try:
        integrand, shapes = trace(f, point)
    except TypeError as error:
        if "not a valid JAX type" not in str(error):
            raise
        raise TypeError(
            f"{caller}: f must return an array or a pytree of arrays for a point x of shape "
            f"{mean.shape}; it returned something else ({error})."
        ) from error
    leaves = jax.tree.leaves(shapes)
    if not leaves or not all(_is_numeric(leaf.dtype) for leaf in leaves):
        raise TypeError(
            f"{caller}: f must return a number, an array or a pytree of numeric arrays for a "
            f"point x of shape {mean.shape}; it returned {shapes}."
        )
    if _unbatchable_callback(integrand.program):
        raise ValueError(
            f"{caller}: f calls jax.pure_callback without vmap_method, but gaussjax evaluates f "
            "on many nodes at once with jax.vmap, which needs one. Pass "
            'vmap_method="expand_dims" to jax.pure_callback (the callback then receives a '
            'leading batch axis of nodes) or vmap_method="sequential" (one call per node).'
        )
    if scalar and not (isinstance(shapes, jax.ShapeDtypeStruct) and shapes.shape == ()):
        raise TypeError(
            f"{caller}: f must return a scalar (a gradient in mean and covariance needs one); "
            f"it returned {jax.tree.map(lambda s: s.shape, shapes)}. Reduce it, or apply "
            "jax.jacrev to gj.expectation."
        )
    return integrand


def _unbatchable_callback(jaxpr) -> bool:
    """Whether the program calls `jax.pure_callback` without a `vmap_method` (so that it cannot
    be batched), here or in any program nested in it."""
    return any(
        e.primitive.name == "pure_callback" and e.params.get("vmap_method") is None
        for e in equations(jaxpr)
    )


def _is_numeric(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.number) or dtype == jnp.bool_


def _check_batch_size(batch_size, caller: str) -> int | None:
    """batch_size as a Python int (a NumPy integer is accepted), or None, or a clear error."""
    if batch_size is None:
        return None
    if (
        not isinstance(batch_size, (int, np.integer))
        or isinstance(batch_size, (bool, np.bool_))
        or batch_size < 1
    ):
        raise ValueError(
            f"{caller}: batch_size must be a positive int or None, got {batch_size!r} (it "
            "decides the shapes of the compiled program, so it cannot be a traced array)."
        )
    return int(batch_size)


def _check_key(key, caller: str):
    """A single JAX random key (typed, or a legacy uint32 key of shape (2,)), or None, or a
    clear error."""
    if key is None:
        return None
    shape = getattr(key, "shape", None)
    dtype = getattr(key, "dtype", None)
    if shape is not None and dtype is not None:
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            if shape == ():
                return key
            raise ValueError(
                f"{caller}: key must be a single key, got an array of keys of shape {shape}. "
                "Pass one of them, or jax.vmap the call over the keys."
            )
        if dtype == jnp.uint32 and shape == (2,):  # a legacy jax.random.PRNGKey(seed)
            return key
    raise TypeError(
        f"{caller}: key must be a JAX random key, got {key!r} of type {type(key).__name__}. "
        "Pass key=jax.random.key(seed) with an int seed, e.g. key=jax.random.key(0)."
    )


def check_sizes(rule: AbstractRule, dim: int, caller: str) -> None:
    """A rule that fits: at most 2^31 - 1 nodes."""
    num_nodes = rule.num_nodes(dim)
    if num_nodes > MAX_NODES:
        raise ValueError(
            f"{caller}: {rule} needs {num_nodes:.3g} nodes in {dim} dimensions, more than the "
            f"limit of {MAX_NODES} (2^31 - 1). Use a rule whose cost grows gently with the "
            "dimension, e.g. gj.MonteCarlo(num_samples=...), or a lower order."
        )
