r"""Progress of a chunked run, reported from inside the compiled loop, forward and backward.

With `batch_size`, $\sum_i w_i\, g(\xi_i)$ is chunk 0, then a `lax.scan` over chunks 1 .. N-1. A
**pass** is one sweep over the N chunks: the *forward* pass that computes the sum, or the
*backward* pass of reverse-mode differentiation (`jax.grad`, `jax.vjp`, `jax.jacrev`), which
visits them in reverse order. Each pass reports `done`, the chunks finished, by callbacks:

- Forward: after chunk 0, `done = 1`; inside the loop (in the scan body, outside its
  rematerialised part, so that the backward pass does not replay it), while chunk j is
  computed, `done = j`; after the loop, `done = N`. These are `jax.pure_callback`s whose
  results (zeros) are added to the sum: they run exactly when the sum is computed, and not at
  all where XLA leaves it out because nothing needs it (`jit(grad(...))` only needs the
  backward pass, and the forward loop is then removed, callbacks with it).
- Backward: the summary of chunk j >= 1 passes through an identity (`_tap_p`) whose *transpose*
  reports `done = N - 1 - j` (a `jax.debug.callback`) while chunk j's backward runs; the values
  the chunks read (found by `jax.closure_convert`) pass through two more: one on their use by the
  loop, whose transpose reports `done = N - 1` when the loop's backward is over, and one on all
  their uses, reporting `done = N` after chunk 0's backward, the last work of the pass.

Inside a loop, iterations run in order, and an event may run at any time during its own
iteration, overlapping the chunk's work: what it reports is true throughout. Events outside a
loop carry one number of the data they follow (`_first_p`: the first element, of the first
member of a `vmap` batch), so that XLA runs them after that data exists, and once under `vmap`;
only these few (three or fewer per pass) wait for the work. The reporter's `start`, `update`
and `close` are called by `_Dispatch`, which counts events (N + 1 per pass, 1 for a single
chunk) and then closes: each pass starts once and reaches 100% exactly once, eagerly and under
`jit`, and a compiled program may run its passes any number of times.

When `progress` is off none of this is in the program.
"""

import abc
import dataclasses
import threading

import jax
import jax.numpy as jnp
import numpy as np
from jax import core as jax_core
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from ._rules._base import PyTree


@dataclasses.dataclass(frozen=True, eq=False)
class ProgressTask:
    """One pass over a rule's chunks, as a reporter sees it (compared by identity).

    Attributes:
        description: the public function called and the rule, e.g.
            "gj.expectation GaussHermite(order=10)".
        direction: "forward" (computing the sum) or "backward" (reverse-mode differentiation).
        total: the number of chunks.
    """

    description: str
    direction: str
    total: int

    def __str__(self) -> str:
        return f"{self.description} {self.direction}"


class AbstractProgress(abc.ABC):
    r"""Receives the progress of long runs: pass an instance as `progress=`.

    For every pass over a rule's chunks (see `gj.ProgressTask`), `start(task)` is called once,
    then `update(task, done)` with `done` rising to `task.total` (each value at most once, the
    last exactly once), then `close(task)` once. Calls come from JAX's callback thread while the
    compiled program runs; a task may be run again (a jitted function called again), starting
    afresh each time. `progress=True` is `gj.TqdmProgress()`.

    Example:
        A reporter that logs instead of printing bars:

        >>> import logging, jax, jax.numpy as jnp, gaussjax as gj
        >>> class Log(gj.AbstractProgress):
        ...     def start(self, task):
        ...         logging.info("%s: %d chunks", task, task.total)
        ...     def update(self, task, done):
        ...         if done == task.total:
        ...             print(f"{task}: {done}/{task.total}")
        ...     def close(self, task):
        ...         logging.info("%s done", task)
        >>> rule = gj.GaussHermite(order=10)
        >>> z = lambda m: gj.expectation(jnp.sin, m, jnp.eye(1), rule=rule, batch_size=4,
        ...                              progress=Log())[0]
        >>> g = jax.grad(z)(jnp.zeros(1)); jax.effects_barrier()
        gj.expectation GaussHermite(order=10) forward: 3/3
        gj.expectation GaussHermite(order=10) backward: 3/3
    """

    @abc.abstractmethod
    def start(self, task: ProgressTask) -> None:
        """A pass begins (nothing of it is done yet)."""

    @abc.abstractmethod
    def update(self, task: ProgressTask, done: int) -> None:
        """`done` of `task.total` chunks are done."""

    @abc.abstractmethod
    def close(self, task: ProgressTask) -> None:
        """The pass is over (after `update(task, task.total)`)."""


class TqdmProgress(AbstractProgress):
    """A tqdm progress bar per pass, advancing chunk by chunk (`progress=True`).

    Args:
        **options: passed to `tqdm.tqdm` (e.g. `file=`, `leave=False`, `mininterval=`).

    Raises:
        ImportError: tqdm is not installed (`pip install "gaussjax[progress]"`).

    Example:
        >>> import io, jax.numpy as jnp, gaussjax as gj
        >>> out = io.StringIO()
        >>> z = gj.expectation(jnp.cos, jnp.zeros(1), jnp.eye(1), rule=gj.GaussHermite(order=8),
        ...                    batch_size=2, progress=gj.TqdmProgress(file=out))
        >>> jax.effects_barrier()
        >>> "4/4" in out.getvalue()
        True
    """

    def __init__(self, **options):
        try:
            import tqdm  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "progress=True draws a tqdm progress bar, and tqdm is not installed: "
                'pip install "gaussjax[progress]" (or tqdm), or pass your own '
                "gj.AbstractProgress."
            ) from error
        self.options = {"unit": "chunk", **options}
        self._bars = {}

    def start(self, task: ProgressTask) -> None:
        import tqdm

        self._bars[task] = tqdm.tqdm(total=task.total, desc=str(task), **self.options)

    def update(self, task: ProgressTask, done: int) -> None:
        bar = self._bars[task]
        bar.update(done - bar.n)

    def close(self, task: ProgressTask) -> None:
        self._bars.pop(task).close()


def resolve_progress(progress, caller: str) -> AbstractProgress | None:
    """None / False / True / a reporter -> the reporter (None: off), or a clear error."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return TqdmProgress()
    if isinstance(progress, AbstractProgress):
        return progress
    raise TypeError(
        f"{caller}: progress must be True (a tqdm bar), False/None (off) or a "
        f"gj.AbstractProgress, got {progress!r}."
    )


class _Dispatch:
    """Turns a pass's events into start / update / close calls: `num_events` events make one
    run of the pass (they may arrive slightly out of order; `done` shown is the largest yet)."""

    def __init__(self, reporter: AbstractProgress, task: ProgressTask, num_events: int):
        self.reporter, self.task, self.num_events = reporter, task, num_events
        self.count, self.shown = 0, 0
        self.lock = threading.Lock()

    def __call__(self, done, *_probe) -> None:
        done = int(np.max(done))
        with self.lock:
            if self.count == 0:
                self.shown = 0
                self.reporter.start(self.task)
            self.count += 1
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
        self.forward = _Dispatch(reporter, forward, num_events)
        self.backward = _Dispatch(reporter, backward, num_events)

    def watch(self, chunk, *example_args):
        """`chunk(*args)` as (first(*args), later(*args, number)): chunk 0, computed before the
        loop, and chunk `number` inside it, instrumented for the backward pass."""
        converted, consts = jax.closure_convert(chunk, *example_args)
        consts = _tap(consts, self.num_chunks, self.backward, follow=True)
        looped = None
        if self.num_chunks > 1:
            looped = _tap(consts, self.num_chunks - 1, self.backward, follow=True)

        def first(*args):
            return converted(*args, *consts)

        def later(*args, number):
            summary = converted(*args, *looped)
            return _tap(summary, self.num_chunks - 1 - number, self.backward, follow=False)

        return first, later

    def during(self, number) -> jax.Array:
        """Inside the loop, while chunk `number` is computed: `number` chunks are done. Returns
        a tick (a zero) for `finish`."""
        return _tick(self.forward, number, None)

    def done(self, number, after: PyTree) -> jax.Array:
        """Chunk `number` and all before it are done once `after` is computed; a tick."""
        return _tick(self.forward, number + 1, after)

    def finish(self, total: PyTree, ticks: list) -> PyTree:
        """The sum, all chunks done: `total` plus the ticks (zeros), so that the forward events
        run exactly when the sum is computed."""
        ticks = [*ticks, self.done(self.num_chunks - 1, total)]
        leaves, structure = jax.tree.flatten(total)
        for i, leaf in enumerate(leaves):
            if jnp.issubdtype(leaf.dtype, jnp.inexact) and jnp.size(leaf) > 0:
                zero = sum(jnp.sum(tick) for tick in ticks)
                leaves[i] = leaf + zero.astype(leaf.dtype)
                break
        return jax.tree.unflatten(structure, leaves)


def _probe(after: PyTree | None) -> tuple:
    """() or (one number of `after`, unbatched): a callback given it runs after `after`."""
    leaves = [leaf for leaf in jax.tree.leaves(after) if jnp.size(leaf) > 0]
    return () if not leaves else (_first_p.bind(jax.lax.stop_gradient(leaves[0])),)


def _tick(dispatch: _Dispatch, done, after: PyTree | None) -> jax.Array:
    """`dispatch(done)` as a pure callback returning a zero (float32), once `after` exists."""

    def report(done, *probe):
        dispatch(done)
        return np.zeros((), np.float32)

    zero = jax.ShapeDtypeStruct((), jnp.float32)
    done = jnp.asarray(done, jnp.int32)
    return jax.pure_callback(report, zero, done, *_probe(after), vmap_method="broadcast_all")


def _event(dispatch: _Dispatch, done, after: PyTree | None) -> None:
    """`dispatch(done)` as a debug callback (an effect), once `after` exists."""
    jax.debug.callback(dispatch, jnp.asarray(done, jnp.int32), *_probe(after))


# ---- _first_p: x.ravel()[0], unbatched under vmap (the first member of the batch) ----------

_first_p = Primitive("gaussjax_first_element")


def _first(x):
    return jnp.ravel(x)[0]


_first_p.def_impl(_first)
_first_p.def_abstract_eval(lambda x: jax_core.ShapedArray((), x.dtype))
mlir.register_lowering(_first_p, mlir.lower_fun(_first, multiple_results=False))


def _first_batch(args, dims):
    (x,), (dim,) = args, dims
    return _first_p.bind(jnp.take(x, 0, axis=dim)), None


batching.primitive_batchers[_first_p] = _first_batch


# ---- _tap_p: the identity on its leaves; its transpose reports `done` to a dispatch ---------

_tap_p = Primitive("gaussjax_progress_tap")
_tap_p.multiple_results = True


def _tap_impl(*args, dispatch, follow):
    del dispatch, follow
    return list(args[:-1])


_tap_p.def_impl(_tap_impl)
_tap_p.def_abstract_eval(lambda *avals, dispatch, follow: list(avals[:-1]))
mlir.register_lowering(_tap_p, mlir.lower_fun(_tap_impl, multiple_results=True))


def _tap_jvp(primals, tangents, **params):
    *leaves, done = primals
    tangents = [ad.instantiate_zeros(t) for t in tangents[:-1]]
    return leaves, _tap_p.bind(*tangents, done, **params)


def _tap_transpose(cotangents, *args, dispatch, follow):
    *leaves, done = args
    if all(type(ct) is ad.Zero for ct in cotangents):  # nothing flows back: no backward work
        return [None] * len(args)
    cotangents = [
        jnp.zeros(leaf.aval.shape, leaf.aval.dtype) if type(ct) is ad.Zero else ct
        for ct, leaf in zip(cotangents, leaves, strict=True)
    ]
    _event(dispatch, done, cotangents if follow else None)
    return [*cotangents, None]


def _tap_batch(args, dims, **params):
    return _tap_p.bind(*args, **params), list(dims[:-1])


ad.primitive_jvps[_tap_p] = _tap_jvp
ad.primitive_transposes[_tap_p] = _tap_transpose
batching.primitive_batchers[_tap_p] = _tap_batch


def _tap(tree: PyTree, done, dispatch: _Dispatch, follow: bool) -> PyTree:
    """tree unchanged; where it is differentiated in reverse mode, `dispatch(done)` runs when
    its cotangent arrives (`follow`: after the cotangent is computed, else at any time in the
    loop iteration that computes it)."""
    leaves, structure = jax.tree.flatten(tree)
    where = [i for i, leaf in enumerate(leaves) if jnp.issubdtype(leaf.dtype, jnp.inexact)]
    if not where:
        return tree
    tapped = _tap_p.bind(
        *(leaves[i] for i in where), jnp.asarray(done, jnp.int32), dispatch=dispatch, follow=follow
    )
    for i, leaf in zip(where, tapped, strict=True):
        leaves[i] = leaf
    return jax.tree.unflatten(structure, leaves)
