"""Error estimates, computed one way from what each rule declares about itself.

A deterministic rule names a reference rule (`error_reference()`): the error indicator is the
largest of the differences from it and from the rule turned by fixed rotations, each widened
by a measured factor (`_rotated.py`).
A random rule comes in independent replicates (`num_replicates`): the error is the standard
error of their mean. The same two functions serve `gj.estimate`
(values) and `gj.estimate_grad` (gradients); no rule ever sees f.
"""

import dataclasses
import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._log_space import checked_shift, exponentiated, from_shifted, node_maximum
from ._problem import Problem
from ._rules import AbstractDeterministicRule, AbstractRule, Replicate
from ._rules._base import PyTree
from ._rules._rotated import references, widened_references


class Estimate(eqx.Module):
    """A value with an error estimate, each a pytree shaped like f(x).

    Attributes:
        value: the rule's approximation of E[f(x)] (or of its gradient).
        error: for a random rule, the standard error; for a deterministic rule, the largest
            absolute difference from its reference rule (coarser, times 2; or for the degree-3
            rules the degree-5 cubature, times 3) and, from two dimensions, from the rule turned
            by two fixed rotations (times 3): an error indicator, usually an over-estimate of
            the rule's error, not a bound (docs/errors.md). With a tolerance (rtol=, atol=, or no
            rule), the error of the rule chosen: its difference from the previous rule of its
            family, or three standard errors of a random rule. Exactly 0 where `exact`.
        evaluations: how many times f was evaluated for it (None where not counted).
        dim: the dimension the rule ran in: n, the rank r of `cov_factor`, or k < n after a
            projection (`projection=W`, or found in f's program). None where `exact`.
        exact: True where the value is a closed form (f a `gj.integrands` integrand): no rule
            ran, and the error is 0.
    """

    value: PyTree
    error: PyTree
    evaluations: Array | None = None
    dim: int | None = eqx.field(static=True, default=None)
    exact: bool = eqx.field(static=True, default=False)


def against_reference(evaluate: Callable[[AbstractRule], PyTree], rule, dim: int) -> Estimate:
    r"""evaluate(rule), with $\max_k c_k |$evaluate(rule) - evaluate(reference$_k$)$|$ over
    `widened_references(rule, dim)` as its error (inf where the rule names no reference).

    The coarser reference alone under-reports on f with kinks and jumps, where both rules can
    put their nodes on the same side of a jump (issue 11: the actual error up to 1e15 times the
    reported one); the turned copies of the rule put them elsewhere, and the factors $c_k$
    widen differences that are known to under-report. `benchmarks/honesty.py` measures the
    result."""
    value = evaluate(rule)
    others = widened_references(rule, dim)
    if not others:
        error = jax.tree.map(lambda v: jnp.full_like(v, jnp.inf), value)
    else:
        differences = [
            jax.tree.map(lambda a, b, c=factor: c * jnp.abs(a - b), value, evaluate(other))
            for other, factor in others
        ]
        error = jax.tree.map(lambda *d: functools.reduce(jnp.maximum, d), *differences)
    return Estimate(value=value, error=jax.lax.stop_gradient(error))


def over_replicates(stacked: PyTree) -> Estimate:
    """The mean of R independent estimates (leading axis) and its standard error s / sqrt(R)
    (inf for R < 2)."""

    def standard_error(b):
        if b.shape[0] < 2:
            return jnp.full(b.shape[1:], jnp.inf, b.dtype)
        return jnp.std(b, axis=0, ddof=1) / np.sqrt(b.shape[0])

    return Estimate(
        value=jax.tree.map(lambda b: jnp.mean(b, axis=0), stacked),
        error=jax.lax.stop_gradient(jax.tree.map(standard_error, stacked)),
    )


def estimate_integral(problem: Problem) -> Estimate:
    """E[f(x)] and its error, f traced no more often than the rules it evaluates; in log space
    log E[exp(f(x))] and its error, that of Z relative to Z (to first order)."""
    rule = problem.rule
    if problem.log_space:
        deterministic = isinstance(rule, AbstractDeterministicRule)
        rules = [rule, *(references(rule, problem.dim) if deterministic else [])]
        shift = checked_shift(problem, node_maximum(problem, rules), rules)
        linear = estimate_integral(exponentiated(problem, shift))
        relative = jax.tree.map(lambda e, v: e / jnp.abs(v), linear.error, linear.value)
        value = from_shifted(shift, linear.value, problem.caller)
        error = jax.lax.stop_gradient(relative)
        return dataclasses.replace(linear, value=value, error=error)
    evaluations = rule.num_nodes(problem.dim)
    if isinstance(rule, AbstractDeterministicRule):
        evaluate = lambda r: problem.replace(rule=r).integrate()  # noqa: E731
        estimate = against_reference(evaluate, rule, problem.dim)
        evaluations += sum(r.num_nodes(problem.dim) for r in references(rule, problem.dim))
    elif rule.has_independent_samples(problem.dim):
        estimate = _from_independent_samples(problem)
    else:
        blocks = jnp.arange(rule.num_replicates, dtype=jnp.int32)
        stacked = jax.vmap(lambda b: problem.replace(rule=Replicate(rule, b)).integrate())(blocks)
        estimate = over_replicates(stacked)
    return in_dimension(dataclasses.replace(estimate, evaluations=evaluations), problem.dim)


def exactly(value: PyTree) -> Estimate:
    """A closed-form value: error 0, no rule."""
    return Estimate(value=value, error=jax.tree.map(jnp.zeros_like, value), exact=True)


def in_dimension(estimate: Estimate, dim: int) -> Estimate:
    """The estimate, marked with the dimension its rule ran in."""
    return dataclasses.replace(estimate, dim=dim)


class _WithSquare(eqx.Module):
    """x -> (f(x), (f(x) - c)^2): a value and its squared deviation from a centre, summed in
    one pass (the centre keeps the variance sum free of cancellation)."""

    f: Callable
    center: PyTree

    def __call__(self, x):
        y = self.f(x)
        return y, jax.tree.map(lambda a, c: (a - c) ** 2, y, self.center)


def _from_independent_samples(problem: Problem) -> Estimate:
    """Every node its own replicate: the standard error from the sample variance, one pass."""
    center = jax.lax.stop_gradient(problem.f(problem.mean))
    value, mean_square = problem.replace(f=_WithSquare(problem.f, center)).integrate()
    n = problem.rule.num_nodes(problem.dim)

    def standard_error(v, ms, c):
        if n < 2:
            return jnp.full_like(v, jnp.inf)
        variance = jnp.maximum(ms - (v - c) ** 2, 0.0) * n / (n - 1)
        return jnp.sqrt(variance / n)

    error = jax.tree.map(standard_error, value, mean_square, center)
    return Estimate(value=value, error=jax.lax.stop_gradient(error))
