"""Persisted jobs: long work runs here, never inside a request.

A job is claimed by exactly one worker (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the
claim runs in a BEGIN IMMEDIATE transaction). The claiming worker holds a lease that it
renews while the job runs; a job whose lease ran out (its worker died) goes back to the queue
and is retried, up to `max_attempts`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from assay.core import dialects, models
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import AssayError, Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


class JobCancelled(Exception):
    """Raised inside a handler when its job was cancelled."""


class PermanentError(Exception):
    """Raised by a handler for failures that a retry cannot fix."""


@contextmanager
def refusals_as_user_errors() -> Iterator[None]:
    """A domain refusal inside a job fails it for good as the user's error (JSON: error and
    field), which answers tell from a server failure."""
    try:
        yield
    except AssayError as error:
        raise PermanentError(json.dumps({"error": error.message, "field": error.field})) from None


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Callable[..., dict[str, Any] | None]
    max_attempts: int = 3
    description: str = ""
    # Called in the failing transaction when a job gives up, however it failed (including
    # a worker that died on the last attempt), so the kind can mark its own records.
    on_failed: Callable[[Session, models.Job], None] | None = None


_kinds: dict[str, JobKind] = {}


def job_kind(
    name: str,
    *,
    max_attempts: int = 3,
    description: str = "",
    on_failed: Callable[[Session, models.Job], None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler `fn(ctx: JobContext, payload: dict) -> dict | None`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _kinds[name] = JobKind(
            name, fn, max_attempts, description or (fn.__doc__ or "").strip(), on_failed
        )
        return fn

    return register


@dataclass(frozen=True)
class Duty:
    """Housekeeping every worker process runs every `seconds` (`fn(app_context) -> int`, how
    many things it fixed). Several processes may run it at once: it must be idempotent."""

    name: str
    seconds: float
    fn: Callable[[Any], int]


_duties: dict[str, Duty] = {}


def duty(name: str, *, seconds: float) -> Callable[[Callable[[Any], int]], Callable[[Any], int]]:
    """Register a periodic duty (see `Duty`)."""

    def register(fn: Callable[[Any], int]) -> Callable[[Any], int]:
        _duties[name] = Duty(name, seconds, fn)
        return fn

    return register


def registered_duties() -> list[Duty]:
    return list(_duties.values())


def get_kind(name: str) -> JobKind | None:
    return _kinds.get(name)


def registered_kinds() -> dict[str, JobKind]:
    return dict(_kinds)


# Local wake-ups: a job enqueued in this process wakes this process's idle workers at once,
# after the enqueuing transaction commits. Other processes find it on their next poll.
_wakers: weakref.WeakSet[threading.Event] = weakref.WeakSet()


def add_waker(waker: threading.Event) -> None:
    _wakers.add(waker)


@event.listens_for(Session, "after_commit")
def _wake_workers(session: Session) -> None:
    if session.info.pop("assay_jobs_enqueued", False):
        for waker in list(_wakers):
            waker.set()


def enqueue(
    *,
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    actor: Actor | None = None,
    max_attempts: int | None = None,
    run_after: dt.datetime | None = None,
    idempotency_key: str | None = None,
) -> models.Job:
    """Add a job in the caller's transaction; it becomes visible to workers on commit."""
    registered = _kinds.get(kind)
    if registered is None:
        raise Invalid(f"unknown job kind {kind!r}", field="kind")
    if idempotency_key is not None:
        existing = session.scalar(
            select(models.Job).where(models.Job.idempotency_key == idempotency_key)
        )
        if existing is not None:
            if existing.kind != kind:
                raise Conflict(
                    f"idempotency key {idempotency_key!r} belongs to another job",
                    field="idempotency_key",
                )
            return existing
    job = models.Job(
        kind=kind,
        payload=payload or {},
        max_attempts=max_attempts or registered.max_attempts,
        run_after=run_after or utcnow(),
        mode=actor.mode if actor else "live",
        created_by=actor.user_id if actor and actor.via != "system" else None,
        idempotency_key=idempotency_key,
    )
    session.add(job)
    session.flush()
    session.info["assay_jobs_enqueued"] = True
    return job


def get_job(*, session: Session, job_id: str) -> models.Job:
    job = session.get(models.Job, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id}", field="job_id")
    return job


def list_jobs(
    *,
    session: Session,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    kind: str | None = None,
    created_by: str | None = None,
    mode: str | None = None,
) -> PageResult[models.Job]:
    stmt = select(models.Job)
    if mode is not None:
        stmt = stmt.where(models.Job.mode == mode)
    if status is not None:
        stmt = stmt.where(models.Job.status == status)
    if kind is not None:
        stmt = stmt.where(models.Job.kind == kind)
    if created_by is not None:
        stmt = stmt.where(models.Job.created_by == created_by)
    return paginate(session, stmt, key=models.Job.id, cursor=cursor, limit=limit)


def list_logs(
    *, session: Session, job_id: str, cursor: str | None, limit: int
) -> PageResult[models.JobLog]:
    stmt = select(models.JobLog).where(models.JobLog.job_id == job_id)
    return paginate(
        session, stmt, key=models.JobLog.id, cursor=cursor, limit=limit, newest_first=False
    )


def cancel_job(*, session: Session, job: models.Job) -> models.Job:
    """Queued jobs stop at once; running ones are asked to stop at their next checkpoint."""
    if job.status in TERMINAL:
        raise Conflict(f"job {job.id} already {job.status}; nothing to cancel", field="job_id")
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
        add_log(session=session, job=job, message="cancelled before it ran")
    else:
        job.cancel_requested = True
        add_log(session=session, job=job, message="cancellation requested")
    return job


def add_log(*, session: Session, job: models.Job, message: str, level: str = "info") -> None:
    session.add(
        models.JobLog(job_id=job.id, attempt=job.attempts, level=level, message=message[:10_000])
    )


# --- the worker side -----------------------------------------------------------------


def claim_next(
    *, session: Session, worker_id: str, lease_seconds: float, kinds: set[str] | None = None
) -> models.Job | None:
    """Take the oldest due queued job, or None. Call inside a write transaction."""
    now = utcnow()
    stmt = (
        select(models.Job)
        .where(models.Job.status == "queued", models.Job.run_after <= now)
        .order_by(models.Job.run_after, models.Job.id)
        .limit(1)
    )
    if kinds is not None:
        stmt = stmt.where(models.Job.kind.in_(kinds))
    job = session.scalar(dialects.skip_locked(stmt, session.get_bind().dialect.name))
    if job is None:
        return None
    job.status = "running"
    job.attempts += 1
    job.locked_by = worker_id
    job.lease_expires_at = now + dt.timedelta(seconds=lease_seconds)
    job.started_at = job.started_at or now
    add_log(session=session, job=job, message=f"attempt {job.attempts} started on {worker_id}")
    return job


def requeue_expired(
    *, session: Session, retry_base_seconds: float, retry_max_seconds: float
) -> int:
    """Return jobs whose worker stopped renewing its lease (it crashed) to the queue."""
    now = utcnow()
    stmt = (
        select(models.Job)
        .where(models.Job.status == "running", models.Job.lease_expires_at < now)
        .limit(100)
    )
    expired = list(session.scalars(dialects.skip_locked(stmt, session.get_bind().dialect.name)))
    for job in expired:
        reason = f"worker {job.locked_by} stopped renewing its lease (crashed or killed)"
        _retry_or_fail(
            job,
            session=session,
            error=reason,
            now=now,
            base=retry_base_seconds,
            cap=retry_max_seconds,
        )
    return len(expired)


def renew_leases(
    *, session: Session, worker_id: str, job_ids: list[str], lease_seconds: float
) -> set[str]:
    """Extend the leases this worker holds; returns the ids whose cancellation was asked."""
    if not job_ids:
        return set()
    session.execute(
        update(models.Job)
        .where(
            models.Job.id.in_(job_ids),
            models.Job.locked_by == worker_id,
            models.Job.status == "running",
        )
        .values(lease_expires_at=utcnow() + dt.timedelta(seconds=lease_seconds))
    )
    return set(
        session.scalars(
            select(models.Job.id).where(models.Job.id.in_(job_ids), models.Job.cancel_requested)
        )
    )


def _owned(session: Session, job_id: str, worker_id: str) -> models.Job | None:
    """The job if this worker still holds it; after a lost lease, another worker owns it."""
    job = session.get(models.Job, job_id, with_for_update=True)
    if job is None or job.status != "running" or job.locked_by != worker_id:
        return None
    return job


def finish(*, session: Session, job_id: str, worker_id: str, result: dict[str, Any] | None) -> bool:
    job = _owned(session, job_id, worker_id)
    if job is None:
        return False
    job.status, job.result, job.progress = "succeeded", result, 1.0
    job.finished_at, job.locked_by, job.lease_expires_at = utcnow(), None, None
    add_log(session=session, job=job, message="succeeded")
    return True


def mark_cancelled(*, session: Session, job_id: str, worker_id: str) -> bool:
    job = _owned(session, job_id, worker_id)
    if job is None:
        return False
    job.status, job.finished_at, job.locked_by, job.lease_expires_at = (
        "cancelled",
        utcnow(),
        None,
        None,
    )
    add_log(session=session, job=job, message="cancelled while running")
    return True


def fail(
    *,
    session: Session,
    job_id: str,
    worker_id: str,
    error: str,
    permanent: bool,
    retry_base_seconds: float,
    retry_max_seconds: float,
) -> bool:
    job = _owned(session, job_id, worker_id)
    if job is None:
        return False
    if permanent:
        job.max_attempts = job.attempts
    _retry_or_fail(
        job,
        session=session,
        error=error,
        now=utcnow(),
        base=retry_base_seconds,
        cap=retry_max_seconds,
    )
    return True


def retry_delay(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with ±20 % jitter so retries of many jobs do not stampede."""
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


def _retry_or_fail(
    job: models.Job, *, session: Session, error: str, now: dt.datetime, base: float, cap: float
) -> None:
    job.error = error[:10_000]
    job.locked_by, job.lease_expires_at = None, None
    if job.attempts >= job.max_attempts:
        job.status, job.finished_at = "failed", now
        add_log(
            session=session,
            job=job,
            level="error",
            message=f"attempt {job.attempts} failed, no attempts left: {error}",
        )
        kind = _kinds.get(job.kind)
        if kind is not None and kind.on_failed is not None:
            kind.on_failed(session, job)
        return
    delay = retry_delay(job.attempts, base=base, cap=cap)
    job.status, job.run_after = "queued", now + dt.timedelta(seconds=delay)
    add_log(
        session=session,
        job=job,
        level="warning",
        message=f"attempt {job.attempts} failed, retrying in {delay:.1f}s: {error}",
    )


def set_progress(
    *, session: Session, job_id: str, worker_id: str, progress: float, message: str
) -> bool:
    """Record progress; False if this worker no longer holds the job."""
    result = session.execute(
        update(models.Job)
        .where(
            models.Job.id == job_id,
            models.Job.locked_by == worker_id,
            models.Job.status == "running",
        )
        .values(progress=max(0.0, min(1.0, progress)), progress_message=message[:500])
    )
    return bool(result.rowcount)
