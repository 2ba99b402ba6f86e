"""Under `jax.vmap` over many Gaussians with few nodes: whether to call f once per node.

Called once per node (`_weighted_sum.unrolled_total`), an f that XLA can fuse is computed in
one loop over the batch and its values at the nodes are never stored; on a CPU that made the
value 1.6-2x faster than one call on all nodes (benchmarks/few_nodes.py). f is judged by its
program at one point (`_batch.traced`), not run.
"""

import numpy as np

from ._integrand import equations

UNROLLED_NODES = 32
"""Under `jax.vmap` (many Gaussians at once) and without `batch_size`, a rule of at most this many
nodes calls an elementwise g (`elementwise`) once per node (`unrolled_total`) rather than once
on all of them."""
UNROLLED_EQUATIONS = 1024
"""In reverse mode under `jax.vmap`, a g that is not elementwise is also called once per node
when (nodes) x (its primitives) is at most this: its gradient took 0.77-0.97x a hand-written
vectorised grid that way and 1.13-1.21x on all nodes at once (a tanh network, 25 nodes,
benchmarks/few_nodes.py), while its value is 2x slower per node; the limit keeps the compile
time (about 2x) bounded."""
ELEMENTWISE = frozenset(
    """abs acos acosh add and asin asinh atan atan2 atanh cbrt ceil clamp convert_element_type
    copy copy_p cos cosh digamma div eq erf erf_inv erfc exp exp2 expm1 floor ge gt imag
    integer_pow is_finite lgamma le log log1p logistic lt max min mul ne neg nextafter not or pow
    real rem round rsqrt select_n sign sin sinh sqrt square sub tan tanh xor
    broadcast_in_dim reshape squeeze slice expand_dims
    pjit jit closed_call custom_jvp_call custom_vjp_call custom_vjp_call_jaxpr""".split()
)
"""The primitives of an f that XLA fuses, point by point, into one loop (`elementwise`)."""
SMALL_PRODUCTS = frozenset("dot_general reduce_sum reduce_max reduce_min".split())
SMALL_OPERANDS = 64
"""Matrix products and sums over at most this many numbers per operand (a quadratic form of the
point, a sum of its coordinates) count as elementwise: under `vmap` XLA fuses them as well.
Called once per node, a saturating cost d^T P d in 3 dimensions took 0.68x a hand-written grid
against 1.35-1.40x on all nodes; a network of 64 units (128 and 4,096 numbers) took 2x."""


def elementwise(jaxpr) -> bool:
    """Whether f's program at one point applies only `ELEMENTWISE` primitives and small products
    (`SMALL_PRODUCTS`): then XLA fuses its calls at every node into one loop over a batch of
    Gaussians. One with larger matrix products (a network) was 2x slower called once per node
    (benchmarks/few_nodes.py), so it keeps one call on all nodes."""
    return all(_fused(equation) for equation in equations(jaxpr))


def _fused(equation) -> bool:
    name = equation.primitive.name
    if name in ELEMENTWISE:
        return True
    sizes = (np.prod(getattr(v.aval, "shape", ())) for v in equation.invars)
    return name in SMALL_PRODUCTS and all(size <= SMALL_OPERANDS for size in sizes)


def considered(num_nodes: int, batch_size: int | None) -> bool:
    """Whether f may be called once per node at all: without `batch_size`, and with at most
    `UNROLLED_NODES` nodes."""
    return batch_size is None and num_nodes <= UNROLLED_NODES


def choice(jaxpr, num_nodes: int, batch_size: int | None) -> tuple[bool, bool]:
    """(once per node for the value, once per node in reverse mode), for f's program `jaxpr` at
    one point: where `considered`, an `elementwise` f both; in reverse mode also an f of at
    most `UNROLLED_EQUATIONS` primitives over all nodes."""
    if not considered(num_nodes, batch_size):
        return False, False
    fused = elementwise(jaxpr)
    short = num_nodes * sum(1 for _ in equations(jaxpr)) <= UNROLLED_EQUATIONS
    return fused, fused or short
