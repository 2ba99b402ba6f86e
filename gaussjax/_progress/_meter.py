r"""Progress of a chunked run, reported from inside the compiled loop, forward and backward.

With `batch_size`, $\sum_i w_i\, g(\xi_i)$ is chunk 0, then a `lax.scan` over chunks 1 .. N-1. A
**pass** is one sweep over the N chunks: the *forward* pass that computes the sum (or its tangent,
in forward mode), or the *backward* pass of reverse-mode differentiation (`jax.grad`, `jax.vjp`,
`jax.jacrev`), which visits them in reverse order. Each pass reports `done`, the number of chunks
finished, through N + 1 events (1 for a single chunk):

- Forward: after chunk 0, `done = 1`; inside the loop (in the scan body, outside its
  rematerialised part, so the backward pass does not replay it), while chunk j is computed,
  `done = j`; after the loop, `done = N`.
- Backward: the summary of chunk j >= 1 passes through an identity (`_tap_p`) whose *transpose*
  reports `done = N - 1 - j` while chunk j's backward runs; the values the chunks read (found by
  `jax.closure_convert`) pass through two more: one on their use by the loop, whose transpose
  reports `done = N - 1` when the loop's backward is over, and one on all their uses, reporting
  `done = N` after chunk 0's backward, the last work of the pass.

Most events are *ticks* (`_tick_p`): zeros added to the sum (forward) or to a cotangent (backward)
whose computation calls back to Python. To JAX they are pure, so JAX drops them with the loop
around them where nothing needs it: under `jit(grad(...))` only the gradient is used, the forward
sum is never computed, and no forward pass is reported. XLA sees a side-effecting call, which it
neither removes nor hoists out of its loop. Inside a loop iterations run in order, so a tick there
takes no arguments and may run at any time in its iteration (what it reports is true throughout);
this keeps a callback per chunk cheap. The few events outside loops take one number of the data
they follow (`_first_p`: the first element, of the first member of a `vmap` batch), so that XLA
calls them after it exists, and once under `vmap`. The last two backward events are
`jax.debug.callback`s (effects), called even where only derivatives of the gradient are used
(`jax.hessian`).

`_Dispatch` turns events into the reporter's `start`, `update` and `close` calls: it counts the
events of a run, so each pass starts once and reaches 100% exactly once, eagerly and under `jit`,
and a compiled program may run its passes any number of times. When `progress` is off none of
this is in the program.
"""

import threading
from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._rules._base import PyTree
from ._primitives import tap, tick
from ._reporters import AbstractProgress, ProgressTask


class _Dispatch:
    """Turns the events of a pass into start / update / close calls.

    Each event is static (it reports a `done` fixed at trace time) or a loop event (it reports
    how many loop events came before it in this run, plus `loop_start`): events inside a loop
    come in order and need no arguments, which keeps them cheap. `num_events` events make one
    run; events outside loops may arrive a little out of order, so the `done` shown is the
    largest yet, and each value is shown at most once.
    """

    def __init__(self, reporter, task: ProgressTask, num_events: int, loop_start: int):
        self.reporter, self.task = reporter, task
        self.num_events, self.loop_start = num_events, loop_start
        self.count = self.looped = self.shown = 0
        self.lock = threading.Lock()

    def event(self, done: int | None) -> Callable[..., None]:
        """The callback of one event (`done` None: a loop event); arguments are ignored (they
        only make XLA call it after they are computed)."""

        def report(*_after) -> None:
            self.report(done)

        return report

    def report(self, done: int | None) -> None:
        """One event: start the run if it is the first, update, close if it is the last."""
        with self.lock:
            if self.count == 0:
                self.looped = self.shown = 0
                self.reporter.start(self.task)
            self.count += 1
            if done is None:
                done = self.loop_start + self.looped
                self.looped += 1
            if done > self.shown:
                self.shown = done
                self.reporter.update(self.task, done)
            if self.count == self.num_events:
                self.count = 0
                self.reporter.close(self.task)


class Meter:
    """The progress instruments of one chunked sum (`reduce_nodes`): N chunks, two passes."""

    def __init__(self, reporter: AbstractProgress, description: str, num_chunks: int):
        self.num_chunks = num_chunks
        num_events = num_chunks + 1 if num_chunks > 1 else 1
        forward = ProgressTask(description, "forward", num_chunks)
        backward = ProgressTask(description, "backward", num_chunks)
        # forward: during chunk j of the loop, j are done; backward: during chunk N-1-m, m
        self.forward = _Dispatch(reporter, forward, num_events, loop_start=1)
        self.backward = _Dispatch(reporter, backward, num_events, loop_start=0)

    def watch(self, chunk, *example_args):
        """`chunk(*args)` as (first(*args), later(*args, number)): chunk 0, computed before the
        loop, and chunk `number` inside it, instrumented for the backward pass."""
        converted, consts = jax.closure_convert(chunk, *example_args)
        consts = tap(consts, self.backward.event(self.num_chunks), follow=True)
        looped = None
        if self.num_chunks > 1:
            looped = tap(consts, self.backward.event(self.num_chunks - 1), follow=True)

        def first(*args):
            return converted(*args, *consts)

        def later(*args, number):
            del number  # the backward loop's events are counted
            summary = converted(*args, *looped)
            return tap(summary, self.backward.event(None), follow=False)

        return first, later

    def during(self, number) -> jax.Array:
        """Inside the loop, while chunk `number` is computed (`number` chunks are done): a tick
        (a zero) for `finish`."""
        return tick(self.forward.event(None), number, follow=False)

    def done(self, number: int, after: PyTree) -> jax.Array:
        """Chunk `number` and all before it are done once `after` is computed: a tick."""
        return tick(self.forward.event(number + 1), after, follow=True)

    def finish(self, total: PyTree, ticks: list) -> PyTree:
        """The sum, all chunks done: `total` plus the ticks (zeros), so that the forward events
        are computed exactly when the sum (or its derivative in forward mode) is."""
        ticks = [*ticks, self.done(self.num_chunks - 1, total)]
        return _attach(total, sum(jnp.sum(zero) for zero in ticks))


def _add_zero(tree: PyTree, zero: jax.Array) -> PyTree:
    """tree with `zero` added to its first non-empty floating leaf."""
    leaves, structure = jax.tree.flatten(tree)
    for i, leaf in enumerate(leaves):
        if jnp.issubdtype(leaf.dtype, jnp.inexact) and jnp.size(leaf) > 0:
            leaves[i] = leaf + zero.astype(leaf.dtype)
            break
    return jax.tree.unflatten(structure, leaves)


@jax.custom_jvp
def _attach(tree: PyTree, zero: jax.Array) -> PyTree:
    """tree plus a zero computed by ticks: they run if the value is used, or (forward mode) its
    tangent."""
    return _add_zero(tree, zero)


@_attach.defjvp
def _attach_jvp(primals, tangents):
    (tree, zero), (tree_dot, _) = primals, tangents
    return _add_zero(tree, zero), _add_zero(tree_dot, zero)
