r"""$\log|f(x)|$ read off f's program, so that it stays finite where f itself underflows.

`jnp.log(f(x))` of a likelihood $\prod_k \sigma(a_k^\top x)$ or a peak $e^{-q(x)}$ is $-\infty$ once
f underflows, and its second derivative, $f''/f - (f'/f)^2$, overflows well before that. Instead,
f's jaxpr is evaluated as usual and the logarithm of its output is pushed back through the
operations that produced it: $\log e^a = a$, $\log|ab| = \log|a| + \log|b|$, $\log|a/b|$,
$\log|a^p| = p\log|a|$, $\log\sigma(a) = -\mathrm{softplus}(-a)$, $\log\prod_k a_k = \sum_k
\log|a_k|$, through reshapes and nested `jit` calls; anywhere else, $\log|v|$ of the value.
The result is the same function, written so that JAX differentiates it stably.
"""

import jax
import jax.numpy as jnp
from jax.extend.core import Literal

from ._integrand import Integrand, trace

SHAPE_OPERATIONS = {
    "broadcast_in_dim",
    "reshape",
    "squeeze",
    "expand_dims",
    "transpose",
    "copy",
    "copy_p",
    "convert_element_type",
    "rev",
}
"""Operations that move every element of their operand into the result, so that the logarithm
commutes with them. Selections (slice, gather) do not: the logarithms of the elements they drop
could be -inf, and their zero derivative times an infinite one is NaN."""


def log_abs(f, x: jax.Array) -> jax.Array:
    """log|f(x)| for a scalar-valued f, pushed through f's operations where possible. An
    `Integrand` brings its program; any other f is traced here."""
    if not isinstance(f, Integrand):
        f, _ = trace(f, jax.ShapeDtypeStruct(x.shape, x.dtype))
    (out,) = _log_outputs(f.program, list(f.consts), [x])
    return out


def _log_outputs(jaxpr, consts: list, args: list) -> list:
    """log|.| of each output of `jaxpr` evaluated at `args`."""
    env, producers = {}, {}

    def read(v):
        return v.val if isinstance(v, Literal) else env[v]

    for var, value in zip(jaxpr.constvars, consts, strict=True):
        env[var] = value
    for var, value in zip(jaxpr.invars, args, strict=True):
        env[var] = value
    for eqn in jaxpr.eqns:
        subfuns, params = _bind_params(eqn)
        with eqn.ctx.manager:
            outs = eqn.primitive.bind(*subfuns, *[read(v) for v in eqn.invars], **params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        for var, value in zip(eqn.outvars, outs, strict=True):
            env[var] = value
            producers[var] = eqn

    memo = {}

    def log_of(v):
        if isinstance(v, Literal):
            return jnp.log(jnp.abs(v.val))
        if v not in memo:
            memo[v] = _log_of(v, producers.get(v), read, log_of)
        return memo[v]

    return [log_of(v) for v in jaxpr.outvars]


def _log_of(var, eqn, read, log_of):
    if eqn is None or not jnp.issubdtype(var.aval.dtype, jnp.floating):
        return jnp.log(jnp.abs(read(var)))
    name, ins = eqn.primitive.name, eqn.invars
    if name == "exp":
        return read(ins[0])
    if name == "mul":
        return log_of(ins[0]) + log_of(ins[1])
    if name == "div":
        return log_of(ins[0]) - log_of(ins[1])
    if name in ("neg", "abs"):
        return log_of(ins[0])
    if name == "integer_pow":
        return eqn.params["y"] * log_of(ins[0])
    if name == "pow":
        return read(ins[1]) * log_of(ins[0])
    if name == "sqrt":
        return 0.5 * log_of(ins[0])
    if name == "rsqrt":
        return -0.5 * log_of(ins[0])
    if name == "logistic":
        return -jax.nn.softplus(-read(ins[0]))
    if name == "reduce_prod":
        return jnp.sum(log_of(ins[0]), axis=eqn.params["axes"])
    if name in SHAPE_OPERATIONS and len(ins) >= 1:
        subfuns, params = _bind_params(eqn)
        rest = [read(v) for v in ins[1:]]
        return eqn.primitive.bind(*subfuns, log_of(ins[0]), *rest, **params)
    if name in ("pjit", "jit", "closed_call") and len(eqn.outvars) == 1:
        inner = eqn.params.get("jaxpr") or eqn.params.get("call_jaxpr")
        return _log_outputs(inner.jaxpr, list(inner.consts), [read(v) for v in ins])[0]
    return jnp.log(jnp.abs(read(var)))


def _bind_params(eqn) -> tuple[list, dict]:
    """(sub-functions, parameters) to bind an equation's primitive with (jax >= 0.7 returns
    the parameters alone)."""
    bound = eqn.primitive.get_bind_params(eqn.params)
    return bound if isinstance(bound, tuple) else ([], bound)
