r"""f's values must be finite: a NaN or inf from f at one node makes $\sum_i w_i f(x_i)$ NaN or
inf, so the result is checked, and an error names f (and, where values are known, a node).

`check_finite=False` on every entry point turns this off, for users who want NaN and inf to
propagate as IEEE arithmetic does. The checks on mean and covariance stay on.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._find_projection import Lifted
from ._rules import AbstractDeterministicRule, AbstractRule
from ._rules._base import PyTree
from ._rules._rotated import references
from ._runtime import check, concrete

SEARCH_CHUNK = 2**14
"""When a node is looked for (eagerly, after a failure), f runs on this many nodes at a time."""
SEARCH_LIMIT = 2**22
"""... over at most this many nodes of each rule."""


def not_finite(value: PyTree, log_space: bool) -> jax.Array:
    """Whether any leaf of value is NaN or inf (in log space: NaN or +inf; -inf is log 0)."""
    flags = [jnp.any(_bad(v, log_space)) for v in jax.tree.leaves(value)]
    return jnp.any(jnp.stack(flags)) if flags else jnp.asarray(False)


def _bad(values: jax.Array, log_space: bool) -> jax.Array:
    """Elementwise: NaN or inf (in log space NaN or +inf)."""
    if log_space:
        return jnp.isnan(values) | (values == jnp.inf)
    return ~jnp.isfinite(values)


def message(problem) -> str:
    """What a non-finite result means, and what to do."""
    name = "log_f" if problem.log_space else "f"
    bad = "NaN or +inf" if problem.log_space else "NaN or inf"
    return (
        f"{problem.caller}: {name} returned {bad} at one or more of the rule's nodes (or the "
        f"weighted sum of its values overflowed), so the result would be {bad}. Make {name} "
        "finite wherever the Gaussian puts mass (the nodes spread several standard deviations "
        "from the mean), or pass check_finite=False to let NaN and inf propagate."
    )


def finite(problem, value: PyTree, rules: "list[AbstractRule] | None" = None, also=False) -> PyTree:
    """value, or an error where it is not finite (or where `also` holds: another sign that f
    was not). Where values are known, the message names a node at which f is not finite, found
    among `rules` (default: the problem's rule)."""
    if not problem.check_finite:
        return value
    rules = [problem.rule] if rules is None else rules
    return check(
        value,
        not_finite(value, problem.log_space) | also,
        message(problem),
        detail=lambda: _where(problem, rules),
    )


def finite_estimate(problem, estimate):
    """An estimate whose value is finite and whose error is not NaN (inf is an honest "no
    estimate"), or an error naming f; the nodes looked at are the rule's and its reference's."""
    if not problem.check_finite:
        return estimate
    rule = problem.rule
    others = references(rule, problem.dim) if isinstance(rule, AbstractDeterministicRule) else []
    nan_error = jnp.any(jnp.stack([jnp.any(jnp.isnan(e)) for e in jax.tree.leaves(estimate.error)]))
    value = finite(problem, estimate.value, [rule, *others], also=nan_error)
    return dataclasses.replace(estimate, value=value)


def closed_form_finite(problem, value: PyTree) -> PyTree:
    """A closed form's value, or an error where it overflowed (inputs are finite by then)."""
    if not problem.check_finite:
        return value
    return check(
        value,
        not_finite(value, False),
        f"{problem.caller}: the closed form of {type(problem.f).__name__} is NaN or inf for "
        "this mean and covariance (it overflows): rescale f, or pass check_finite=False.",
    )


def _where(problem, rules) -> str:
    """' At node i of <rule>, x = [...], f(x) = ...' for the first node where f is not finite,
    or '' where none is found (or the values are not known)."""
    arrays, static = eqx.partition(problem, eqx.is_array)
    leaves, structure = jax.tree.flatten(arrays)
    values = [concrete(leaf) for leaf in leaves]
    if any(v is None for v in values):
        return ""
    problem = eqx.combine(jax.tree.unflatten(structure, values), static)
    for rule in rules:
        if rule is None:
            continue
        found = _first_bad_node(problem, rule)
        if found is not None:
            index, point, fx = found
            name = "log_f" if problem.log_space else "f"
            return (
                f" First found at node {index} of {rule}: {name}(x) = {fx} at "
                f"x = {np.array2string(point, precision=6, separator=', ')}."
            )
    return ""


def _first_bad_node(problem, rule):
    dim, dtype = problem.dim, problem.mean.dtype
    num_nodes = rule.num_nodes(dim)
    size = rule.chunk_size(dim, SEARCH_CHUNK)

    def chunk(number):
        nodes, _ = rule.chunk(number, size, dim, dtype, problem.key)
        points = jax.vmap(lambda xi: problem.mean + problem.factor @ xi)(nodes)
        values = jax.vmap(problem.f)(points)
        flat = [jnp.reshape(v, (size, -1)) for v in jax.tree.leaves(values)]
        values = jnp.concatenate([v.astype(dtype) for v in flat], axis=1)
        return jnp.any(_bad(values, problem.log_space), axis=1), points, values

    chunk = jax.jit(chunk)
    for number in range(-(-min(num_nodes, SEARCH_LIMIT) // size)):
        bad, points, values = (np.array(a) for a in chunk(jnp.asarray(number, jnp.int32)))
        bad[max(0, num_nodes - number * size) :] = False  # past the last node: padding
        if bad.any():
            i = int(np.argmax(bad))
            point = points[i]
            if isinstance(problem.f, Lifted):  # f of x, seen as a function of y = B^T x
                point = np.asarray(problem.f.basis) @ point
            shown = values[i][0] if values.shape[1] == 1 else values[i]
            return number * size + i, point, shown
    return None
