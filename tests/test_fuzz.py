"""A fuzz test: random calls of the public API with good and bad arguments mixed at random. Each
call must return finite arrays or raise a documented error (docs/errors.md): a ValueError or
TypeError that names the entry point or the rule, or, under jit, a JaxRuntimeError holding such
a message. Anything else (another exception type, a message that names nothing, a NaN or inf
returned while check_finite is on) is counted as undocumented.

Slow (about 10,000 calls): off by default, on with

    GAUSSJAX_FUZZ=1 python -m pytest -p no:xdist -m slow tests/test_fuzz.py

GAUSSJAX_FUZZ=<number> sets the number of calls (1 means the default, 10,000).
"""

import os
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gaussjax as gj

CALLS = int(os.environ.get("GAUSSJAX_FUZZ", "0") or 0)
CALLS = 10_000 if CALLS == 1 else CALLS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CALLS, reason="set GAUSSJAX_FUZZ=1 to run the fuzz test"),
]

ENTRY_POINTS = ("gj.", "GaussHermite", "SparseGrid", "MonteCarlo", "QuasiMonteCarlo", "Cubature")


def _callback(x):
    return jax.pure_callback(lambda x: np.sum(x**2), jax.ShapeDtypeStruct((), x.dtype), x)


def _vmappable_callback(x):
    return jax.pure_callback(
        lambda x: np.sum(x**2, axis=-1),
        jax.ShapeDtypeStruct((), x.dtype),
        x,
        vmap_method="expand_dims",
    )


INTEGRANDS = {
    "square": lambda x: jnp.sum(x**2),
    "vector": lambda x: jnp.stack([x[0], jnp.sum(x)]),
    "log": lambda x: jnp.log(x[0]),  # NaN at half the nodes
    "step": lambda x: jnp.where(x[0] > 0, 1.0, 0.0),
    "int": lambda x: 3,
    "text": lambda x: "text",
    "none": lambda x: None,
    "callback": _callback,
    "vmappable callback": _vmappable_callback,
    "not callable": 3.0,
}


def _random_spd(rng, n):
    a = rng.normal(size=(n, n))
    return a @ a.T + 0.1 * np.eye(n)


FAULTS = ("mean", "cov", "form", "rule", "key", "batch_size", "estimator", "f", "method")


def draw_call(rng: np.random.Generator, pick):
    """A random (entry point, call, options): a third of the calls have good arguments (of
    random kinds), the rest one argument drawn from all kinds, bad ones included."""
    fault = pick([None] * (len(FAULTS) // 2) + list(FAULTS))

    def choose(name, good, bad):
        return pick(good + bad) if fault == name else pick(good)

    n = int(rng.integers(1, 4))
    mean_kind = choose(
        "mean", ["good", "list", "int", "f32"], ["nan", "inf", "2d", "empty", "complex"]
    )
    mean = rng.normal(size=n)
    mean = {
        "good": mean,
        "nan": np.where(np.arange(n) == 0, np.nan, mean),
        "inf": np.where(np.arange(n) == 0, np.inf, mean),
        "2d": mean[None],
        "empty": np.zeros(0),
        "list": list(mean),
        "int": np.arange(n),
        "complex": mean.astype(complex),
        "f32": mean.astype(np.float32),
    }[mean_kind]
    cov = _random_spd(rng, n)
    cov_kind = choose("cov", ["good", "list"], ["asymmetric", "indefinite", "nan", "shape", "zero"])
    cov = {
        "good": cov,
        "asymmetric": cov + np.triu(np.ones((n, n)), 1),
        "indefinite": -cov,
        "nan": cov * np.nan,
        "shape": np.eye(n + 1),
        "list": cov.tolist(),
        "zero": np.zeros((n, n)),
    }[cov_kind]
    form = choose("form", ["cov", "scale_tril", "cov_factor", "cov_diag"], ["none", "two"])
    covariance = {
        "cov": {"cov": cov},
        "scale_tril": {"scale_tril": np.linalg.cholesky(_random_spd(rng, n))},
        "cov_factor": {"cov_factor": rng.normal(size=(n, int(rng.integers(1, n + 2))))},
        "cov_diag": {"cov_diag": np.abs(rng.normal(size=n)) * choose("cov", [1], [-1, 0])},
        "none": {},
        "two": {"cov": cov, "cov_diag": np.ones(n)},
    }[form]
    random_rules = [
        gj.MonteCarlo(num_samples=8),
        gj.QuasiMonteCarlo(num_samples=16, num_replicates=4),
    ]
    rule = choose(
        "rule",
        [
            gj.GaussHermite(order=2),
            gj.GaussHermite(order=3),
            gj.Cubature(degree=3),
            gj.Cubature(degree=5),
            gj.Unscented(),
            gj.SparseGrid(level=1),
            *random_rules,
        ],
        [gj.MonteCarlo(num_samples=1), 10, "GaussHermite"],
    )
    options = {"rule": rule}
    if rule is None:
        options["max_evaluations"] = 64  # a short ladder keeps a call quick
    key = choose(
        "key",
        [jax.random.key(1), jax.random.PRNGKey(2)],
        [None, 0, jax.random.split(jax.random.key(0))],
    )
    if key is not None:
        options["key"] = key
    batch_size = choose("batch_size", [None, None, 4], [0, 2.5, "8"])
    if batch_size is not None:
        options["batch_size"] = batch_size
    estimator = choose("estimator", ["pathwise", "score", gj.Score(baseline=False)], ["nonsense"])
    options["estimator"] = estimator
    options["check_finite"] = pick([True, True, True, False])
    good_f = ["square", "vector", "step", "int", "vmappable callback"]
    bad_f = ["log", "text", "none", "callback", "not callable"]
    f = INTEGRANDS[choose("f", good_f, bad_f)]

    entry = pick(
        ["expectation", "estimate", "mean_cov_grads", "estimate_grad", "log_expectation"]
        + ["chain_rule", "grad", "jit"]
    )
    if entry in ("mean_cov_grads", "estimate_grad"):
        options.pop("estimator")
        if entry == "mean_cov_grads":
            options["method"] = choose("method", ["autodiff", "bonnet_price", "score"], ["wrong"])
    if entry == "chain_rule":
        K = np.asarray(mean, dtype=float) if mean_kind in ("good", "f32", "int") else mean
        options.pop("check_finite")
        return (
            "chain_rule",
            lambda: gj.chain_rule(
                f,
                lambda K: K,
                lambda K: jnp.asarray(cov) + 0 * jnp.sum(jnp.asarray(K)),
                K,
                **options,
            ),
            options,
        )
    if entry in ("grad", "jit") and mean_kind in ("int", "list", "complex"):
        entry = "expectation"  # jax.grad itself refuses integer inputs, before gaussjax runs
    if entry == "grad":
        return (
            "grad",
            # the sum: jax.grad itself refuses a vector output, before gaussjax runs
            lambda: jax.grad(lambda m: jnp.sum(gj.expectation(f, m, **covariance, **options)))(
                mean
            ),
            options,
        )
    if entry == "jit":
        return (
            "jit",
            lambda: jax.jit(lambda m: gj.expectation(f, m, **covariance, **options))(mean),
            options,
        )
    function = getattr(gj, entry)
    return entry, lambda: function(f, mean, **covariance, **options), options


def classify(call, options) -> tuple[str, str | None]:
    """("returned" or "raised", None) for a documented outcome, else a description of the
    undocumented one."""
    try:
        result = jax.block_until_ready(call())
    except (ValueError, TypeError) as error:
        message = str(error)
        if any(name in message for name in ENTRY_POINTS):
            return "raised", None
        return "raised", f"{type(error).__name__} naming no entry point: {message[:200]}"
    except jax.errors.JaxRuntimeError as error:
        message = str(error)
        if "_CheckFailed: gj." in message:
            return "raised", None
        return "raised", f"JaxRuntimeError without a gaussjax message: {message[-300:]}"
    except Exception as error:  # noqa: BLE001 - what the fuzz test is looking for
        return "raised", f"{type(error).__name__}: {str(error)[:300]}"
    leaves = jax.tree.leaves(result)
    arrays = [np.asarray(leaf) for leaf in leaves if hasattr(leaf, "dtype")]
    if options.get("check_finite", True) and not all(
        np.all(np.isfinite(a)) for a in arrays if np.issubdtype(a.dtype, np.inexact)
    ):
        # an estimate's error may honestly be inf (one replicate, no reference)
        if not isinstance(result, gj.Estimate) or not np.all(
            np.isfinite(np.concatenate([np.ravel(v) for v in jax.tree.leaves(result.value)]))
        ):
            return "returned", "a result that is not finite, with check_finite on"
    return "returned", None


def test_random_calls_of_the_public_api_raise_only_documented_errors():
    rng = np.random.default_rng(2026)
    picker = random.Random(2026)

    def pick(options):
        return options[picker.randrange(len(options))]

    undocumented, outcomes = [], {"returned": 0, "raised": 0}
    for i in range(CALLS):
        entry, call, options = draw_call(rng, pick)
        outcome, problem = classify(call, options)
        outcomes[outcome] += 1
        if problem is not None:
            undocumented.append((i, entry, problem))
            print(f"  call {i} ({entry}): {problem}", flush=True)
        if i % 1000 == 999:
            jax.clear_caches()  # every call traces anew: keep memory flat
            print(f"{i + 1} calls: {outcomes}, {len(undocumented)} undocumented", flush=True)
    print(f"\n{CALLS} random calls: {outcomes}, {len(undocumented)} undocumented outcomes")
    for i, entry, problem in undocumented[:20]:
        print(f"  call {i} ({entry}): {problem}")
    assert not undocumented, outcomes
