"""`client.jobs` against a real `assay serve` whose workers run the test job kinds."""

from __future__ import annotations

import time

import pytest

import tests.support.jobkinds  # noqa: F401  (registers the kinds enqueued here)
from assay.core import jobs
from assay.sdk import Conflict, JobCancelled, JobFailed, NotFound, WaitTimeout

pytestmark = pytest.mark.live


def enqueue(db, kind: str, payload: dict) -> str:
    with db.write() as session:
        return jobs.enqueue(session=session, kind=kind, payload=payload).id


def test_jobs_wait_list_get_logs_and_cancel(connect, server, accounts, db, tmp_path):
    admin, labeler = accounts.make("admin"), accounts.make("labeler")
    client = connect(server.url, admin.key)
    out = tmp_path / "record.txt"
    record = enqueue(db, "test.record", {"path": str(out), "line": "hello"})
    failing = enqueue(db, "test.fail", {"message": "no luck"})
    sleeper = enqueue(db, "test.sleep", {"seconds": 120})

    done = client.jobs.wait(record, timeout=60, poll=0.05)
    assert (done.status, done.result["written"], done.finished) == ("succeeded", "hello", True)
    assert out.read_text() == "hello\n"

    with pytest.raises(JobFailed) as failed:
        client.jobs.wait(failing, timeout=60, poll=0.05)
    assert failed.value.job.status == "failed" and "no luck" in str(failed.value)

    deadline = time.monotonic() + 60
    while client.jobs.get(sleeper).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(WaitTimeout) as unfinished:
        client.jobs.wait(sleeper, timeout=0.1, poll=0.05)
    assert unfinished.value.job.status == "running"

    asked = client.jobs.cancel(sleeper)
    assert asked.cancel_requested and asked.status == "running"
    with pytest.raises(JobCancelled) as cancelled:
        client.jobs.wait(sleeper, timeout=60, poll=0.05)
    assert cancelled.value.job.status == "cancelled"
    messages = [line.message for line in client.jobs.logs(sleeper)]
    assert "cancellation requested" in messages and messages[-1] == "cancelled while running"
    with pytest.raises(Conflict):
        client.jobs.cancel(sleeper)

    assert [j.id for j in client.jobs.list(page_size=1)] == [sleeper, failing, record]
    assert [j.id for j in client.jobs.list(kind="test.sleep")] == [sleeper]
    assert [j.id for j in client.jobs.list(status="succeeded")] == [record]

    with pytest.raises(NotFound):  # labelers only see their own jobs
        connect(server.url, labeler.key).jobs.get(record)
