"""One expectation spread over all devices: each device makes and sums its own run of chunks.

With more than one device (several GPUs; a CPU split with
`XLA_FLAGS=--xla_force_host_platform_device_count=N`; every process of a `jax.distributed` run),
the chunks of a rule are dealt out in equal runs, one run per device, inside `jax.shard_map`: a
device turns its chunk numbers into nodes itself (no node table is sent anywhere), sums them
chunk by chunk as on one device, and only the devices' partial sums (shaped like f's output)
are gathered and merged. Derivatives flow back the same way. The result equals the one-device
result up to the order of the last additions (about 1e-16 relative in float64).
"""

import functools

import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from ._rules._base import PyTree

AXIS = "gaussjax_nodes"
"""The name of the mesh axis the nodes are spread over."""
MIN_NODES_PER_DEVICE = 1024
"""A rule with fewer nodes per device than this runs on one device (the collectives would cost
more than they save)."""


def node_mesh(num_nodes: int, progress) -> Mesh | None:
    """The mesh over all devices to spread `num_nodes` nodes over, or None for one device
    (one device only, fewer than `MIN_NODES_PER_DEVICE` nodes per device, or progress reported:
    the progress events of one pass come from one device)."""
    devices = jax.devices()
    if len(devices) < 2 or progress is not None:
        return None
    if num_nodes < MIN_NODES_PER_DEVICE * len(devices):
        return None
    return _mesh(tuple(devices))


@functools.cache
def _mesh(devices: tuple) -> Mesh:
    return Mesh(np.array(devices), (AXIS,))


def over_devices(on_device, combine, mesh: Mesh) -> PyTree:
    """combine(on_device(0), ..., on_device(D - 1)), device i computing on_device(i)."""

    def body():
        partial = on_device(jax.lax.axis_index(AXIS))
        gathered = jax.lax.all_gather(partial, AXIS)  # a leading axis, one entry per device
        total = jax.tree.map(lambda g: g[0], gathered)
        for i in range(1, mesh.size):
            total = combine(total, jax.tree.map(lambda g, i=i: g[i], gathered))
        return total

    spec = PartitionSpec()
    return jax.shard_map(body, mesh=mesh, in_specs=(), out_specs=spec, check_vma=False)()
