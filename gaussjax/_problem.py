"""The boundary: every entry point turns its arguments into one validated `Problem`, here.

Everything inward (estimators, error estimates, the weighted sum) takes a `Problem` and checks
nothing again. The name of the entry point the user called travels in the problem, so that an
error raised later (a run-time check, a gradient traced after the call returned) still names it.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.extend.core import ClosedJaxpr, jaxpr_as_fun
from jaxtyping import Array, Float, PRNGKeyArray

from ._covariance import mean_and_factor
from ._default_rule import default_rule
from ._estimators import AbstractEstimator, resolve_estimator
from ._progress import AbstractProgress, resolve_progress
from ._rules import AbstractRandomRule, AbstractRule, Replicate
from ._rules._base import PyTree
from ._weighted_sum import MAX_NODES, MAX_NODES_UNBATCHED, weighted_sum


class Integrand(eqx.Module):
    """f as data: its program, traced once at the boundary, and the values it closes over.

    The closed-over values (a network's weights, a key, anything f captured) are pytree leaves,
    so they can be passed to `jax.custom_jvp` functions explicitly and differentiated; the
    program is evaluated without calling the user's Python function again.
    """

    program: object = eqx.field(static=True)
    consts: list
    out_structure: object = eqx.field(static=True)

    def __call__(self, x: Float[Array, " n"]) -> PyTree:
        flat = jaxpr_as_fun(ClosedJaxpr(self.program, self.consts))(x)
        return jax.tree.unflatten(self.out_structure, flat)


class Problem(eqx.Module):
    r"""A validated expectation $E[f(x)]$, $x = \mu + L\xi$, $\xi \sim N(0, I_r)$, and how to
    compute it: what an estimator receives.

    Attributes:
        f: the integrand, a callable pytree mapping x of shape (n,) to a pytree of arrays.
        mean: $\mu$, shape (n,), floating.
        factor: L, shape (n, r), with $\Sigma = L L^\top$.
        rule: the rule on $N(0, I_r)$.
        estimator: how derivatives flow back (`gj.Pathwise()`, `gj.Score()`, ...).
        key: the key of a random rule (None for a deterministic one).
        batch_size: nodes per chunk (None: all at once).
        caller: the public function the user called, for error messages.
        progress: where to report each pass over the chunks (`gj.AbstractProgress`), or None.

    Built by every entry point from its arguments; estimators (`gj.AbstractEstimator`) receive
    it.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> class Show(gj.AbstractEstimator):
        ...     def integrate(self, problem):
        ...         print(problem.caller, problem.factor.shape, problem.rule)
        ...         return gj.Pathwise().integrate(problem)
        >>> z = gj.expectation(jnp.sum, jnp.zeros(3), cov_diag=jnp.ones(3), estimator=Show())
        gj.expectation (3, 3) GaussHermite(order=12)
    """

    f: Callable
    mean: Float[Array, " n"]
    factor: Float[Array, "n r"]
    rule: AbstractRule
    estimator: AbstractEstimator
    key: PRNGKeyArray | None
    batch_size: int | None = eqx.field(static=True)
    caller: str = eqx.field(static=True)
    progress: AbstractProgress | None = eqx.field(static=True, default=None)

    @property
    def dim(self) -> int:
        """r, the dimension the rule runs in."""
        return self.factor.shape[1]

    def weighted_sum(self, g: Callable[[Float[Array, " r"]], PyTree]) -> PyTree:
        r"""$\sum_i w_i\, g(\xi_i)$ over the rule's nodes, chunked by `batch_size`; one pass
        reported to `progress` (forward, and backward when differentiated in reverse mode)."""
        progress = None if self.progress is None else (self.progress, self.description)
        return weighted_sum(
            g, self.rule, self.dim, self.mean.dtype, self.key, self.batch_size, progress
        )

    @property
    def description(self) -> str:
        """The public function called and the rule, e.g. "gj.expectation GaussHermite(order=8)"
        (for one of a random rule's replicates, evaluated together by `gj.estimate`, the rule)."""
        rule = self.rule.rule if isinstance(self.rule, Replicate) else self.rule
        return f"{self.caller} {rule}"

    def integrate(self) -> PyTree:
        """E[f(x)] by the rule, differentiable as the estimator says."""
        return self.estimator.integrate(self)

    def replace(self, **changes) -> "Problem":
        """The same problem with some attributes replaced (e.g. another rule or key)."""
        names = tuple(changes)
        return eqx.tree_at(
            lambda p: tuple(getattr(p, name) for name in names),
            self,
            tuple(changes.values()),
            is_leaf=lambda x: x is None,
        )

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
    progress=None,
    scalar: bool = False,
) -> Problem:
    """Validate an entry point's arguments once and return the `Problem` they describe.

    `covariance` maps each covariance keyword (cov, scale_tril, cov_factor, cov_diag) to its
    value or None; `progress` is None / False / True / a `gj.AbstractProgress`; `scalar`
    requires f to return a scalar (for gradients and chain rules).
    """
    mean, factor = mean_and_factor(mean, covariance, caller)
    integrand = _trace_integrand(f, mean, caller, scalar)
    dim = factor.shape[1]
    if rule is None:
        rule = default_rule(dim)
    elif not isinstance(rule, AbstractRule):
        raise TypeError(
            f"{caller}: rule must be a gaussjax rule such as gj.GaussHermite(order=10), "
            f"got {type(rule).__name__}."
        )
    if isinstance(rule, AbstractRandomRule) and key is None:
        raise ValueError(
            f"{caller}: {type(rule).__name__} is a random rule and needs a key: pass "
            "key=jax.random.key(0) (any seed)."
        )
    _check_sizes(rule, dim, batch_size, caller)
    problem = Problem(
        f=integrand,
        mean=mean,
        factor=factor,
        rule=rule,
        estimator=resolve_estimator(estimator, caller),
        key=key if isinstance(rule, AbstractRandomRule) else None,
        batch_size=batch_size,
        caller=caller,
        progress=resolve_progress(progress, caller),
    )
    problem.estimator.check(problem)
    return problem


def _trace_integrand(f, mean: Float[Array, " n"], caller: str, scalar: bool) -> Integrand:
    """f traced once on a point shaped like mean: a callable pytree, or a clear error."""
    if not callable(f):
        raise TypeError(f"{caller}: f must be a callable x -> f(x), got {type(f).__name__}.")
    point = jax.ShapeDtypeStruct(mean.shape, mean.dtype)
    try:
        closed, shapes = jax.make_jaxpr(f, return_shape=True)(point)
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
    if scalar and not (isinstance(shapes, jax.ShapeDtypeStruct) and shapes.shape == ()):
        raise TypeError(
            f"{caller}: f must return a scalar (a gradient in mean and covariance needs one); "
            f"it returned {jax.tree.map(lambda s: s.shape, shapes)}. Reduce it, or apply "
            "jax.jacrev to gj.expectation."
        )
    return Integrand(closed.jaxpr, list(closed.consts), jax.tree.structure(shapes))


def _is_numeric(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.number) or dtype == jnp.bool_


def _check_sizes(rule: AbstractRule, dim: int, batch_size, caller: str) -> None:
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise ValueError(
            f"{caller}: batch_size must be a positive int or None, got {batch_size!r}."
        )
    num_nodes = rule.num_nodes(dim)
    if num_nodes > MAX_NODES:
        raise ValueError(
            f"{caller}: {rule} needs {num_nodes:.3g} nodes in {dim} dimensions, more than the "
            f"limit of {MAX_NODES} (2^31 - 1). Use a rule whose cost grows gently with the "
            "dimension, e.g. gj.MonteCarlo(num_samples=...), or a lower order."
        )
    if batch_size is None and num_nodes > MAX_NODES_UNBATCHED:
        raise ValueError(
            f"{caller}: {rule} needs {num_nodes} nodes in {dim} dimensions, more than "
            f"{MAX_NODES_UNBATCHED} evaluated at once. Pass batch_size=65536 (say) to evaluate "
            "them in chunks in bounded memory, or choose a rule with fewer nodes."
        )
