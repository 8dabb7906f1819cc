"""Job kinds for tests, loaded as a plugin (ASSAY_PLUGINS=tests.support.jobkinds).

They go through the same registration as built-in kinds; workers in other processes load
this module through the plugin setting.
"""

from __future__ import annotations

import os
import time
from typing import Any

from assay.core.jobs import PermanentError, job_kind


@job_kind("test.sleep", max_attempts=3)
def sleep(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Sleep `seconds`, reporting progress and honouring cancellation."""
    seconds = float(payload.get("seconds", 1.0))
    steps = max(1, int(seconds / 0.05))
    for step in range(steps):
        ctx.progress(step, steps, f"slept {step * seconds / steps:.2f}s")
        time.sleep(seconds / steps)
    return {"slept": seconds, "attempt": ctx.attempt}


@job_kind("test.record", max_attempts=3)
def record(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Append `line` (default `<job id> <worker id>`) to the file at `path`: a run count per
    job that survives crashes."""
    hold = float(payload.get("hold", 0.0))
    if hold:
        time.sleep(hold)
    line = payload.get("line", f"{ctx.job_id} {ctx.worker_id}") + "\n"
    fd = os.open(payload["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return {"worker": ctx.worker_id, "written": line.rstrip("\n")}


@job_kind("test.flaky", max_attempts=4)
def flaky(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Fail the first `failures` attempts, then succeed."""
    if ctx.attempt <= int(payload.get("failures", 1)):
        raise RuntimeError(f"planned failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@job_kind("test.broken", max_attempts=5)
def broken(ctx: Any, payload: dict[str, Any]) -> None:
    """Fail permanently: a retry cannot help."""
    raise PermanentError(payload.get("reason", "input can never work"))


@job_kind("test.fail", max_attempts=1)
def fail(ctx: Any, payload: dict[str, Any]) -> None:
    """Fail at once with `message`."""
    raise PermanentError(payload.get("message", "failed on purpose"))
