"""`client.jobs`: background jobs, their logs, and waiting for them."""

from __future__ import annotations

import time
from collections.abc import Iterator

from assay.sdk._api.jobs import JobsAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.errors import JobCancelled, JobFailed, WaitTimeout
from assay.sdk.models import Job, JobLog


class Jobs:
    def __init__(self, http: HTTP) -> None:
        self._api = JobsAPI(http)

    def get(self, job_id: str) -> Job:
        return self._api.get(job_id=job_id)

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Job]:
        """Jobs you may see (managers: all), newest first, fetched lazily."""
        return iterate(
            lambda cursor: self._api.list(
                params={"status": status, "kind": kind, "cursor": cursor, "limit": page_size}
            )
        )

    def cancel(self, job_id: str) -> Job:
        """Cancel: a queued job stops at once, a running one at its next checkpoint."""
        return self._api.cancel(job_id=job_id)

    def logs(self, job_id: str) -> list[JobLog]:
        """Every log line of the job, oldest first."""
        return list(
            iterate(
                lambda cursor: self._api.logs(
                    job_id=job_id, params={"cursor": cursor, "limit": 1000}
                )
            )
        )

    def wait(self, job_id: str, *, timeout: float | None = None, poll: float = 1.0) -> Job:
        """The job once it succeeded. Raises `JobFailed` (or `JobCancelled`) if it ended
        otherwise, `WaitTimeout` if it is still unfinished after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.status == "succeeded":
                return job
            if job.status == "cancelled":
                raise JobCancelled(f"job {job_id} ({job.kind}) was cancelled", job=job)
            if job.status == "failed":
                raise JobFailed(
                    f"job {job_id} ({job.kind}) failed after {job.attempts} attempt(s): "
                    f"{job.error}",
                    job=job,
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"job {job_id} ({job.kind}) still {job.status} after {timeout}s "
                    f"({job.progress:.0%} done)",
                    job=job,
                )
            pause = poll if deadline is None else min(poll, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
