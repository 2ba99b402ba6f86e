"""From a validated Problem to a value or an estimate: the stages, in one place.

    Problem -> [project: f a function of W^T x runs in k dimensions] -> [exact: the closed form
    of a gj.integrands integrand] -> [adapt: the rule on the Laplace fit of f N] ->
    [tolerance: a ladder of rules refined until the error estimate meets it | one rule] ->
    estimator -> value

Every entry point goes through `value` or `estimate`, so a stage added here serves them all.
"""

import jax.numpy as jnp

from ._errors import Estimate, estimate_integral, exactly, in_dimension
from ._finite import closed_form_finite, finite, finite_estimate
from ._laplace import prepared
from ._projection import project
from ._refine import refine
from ._rules._base import PyTree


def value(problem) -> PyTree:
    """E[f(x)] (log E[exp f(x)] in log space) as the problem asks, differentiable."""
    problem = project(problem)
    if problem.exact:
        return closed_form(problem)
    if problem.tolerance is None:
        problem = prepared(problem)
        return finite(problem, problem.integrate())
    return refine(problem, must_reach=True).value


def estimate(problem) -> Estimate:
    """The value with its error estimate (and, with a tolerance, the best one reached)."""
    problem = project(problem)
    if problem.exact:
        return exactly(closed_form(problem))
    if problem.tolerance is None:
        problem = prepared(problem)
        return finite_estimate(problem, estimate_integral(problem))
    return in_dimension(refine(problem, must_reach=False), problem.dim)


def closed_form(problem) -> PyTree:
    """E[f(x)] of a `gj.integrands` integrand, exact and differentiable in mean and factor."""
    cov = problem.factor @ problem.factor.T
    value = jnp.asarray(problem.f.expectation(problem.mean, cov), problem.mean.dtype)
    return closed_form_finite(problem, value)
