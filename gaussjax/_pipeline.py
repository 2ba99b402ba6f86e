"""From a validated Problem to a value or an estimate: the stages, in one place.

    Problem -> [adapt: the rule on the Laplace fit of f N] -> [tolerance: a ladder of rules,
    refined until the error estimate meets it | one rule] -> estimator -> value

Every entry point goes through `value` or `estimate`, so a stage added here serves them all.
"""

from ._errors import Estimate, estimate_integral
from ._laplace import prepared
from ._refine import refine
from ._rules._base import PyTree


def value(problem) -> PyTree:
    """E[f(x)] (log E[exp f(x)] in log space) as the problem asks, differentiable."""
    if problem.tolerance is None:
        return prepared(problem).integrate()
    return refine(problem, must_reach=True).value


def estimate(problem) -> Estimate:
    """The value with its error estimate (and, with a tolerance, the best one reached)."""
    if problem.tolerance is None:
        return estimate_integral(prepared(problem))
    return refine(problem, must_reach=False)
