r"""$\log E[e^{\ell(x)}]$ without overflow or underflow: shift by the largest $\ell$ on the nodes.

With $s = \max_i \ell(x_i)$ (a constant: no derivative flows through it),

$$\log \sum_i w_i e^{\ell(x_i)} = s + \log \sum_i w_i e^{\ell(x_i) - s},$$

and the sum on the right is an ordinary expectation of $e^{\ell - s} \le 1$, computed and
differentiated by the problem's estimator like any other. Rules with negative weights (sparse
grids, the degree-5 cubature) can make it non-positive: then there is no logarithm, and a
clear error says so.
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from ._finite import finite
from ._rules._base import PyTree
from ._runtime import check
from ._weighted_sum import reduce_nodes


class Exponentiated(eqx.Module):
    """x -> exp(log_f(x) - shift), elementwise."""

    log_f: PyTree
    shift: PyTree

    def __call__(self, x):
        return jax.tree.map(lambda v, s: jnp.exp(v - s), self.log_f(x), self.shift)


def node_maximum(problem, rules) -> PyTree:
    """The largest value of f on the nodes of any of `rules`, elementwise, held constant."""

    def summarise(points, weights):
        values = jax.vmap(problem.f)(points)
        return jax.tree.map(lambda v: jnp.max(v, axis=0), values)

    def larger(a, b):
        return jax.tree.map(jnp.maximum, a, b)

    maxima = [
        reduce_nodes(
            summarise, larger, rule, problem.dim, problem.mean.dtype, problem.key,
            problem.batch_size, at=(problem.mean, problem.factor),
        )
        for rule in rules
    ]  # fmt: skip
    return jax.lax.stop_gradient(jax.tree.map(lambda *m: jnp.max(jnp.stack(m), axis=0), *maxima))


def checked_shift(problem, shift: PyTree, rules) -> PyTree:
    """The largest log_f on the nodes, or an error where it is NaN or +inf (log_f was, at a
    node) or -inf (log_f is -inf at every node: Z is 0 there, and log Z has no derivative)."""
    shift = finite(problem, shift, rules)
    if not problem.check_finite:
        return shift
    all_minus_inf = jnp.any(jnp.stack([jnp.any(s == -jnp.inf) for s in jax.tree.leaves(shift)]))
    return check(
        shift,
        all_minus_inf,
        f"{problem.caller}: log_f is -inf at every node of the rule, so E[exp(log_f)] is 0 on "
        "them and its logarithm -inf, with no derivative. Move the mean or widen the "
        "covariance towards where log_f is finite, or pass check_finite=False to get -inf/NaN.",
    )


def exponentiated(problem, shift: PyTree):
    """The linear-space problem E[exp(log_f(x) - shift)]."""
    return problem.replace(f=Exponentiated(problem.f, shift), log_space=False)


def from_shifted(shift: PyTree, total: PyTree, caller: str) -> PyTree:
    """shift + log(total), or an error where a rule's negative weights made total <= 0 (a NaN
    total is log_f's doing, reported by the finiteness check or propagated)."""
    positive = jax.tree.leaves(jax.tree.map(lambda t: jnp.all((t > 0) | jnp.isnan(t)), total))
    total = check(
        total,
        ~jnp.all(jnp.stack(positive)),
        f"{caller}: the rule's weighted sum of exp(log_f) is not positive, so it has no "
        "logarithm: the rule has negative weights (a sparse grid or Cubature(degree=5)) that "
        "outweigh the rest here. Use a rule with positive weights (gj.GaussHermite, "
        "gj.QuasiMonteCarlo), or adapt='laplace'.",
    )
    return jax.tree.map(lambda s, t: s + jnp.log(t), shift, total)


def log_integrate(problem) -> PyTree:
    """log E[exp(f(x))] by the problem's rule and estimator, f returning the logarithm."""
    shift = checked_shift(problem, node_maximum(problem, [problem.rule]), [problem.rule])
    return from_shifted(shift, exponentiated(problem, shift).integrate(), problem.caller)
