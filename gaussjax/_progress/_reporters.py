"""What receives progress: `gj.AbstractProgress`, the tqdm bar, and the tasks they are told of
(see `_meter.py` for how the compiled program reports)."""

import abc
import dataclasses


@dataclasses.dataclass(frozen=True, eq=False)
class ProgressTask:
    """One pass over a rule's chunks, as a reporter sees it (compared by identity).

    Attributes:
        description: the public function called and the rule, e.g.
            "gj.expectation GaussHermite(order=10)".
        direction: "forward" (computing the sum, or its tangent in forward mode) or "backward"
            (the backward pass of reverse-mode differentiation).
        total: the number of chunks.

    Example:
        >>> import gaussjax as gj
        >>> task = gj.ProgressTask("gj.expectation GaussHermite(order=10)", "forward", total=16)
        >>> str(task), task.total
        ('gj.expectation GaussHermite(order=10) forward', 16)
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
        >>> import io, jax, jax.numpy as jnp, gaussjax as gj
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
