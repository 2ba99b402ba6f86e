r"""Tolerances: refine the rule until its error estimate is at most atol + rtol |Z|.

Shapes must be static under `jit`, so the candidates form a fixed ladder of rules (one or more
families, each refined to about twice the nodes per rung, interleaved by cost and cut at the
budget), evaluated in order by a chain of `lax.cond`s that skip every rung once one has met the
tolerance. The value comes out of the rung that met it, differentiable as that rule's value is
(reverse mode goes through `cond`, not through a `while_loop`).

A rung's error is its difference from the previous rung of its family, so a deterministic
family's first rung is never accepted (two coarse rules, such as Gauss-Hermite of orders 1 and
2, can agree by accident); for a random rule, three standard errors of its replicates. The
difference from a much coarser rule over-estimates the finer rule's error once the family
converges, which is the side to err on. Under `vmap` every rung is evaluated (`cond` becomes
`select`), so the cost is that of the whole ladder, still within the budget.
"""

import dataclasses

import jax
import jax.numpy as jnp

from ._errors import Estimate, estimate_integral
from ._estimators._pathwise import _pathwise_problem
from ._finite import finite, not_finite
from ._laplace import Laplace, adapted, fit, prepared
from ._rules import (
    AbstractRandomRule,
    GaussHermite,
    QuasiMonteCarlo,
    SparseGrid,
)
from ._rules._quasi_monte_carlo import MAX_DIM as QMC_MAX_DIM
from ._runtime import check, check_number

BUDGET_SHARE = 4
"""No single rule of a ladder uses more than this fraction of the budget (1/4): the rules about
double, so the ladder up to the last one costs about twice it."""
CONFIDENCE = 3.0
"""A random rule meets the tolerance when this many standard errors do."""
TENSOR_UP_TO = 6
"""The automatic strategy uses tensor Gauss-Hermite grids up to this dimension ..."""
SPARSE_FROM = 5
"""... and sparse grids from this one; QMC (with a key) in every dimension, last."""


@dataclasses.dataclass(frozen=True)
class Rung:
    family: int  # index into the families: a first rule on one variant of the problem
    variant: int  # index into the variants: the problem as given, or on its Laplace fit
    rule: object
    cost: int  # evaluations of f
    first: bool  # the family's first rung: no previous rung to compare with


def refine(problem, must_reach: bool) -> Estimate:
    """The first rung of the ladder that meets the tolerance (the best one if none does, or an
    error when `must_reach`), its error, and the evaluations of f spent."""
    tolerance = problem.tolerance
    variants, families = _families(problem)
    ladder = _ladder(variants, families, problem, tolerance.max_evaluations)
    if not ladder:
        raise problem.error(
            f"max_evaluations={tolerance.max_evaluations} is less than the cheapest rule this "
            "call could use needs; raise it."
        )
    shapes = jax.eval_shape(lambda: variants[0][0].replace(rule=ladder[0].rule).integrate())
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    carry = {
        "done": jnp.asarray(False),
        "score": jnp.asarray(jnp.inf, problem.mean.dtype),
        "value": zeros,
        "error": jax.tree.map(lambda z: jnp.full_like(z, jnp.inf), zeros),
        "spent": jnp.asarray(0),
        "last": [zeros for _ in families],
        "not_finite": jnp.asarray(False),
        "not_finite_value": zeros,
    }
    for rung in ladder:
        variant, valid = variants[rung.variant]
        skip = carry["done"] | ~valid
        if not isinstance(skip, jax.core.Tracer):  # eagerly: run what is needed, compile nothing
            carry = carry if skip else _run(rung, variant, tolerance)(carry)
            continue
        # Reverse mode through a cond keeps every branch's residuals, zeros where skipped: a
        # checkpointed rung keeps only its inputs and recomputes the one that ran.
        carry = jax.lax.cond(
            skip, lambda c: c, jax.checkpoint(_run(rung, variant, tolerance)), carry
        )
    plain = [rung.rule for rung in ladder if rung.variant == 0]
    value = finite(problem, carry["value"], plain, also=carry["not_finite"])
    failed = ~carry["done"]
    if not problem.check_finite:  # IEEE propagation: the NaN or inf, not a tolerance error
        propagate = carry["not_finite"] & ~carry["done"]
        value = jax.tree.map(
            lambda bad, v: jnp.where(propagate, bad, v), carry["not_finite_value"], value
        )
        failed = failed & ~propagate
    estimate = Estimate(value=value, error=carry["error"], evaluations=carry["spent"])
    if not must_reach:
        return estimate
    worst = jax.tree.leaves(jax.tree.map(lambda e: jnp.max(e), carry["error"]))
    message = (
        f"{problem.caller}: could not reach rtol={tolerance.rtol:g}, atol={tolerance.atol:g} "
        f"within max_evaluations={tolerance.max_evaluations}: the smallest error estimate "
        "reached was {}. Raise max_evaluations, loosen the tolerance, pass adapt='laplace' "
        "for a peaked positive f, or call gj.estimate for the best value and its error."
    )
    value = check_number(estimate.value, failed, jnp.max(jnp.stack(worst)), message)
    return dataclasses.replace(estimate, value=value)


def _run(rung: Rung, variant, tolerance):
    """The cond branch that evaluates one rung and updates the carry."""

    def run(carry):
        # inside lax.cond values are traced: f's finiteness is checked once, after the ladder
        chosen = variant.replace(rule=rung.rule, check_finite=False)
        if isinstance(rung.rule, AbstractRandomRule):
            estimate = estimate_integral(chosen)
            value = estimate.value
            error = jax.tree.map(lambda e: CONFIDENCE * e, estimate.error)
        elif rung.first:
            value = chosen.integrate()
            error = jax.tree.map(lambda v: jnp.full_like(v, jnp.inf), value)
        else:
            value = chosen.integrate()
            previous = carry["last"][rung.family]
            error = jax.lax.stop_gradient(
                jax.tree.map(lambda a, b: jnp.abs(a - b), value, previous)
            )
        ratios = jax.tree.map(lambda e, v: jnp.max(e / tolerance.bound(v)), error, value)
        score = jnp.max(jnp.stack(jax.tree.leaves(ratios)))
        score = jnp.where(jnp.isnan(score), jnp.inf, score)
        better = score < carry["score"]
        last = list(carry["last"])
        last[rung.family] = value
        first_bad = not_finite(value, chosen.log_space) & ~carry["not_finite"]
        return {
            "done": score <= 1.0,
            "score": jnp.minimum(score, carry["score"]),
            "value": jax.tree.map(lambda a, b: jnp.where(better, a, b), value, carry["value"]),
            "error": jax.tree.map(lambda a, b: jnp.where(better, a, b), error, carry["error"]),
            "spent": carry["spent"] + rung.cost,
            "last": last,
            "not_finite": carry["not_finite"] | not_finite(value, chosen.log_space),
            "not_finite_value": jax.tree.map(
                lambda a, b: jnp.where(first_bad, a, b), value, carry["not_finite_value"]
            ),
        }

    return run


def _families(problem):
    """[(problem variant, valid flag)] and [(variant index, first rule)]: the user's rule, or
    the automatic choice by dimension, plain and on the Laplace fit."""
    if problem.rule is not None:
        variant = prepared(problem)
        return [(variant, jnp.asarray(True))], [(0, variant.rule)]
    dim = problem.dim
    first_rules = []
    if dim <= TENSOR_UP_TO:
        first_rules.append(GaussHermite(order=2))
    if dim >= SPARSE_FROM:
        first_rules.append(SparseGrid(level=1))
    if problem.key is not None and dim <= QMC_MAX_DIM:
        first_rules.append(QuasiMonteCarlo(num_samples=2**10))
    if problem.adapt is not None:
        base, adaptation, ok, message = fit(problem, problem.adapt)
        ok = check(ok, ~ok, message)
        return [(base, ok)], [(0, adapted(rule, adaptation)) for rule in first_rules]
    variants = [(problem, jnp.asarray(True))]
    families = [(0, rule) for rule in first_rules]
    if problem.tolerance.may_adapt and _adaptable(problem):
        base, adaptation, ok, _ = fit(problem, Laplace())
        variants.append((base, ok))
        families += [(1, adapted(rule, adaptation)) for rule in first_rules]
    return variants, families


def _adaptable(problem) -> bool:
    """Whether f can be fitted: scalar, and differentiable (not a black box or a step)."""
    shape = jax.eval_shape(problem.f, jax.ShapeDtypeStruct(problem.mean.shape, problem.mean.dtype))
    return (
        isinstance(shape, jax.ShapeDtypeStruct)
        and shape.shape == ()
        and _pathwise_problem(problem.f, problem.mean) is None
    )


def _ladder(variants, families, problem, budget: int) -> list[Rung]:
    """Every family's rules, refined while they fit, interleaved by cost, cut at the budget."""
    per_evaluation = 2 if problem.log_space else 1  # log space: a pass for the shift, then one
    candidates = []
    for family, (variant_index, rule) in enumerate(families):
        variant = variants[variant_index][0]
        dim, first, envelope = variant.dim, True, 0
        while rule is not None:
            nodes = rule.num_nodes(dim)
            if nodes * per_evaluation > budget // BUDGET_SHARE:
                break
            envelope = max(envelope, nodes * per_evaluation)
            rung = Rung(family, variant_index, rule, nodes * per_evaluation, first)
            candidates.append((envelope, rung))
            rule, first = rule.refine(dim), False
    candidates.sort(key=lambda pair: pair[0])  # stable, and each family's keys never fall
    ladder, spent = [], 0
    for _, rung in candidates:
        if spent + rung.cost > budget:
            break
        ladder.append(rung)
        spent += rung.cost
    return ladder
