"""Waiting for something that happens in another thread or process, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def finished_job(client, account, job_id: str, timeout: float = 120.0) -> dict:
    """The job (through /api/v1/jobs) once it succeeded, failed or was cancelled."""
    found: dict = {}

    def done() -> bool:
        found.update(client.get(f"/api/v1/jobs/{job_id}", headers=account.headers).json())
        return found["status"] in ("succeeded", "failed", "cancelled")

    wait_for(done, timeout=timeout, interval=0.1)
    return found
