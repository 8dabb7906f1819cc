"""The jobs API: who sees which jobs, cancellation, logs."""

from __future__ import annotations

import tests.support.jobkinds  # noqa: F401
from assay.core import jobs
from assay.core.auth import Actor


def enqueue_as(db, account, kind="test.sleep", payload=None) -> str:
    actor = Actor(user_id=account.user.id, email=account.user.email, role=account.user.role)
    with db.write() as session:
        return jobs.enqueue(session=session, kind=kind, payload=payload or {}, actor=actor).id


def test_labelers_see_only_their_own_jobs(client, db, accounts):
    mine, theirs = accounts.make("labeler"), accounts.make("labeler")
    my_job, their_job = enqueue_as(db, mine), enqueue_as(db, theirs)
    listed = client.get("/api/v1/jobs", headers=mine.headers).json()["items"]
    assert [j["id"] for j in listed] == [my_job]
    assert client.get(f"/api/v1/jobs/{their_job}", headers=mine.headers).status_code == 404
    assert client.post(f"/api/v1/jobs/{their_job}/cancel", headers=mine.headers).status_code == 404
    manager = accounts.make("manager")
    ids = {j["id"] for j in client.get("/api/v1/jobs", headers=manager.headers).json()["items"]}
    assert ids == {my_job, their_job}


def test_filters_cancel_and_logs(client, db, accounts):
    manager = accounts.make("manager")
    job_id = enqueue_as(db, manager)
    other = enqueue_as(db, manager, kind="test.flaky")
    queued = client.get(
        "/api/v1/jobs", headers=manager.headers, params={"status": "queued", "kind": "test.sleep"}
    ).json()["items"]
    assert [j["id"] for j in queued] == [job_id]
    cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=manager.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=manager.headers)
    assert again.status_code == 409
    logs = client.get(f"/api/v1/jobs/{job_id}/logs", headers=manager.headers).json()["items"]
    assert [entry["message"] for entry in logs] == ["cancelled before it ran"]
    assert client.get(f"/api/v1/jobs/{other}", headers=manager.headers).json()["status"] == "queued"
    bad = client.get("/api/v1/jobs", headers=manager.headers, params={"status": "done"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"
