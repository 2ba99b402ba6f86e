"""f as data: its program and the values it closes over (see `Integrand`)."""

import equinox as eqx
import jax
from jax.extend.core import ClosedJaxpr, Jaxpr, jaxpr_as_fun
from jaxtyping import Array, Float

from ._rules._base import PyTree


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


def trace(f, point: jax.ShapeDtypeStruct) -> tuple[Integrand, PyTree]:
    """f traced once at a point like `point`: as an `Integrand`, and the shapes it returns."""
    closed, shapes = jax.make_jaxpr(f, return_shape=True)(point)
    return Integrand(closed.jaxpr, list(closed.consts), jax.tree.structure(shapes)), shapes


def equations(jaxpr: Jaxpr):
    """Every equation of `jaxpr`, each followed by those of the programs nested in it."""
    for equation in jaxpr.eqns:
        yield from within(equation)


def within(equation):
    """`equation`, then the equations of the programs nested in it (a `jit`, a `custom_jvp`, a
    `cond`'s branches, a loop's body), however deep."""
    yield equation
    for value in equation.params.values():
        for item in value if isinstance(value, tuple | list) else (value,):
            if isinstance(item, ClosedJaxpr | Jaxpr):
                yield from equations(getattr(item, "jaxpr", item))
