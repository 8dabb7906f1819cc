"""Where batch compute runs: the jobs that embed items and run hosted models hand each batch
to an executor and write the answers back themselves (the database stays with the job; the
executor's workers only compute).

- `local` (default): the batch runs in the job's own worker thread, one after another.
- `ray` (`ASSAY_COMPUTE=ray`, the `ray` extra): each batch is a Ray remote task on the cluster
  `RAY_ADDRESS` names (Ray reads it), else on a local Ray instance `ray.init()` starts; up to
  `ASSAY_COMPUTE_IN_FLIGHT` batches run at once, their answers come back in order.

The function and its batches must pickle: a module-level function (Ray imports its module on
the worker) and plain data (bytes, strings, numbers, dicts).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class Executor(Protocol):
    name: str

    def map(self, fn: Callable[[In], Out], batches: Iterable[In]) -> Iterator[Out]:
        """`fn(batch)` for each batch, answers in the batches' order; `batches` is read
        lazily, a few ahead of the answers handed back."""
        ...


class InProcess:
    """Each batch in the calling thread, one after another (Assay's behaviour by default)."""

    name = "local"

    def map(self, fn: Callable[[In], Out], batches: Iterable[In]) -> Iterator[Out]:
        for batch in batches:
            yield fn(batch)


class RayExecutor:
    """Each batch a Ray remote task; at most `in_flight` submitted and not yet collected."""

    name = "ray"
    _lock = threading.Lock()

    def __init__(self, *, in_flight: int = 8, init: dict[str, Any] | None = None) -> None:
        try:
            import ray  # type: ignore[import-not-found]
        except ModuleNotFoundError:
            raise RuntimeError(
                "ASSAY_COMPUTE=ray needs Ray installed: pip install 'assay[ray]'"
            ) from None
        self._ray = ray
        self.in_flight = max(1, in_flight)
        with self._lock:
            if not ray.is_initialized():
                # RAY_ADDRESS (when set) names the cluster to join; otherwise a local instance.
                ray.init(**(init or {}))

    def map(self, fn: Callable[[In], Out], batches: Iterable[In]) -> Iterator[Out]:
        remote = self._ray.remote(_apply)
        pending: deque[Any] = deque()
        for batch in batches:
            pending.append(remote.remote(fn, batch))
            if len(pending) >= self.in_flight:
                yield self._ray.get(pending.popleft())
        while pending:
            yield self._ray.get(pending.popleft())


def _apply(fn: Callable[[In], Out], batch: In) -> Out:
    """What a Ray task runs: any picklable callable (a function, a builtin, an object)."""
    return fn(batch)


def executor_from_settings(settings: Any) -> Executor:
    """The executor `ASSAY_COMPUTE` names."""
    if settings.compute == "ray":
        return RayExecutor(in_flight=settings.compute_in_flight)
    return InProcess()
