"""Jobs in one process: claims, retries with backoff, cancellation, progress, logs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

import tests.support.jobkinds  # noqa: F401  (registers the test job kinds)
from assay.core import jobs, models
from assay.core.auth import Actor
from tests.support.polling import wait_for


def enqueue(db, kind: str, payload: dict, **kwargs) -> str:
    with db.write() as session:
        return jobs.enqueue(session=session, kind=kind, payload=payload, **kwargs).id


def job(db, job_id: str) -> models.Job:
    with db.read() as session:
        return jobs.get_job(session=session, job_id=job_id)


def finished(db, job_id: str) -> Callable[[], bool]:
    return lambda: job(db, job_id).status in jobs.TERMINAL


def test_job_runs_and_records_progress_and_result(db, pool):
    job_id = enqueue(db, "test.sleep", {"seconds": 0.3})
    wait_for(finished(db, job_id))
    done = job(db, job_id)
    assert done.status == "succeeded"
    assert done.result == {"slept": 0.3, "attempt": 1}
    assert done.progress == 1.0
    assert done.started_at is not None and done.finished_at >= done.started_at
    with db.read() as session:
        messages = [
            log.message
            for log in jobs.list_logs(session=session, job_id=job_id, cursor=None, limit=50).items
        ]
    assert messages[0].startswith("attempt 1 started on")
    assert messages[-1] == "succeeded"


def test_failed_attempts_are_retried_with_growing_delays(db, settings, pool):
    settings.job_retry_base_seconds = 0.5
    job_id = enqueue(db, "test.flaky", {"failures": 2})
    wait_for(finished(db, job_id))
    done = job(db, job_id)
    assert done.status == "succeeded"
    assert done.attempts == 3
    with db.read() as session:
        logs = jobs.list_logs(session=session, job_id=job_id, cursor=None, limit=50).items
    starts = [log for log in logs if log.message.startswith("attempt") and "started" in log.message]
    failures = [log for log in logs if log.level == "warning"]
    assert len(starts) == 3 and len(failures) == 2
    assert "planned failure on attempt 1" in failures[0].message
    # Backoff doubles (±20 % jitter): the second delay is longer than the first, and no
    # attempt starts before its delay has passed (however slow the machine, never sooner).
    delays = [float(re.search(r"retrying in ([\d.]+)s", f.message).group(1)) for f in failures]
    assert 0.4 <= delays[0] <= 0.6 and 0.8 <= delays[1] <= 1.2
    for failure, delay, start in zip(failures, delays, starts[1:], strict=True):
        assert (start.created_at - failure.created_at).total_seconds() >= delay - 0.06


def test_retry_delay_doubles_up_to_the_cap():
    delays = [jobs.retry_delay(n, base=1.0, cap=10.0) for n in (1, 2, 3, 4, 5, 6)]
    assert 0.8 <= delays[0] <= 1.2
    assert 1.6 <= delays[1] <= 2.4
    assert 3.2 <= delays[2] <= 4.8
    assert all(d <= 12.0 for d in delays)


def test_permanent_error_fails_without_retry(db, pool):
    job_id = enqueue(db, "test.broken", {"reason": "the file is not a CSV"})
    wait_for(finished(db, job_id))
    done = job(db, job_id)
    assert (done.status, done.attempts) == ("failed", 1)
    assert done.error == "the file is not a CSV"


def test_attempts_are_bounded(db, pool):
    job_id = enqueue(db, "test.flaky", {"failures": 10}, max_attempts=2)
    wait_for(finished(db, job_id))
    done = job(db, job_id)
    assert (done.status, done.attempts) == ("failed", 2)
    assert "attempt 2" in done.error


def test_cancel_queued_job_never_runs(db):
    job_id = enqueue(db, "test.sleep", {"seconds": 0.1})
    with db.write() as session:
        jobs.cancel_job(session=session, job=jobs.get_job(session=session, job_id=job_id))
    with db.write() as session:
        assert jobs.claim_next(session=session, worker_id="w", lease_seconds=5) is None
    assert job(db, job_id).status == "cancelled"


def test_cancel_running_job_stops_it(db, pool):
    job_id = enqueue(db, "test.sleep", {"seconds": 30})
    wait_for(lambda: job(db, job_id).status == "running")
    with db.write() as session:
        jobs.cancel_job(session=session, job=jobs.get_job(session=session, job_id=job_id))
    wait_for(finished(db, job_id), timeout=10)
    assert job(db, job_id).status == "cancelled"


def test_cancelling_a_finished_job_is_a_conflict(db, pool):
    job_id = enqueue(db, "test.sleep", {"seconds": 0})
    wait_for(finished(db, job_id))
    with db.write() as session, pytest.raises(jobs.Conflict):
        jobs.cancel_job(session=session, job=jobs.get_job(session=session, job_id=job_id))


def test_expired_lease_is_requeued_and_retried(db, settings):
    job_id = enqueue(db, "test.sleep", {"seconds": 0})
    with db.write() as session:
        claimed = jobs.claim_next(session=session, worker_id="dead-worker", lease_seconds=0.05)
        assert claimed is not None and claimed.id == job_id
    time.sleep(0.1)
    with db.write() as session:
        assert jobs.requeue_expired(session=session, retry_base_seconds=0, retry_max_seconds=0) == 1
    with db.write() as session:
        again = jobs.claim_next(session=session, worker_id="live-worker", lease_seconds=5)
        assert again is not None and again.id == job_id and again.attempts == 2
    # The dead worker coming back cannot overwrite the new owner's work.
    with db.write() as session:
        assert not jobs.finish(
            session=session, job_id=job_id, worker_id="dead-worker", result={"stale": True}
        )
    with db.write() as session:
        assert jobs.finish(
            session=session, job_id=job_id, worker_id="live-worker", result={"ok": True}
        )
    assert job(db, job_id).result == {"ok": True}


def test_claims_follow_run_after_order(db):
    first = enqueue(db, "test.sleep", {})
    second = enqueue(db, "test.sleep", {})
    with db.write() as session:
        assert jobs.claim_next(session=session, worker_id="w", lease_seconds=5).id == first
    with db.write() as session:
        assert jobs.claim_next(session=session, worker_id="w", lease_seconds=5).id == second
    with db.write() as session:
        assert jobs.claim_next(session=session, worker_id="w", lease_seconds=5) is None


def test_idempotency_key_enqueues_once(db):
    a = enqueue(db, "test.sleep", {}, idempotency_key="import-42")
    b = enqueue(db, "test.sleep", {}, idempotency_key="import-42")
    assert a == b
    with db.read() as session:
        assert len(session.scalars(select(models.Job)).all()) == 1


def test_unknown_kind_is_refused(db):
    with db.write() as session, pytest.raises(jobs.Invalid) as raised:
        jobs.enqueue(session=session, kind="no.such.kind")
    assert raised.value.field == "kind"


def test_job_records_the_actors_key_mode(db, accounts):
    account = accounts.make("manager")
    actor = Actor(user_id=account.user.id, email=account.user.email, role="manager", mode="test")
    job_id = enqueue(db, "test.sleep", {}, actor=actor)
    assert (job(db, job_id).mode, job(db, job_id).created_by) == ("test", account.user.id)
