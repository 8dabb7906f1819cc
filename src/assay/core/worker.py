"""Workers: threads that claim jobs and run their handlers (inside `assay serve`, or in
separate `assay worker` processes; the claim protocol is the same)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from typing import Any

import assay.core.builtin_jobs  # noqa: F401  (core's job kinds; a pillar's: assay.pillars)
from assay.core import jobs
from assay.core.jobs import JobCancelled, PermanentError

log = logging.getLogger("assay.worker")


class JobContext:
    """What a handler gets: the app context, progress, logs, cancellation."""

    def __init__(
        self, app: Any, job_id: str, attempt: int, worker_id: str, cancelled: threading.Event
    ) -> None:
        self.app = app
        self.job_id = job_id
        self.attempt = attempt
        self.worker_id = worker_id
        self._cancelled = cancelled
        self._last_progress = 0.0

    @property
    def db(self) -> Any:
        return self.app.db

    @property
    def settings(self) -> Any:
        return self.app.settings

    def check_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise JobCancelled

    def progress(
        self, done: float, total: float | None = None, message: str = "", *, force: bool = False
    ) -> None:
        """Report progress (throttled to a few writes a second); raises if cancelled."""
        self.check_cancelled()
        now = time.monotonic()
        if not force and now - self._last_progress < 0.25:
            return
        self._last_progress = now
        fraction = done / total if total else done
        with self.db.write() as session:
            jobs.set_progress(
                session=session,
                job_id=self.job_id,
                worker_id=self.worker_id,
                progress=fraction,
                message=message,
            )

    def log(self, message: str, level: str = "info") -> None:
        from assay.core import models

        with self.db.write() as session:
            session.add(
                models.JobLog(
                    job_id=self.job_id, attempt=self.attempt, level=level, message=message[:10_000]
                )
            )


class WorkerPool:
    """N worker threads plus one thread that renews their leases, requeues dead ones and
    runs the periodic duties (`jobs.duty`)."""

    def __init__(
        self, app: Any, *, threads: int, name: str = "worker", kinds: set[str] | None = None
    ) -> None:
        self.app = app
        self.threads = threads
        # Claim only what this process can run: a worker without some plugin leaves those
        # jobs to workers that have it instead of failing them.
        self.kinds = kinds if kinds is not None else set(jobs.registered_kinds())
        self.prefix = f"{socket.gethostname()}:{os.getpid()}:{name}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._running: dict[str, tuple[str, threading.Event]] = {}  # job id -> worker, cancel
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # When each periodic duty runs next (monotonic seconds); a new pool runs them soon.
        self._duty_due: dict[str, float] = {}
        jobs.add_waker(self._wake)

    @property
    def settings(self) -> Any:
        return self.app.settings

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(
                target=self._work,
                args=(f"{self.prefix}-{i}",),
                name=f"assay-worker-{i}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._keep_leases, name="assay-leases", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def wait(self) -> None:
        """Block until stopped (for `assay worker`)."""
        while not self._stop.is_set():
            self._stop.wait(1.0)

    # --- loops --------------------------------------------------------------------------

    def _work(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                ran = self._run_one(worker_id)
            except Exception:
                log.exception("worker %s: unexpected error; backing off", worker_id)
                ran = False
                self._stop.wait(self.settings.job_poll_seconds)
            if not ran:
                self._wake.wait(self.settings.job_poll_seconds)
                self._wake.clear()

    def _keep_leases(self) -> None:
        interval = max(0.05, min(self.settings.job_lease_seconds / 3, 5.0))
        while not self._stop.wait(interval):
            try:
                with self._lock:
                    held = dict(self._running)
                by_worker: dict[str, list[str]] = {}
                for job_id, (worker_id, _) in held.items():
                    by_worker.setdefault(worker_id, []).append(job_id)
                with self.app.db.write() as session:
                    for worker_id, ids in by_worker.items():
                        for job_id in jobs.renew_leases(
                            session=session,
                            worker_id=worker_id,
                            job_ids=ids,
                            lease_seconds=self.settings.job_lease_seconds,
                        ):
                            held[job_id][1].set()
                    requeued = jobs.requeue_expired(
                        session=session,
                        retry_base_seconds=self.settings.job_retry_base_seconds,
                        retry_max_seconds=self.settings.job_retry_max_seconds,
                    )
                if requeued:
                    log.warning("requeued %d job(s) whose worker stopped", requeued)
                    self._wake.set()
            except Exception:
                log.exception("lease keeper: unexpected error")
            # After the renewals, which must not wait on housekeeping.
            self._run_duties()

    def _run_duties(self) -> None:
        """Periodic housekeeping (`jobs.duty`), each on its own schedule."""
        now = time.monotonic()
        for duty in jobs.registered_duties():
            if now < self._duty_due.get(duty.name, 0.0):
                continue
            self._duty_due[duty.name] = now + duty.seconds
            try:
                fixed = duty.fn(self.app)
            except Exception:
                log.exception("duty %s: unexpected error", duty.name)
                continue
            if fixed:
                log.info("duty %s: %d fixed", duty.name, fixed)

    def _run_one(self, worker_id: str) -> bool:
        with self.app.db.write() as session:
            job = jobs.claim_next(
                session=session,
                worker_id=worker_id,
                lease_seconds=self.settings.job_lease_seconds,
                kinds=self.kinds,
            )
            if job is None:
                return False
            job_id, kind_name, payload, attempt = job.id, job.kind, dict(job.payload), job.attempts
            cancel_asked = job.cancel_requested
        cancelled = threading.Event()
        if cancel_asked:
            cancelled.set()
        with self._lock:
            self._running[job_id] = (worker_id, cancelled)
        try:
            self._execute(worker_id, job_id, kind_name, payload, attempt, cancelled)
        finally:
            with self._lock:
                self._running.pop(job_id, None)
        return True

    def _execute(
        self,
        worker_id: str,
        job_id: str,
        kind_name: str,
        payload: dict[str, Any],
        attempt: int,
        cancelled: threading.Event,
    ) -> None:
        settings = self.settings
        kind = jobs.get_kind(kind_name)
        ctx = JobContext(self.app, job_id, attempt, worker_id, cancelled)
        try:
            if kind is None:
                raise PermanentError(
                    f"no handler for job kind {kind_name!r} in this process; "
                    "load the plugin that provides it (ASSAY_PLUGINS)"
                )
            ctx.check_cancelled()
            result = kind.handler(ctx, payload)
        except JobCancelled:
            with self.app.db.write() as session:
                jobs.mark_cancelled(session=session, job_id=job_id, worker_id=worker_id)
            return
        except Exception as exc:
            permanent = isinstance(exc, PermanentError)
            detail = (
                str(exc)
                if permanent
                else "".join(traceback.format_exception_only(type(exc), exc)).strip()
            )
            log.warning("job %s (%s) attempt %d failed: %s", job_id, kind_name, attempt, detail)
            with self.app.db.write() as session:
                jobs.fail(
                    session=session,
                    job_id=job_id,
                    worker_id=worker_id,
                    error=detail,
                    permanent=permanent,
                    retry_base_seconds=settings.job_retry_base_seconds,
                    retry_max_seconds=settings.job_retry_max_seconds,
                )
            return
        with self.app.db.write() as session:
            if not jobs.finish(
                session=session,
                job_id=job_id,
                worker_id=worker_id,
                result=result if isinstance(result, dict) else None,
            ):
                log.warning(
                    "job %s finished on %s after its lease was lost; result dropped",
                    job_id,
                    worker_id,
                )
