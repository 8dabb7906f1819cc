"""Test keys are a sandbox: live keys, live jobs, live webhooks and live idempotency records
do not exist to a request made with a test key (and test ones do not exist to live keys)."""

from __future__ import annotations

import tests.support.jobkinds  # noqa: F401
from assay.core import jobs
from assay.core.auth import Actor

WEBHOOK = {"url": "http://127.0.0.1:9/hook", "events": ["task.completed"]}


def _enqueue(db, account, mode: str) -> str:
    user = account.user
    actor = Actor(user_id=user.id, email=user.email, role=user.role, mode=mode)
    with db.write() as session:
        return jobs.enqueue(session=session, kind="test.sleep", actor=actor).id


def test_a_test_key_cannot_create_or_revoke_a_live_key(client, admin, accounts):
    made = client.post("/api/v1/keys", headers=admin.test_headers, json={"mode": "live"})
    assert made.status_code == 403, made.text
    assert "live API key" in made.json()["error"]["message"]
    labeler = accounts.make("labeler")
    for_other = client.post(
        "/api/v1/keys",
        headers=admin.test_headers,
        json={"mode": "live", "user_id": labeler.user.id},
    )
    assert for_other.status_code == 403
    # Test keys are fine to make with a test key.
    test = client.post("/api/v1/keys", headers=admin.test_headers, json={"mode": "test"})
    assert test.status_code == 201 and test.json()["key"].startswith("test_")
    live_id = next(
        k["id"]
        for k in client.get("/api/v1/keys", headers=admin.headers).json()["items"]
        if k["mode"] == "live"
    )
    assert client.delete(f"/api/v1/keys/{live_id}", headers=admin.test_headers).status_code == 403
    assert client.get("/api/v1/me", headers=admin.headers).status_code == 200


def test_a_test_key_sees_only_test_jobs(client, db, accounts):
    manager = accounts.make("manager")
    live_job, test_job = _enqueue(db, manager, "live"), _enqueue(db, manager, "test")
    listed = client.get("/api/v1/jobs", headers=manager.test_headers).json()["items"]
    assert [j["id"] for j in listed] == [test_job]
    for path in (f"/api/v1/jobs/{live_job}", f"/api/v1/jobs/{live_job}/logs"):
        assert client.get(path, headers=manager.test_headers).status_code == 404
    cancel = client.post(f"/api/v1/jobs/{live_job}/cancel", headers=manager.test_headers)
    assert cancel.status_code == 404
    live_listed = client.get("/api/v1/jobs", headers=manager.headers).json()["items"]
    assert [j["id"] for j in live_listed] == [live_job]


def test_a_test_key_cannot_read_or_change_live_webhooks(client, accounts):
    manager = accounts.make("manager")
    live = client.post("/api/v1/webhooks", headers=manager.headers, json=WEBHOOK)
    assert live.status_code == 201, live.text
    live_id = live.json()["id"]
    test = client.post("/api/v1/webhooks", headers=manager.test_headers, json=WEBHOOK).json()

    listed = client.get("/api/v1/webhooks", headers=manager.test_headers).json()["items"]
    assert [w["id"] for w in listed] == [test["id"]]
    sandbox = manager.test_headers
    base = f"/api/v1/webhooks/{live_id}"
    assert client.get(base, headers=sandbox).status_code == 404
    assert client.get(f"{base}/deliveries", headers=sandbox).status_code == 404
    assert client.patch(base, headers=sandbox, json={"is_active": False}).status_code == 404
    assert client.post(f"{base}/rotate-secret", headers=sandbox).status_code == 404
    assert client.post(f"{base}/test", headers=sandbox).status_code == 404
    assert client.delete(base, headers=sandbox).status_code == 404
    # Untouched, and the live key still sees only live targets.
    still = client.get(base, headers=manager.headers).json()
    assert still["is_active"] is True
    live_listed = client.get("/api/v1/webhooks", headers=manager.headers).json()["items"]
    assert [w["id"] for w in live_listed] == [live_id]


def test_idempotency_records_are_separate_per_key_mode(client, accounts):
    manager = accounts.make("manager")
    key = {"Idempotency-Key": "create-hook-1"}
    live = client.post("/api/v1/webhooks", headers={**manager.headers, **key}, json=WEBHOOK)
    assert live.status_code == 201
    test = client.post("/api/v1/webhooks", headers={**manager.test_headers, **key}, json=WEBHOOK)
    assert test.status_code == 201
    # Not a replay of the live answer (which would hand the live target's secret over).
    assert "Idempotent-Replayed" not in test.headers
    assert test.json()["id"] != live.json()["id"] and test.json()["mode"] == "test"
    assert test.json()["secret"] != live.json()["secret"]
    # Each mode still replays its own.
    again = client.post("/api/v1/webhooks", headers={**manager.test_headers, **key}, json=WEBHOOK)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == test.json()["id"]
    live_again = client.post("/api/v1/webhooks", headers={**manager.headers, **key}, json=WEBHOOK)
    assert live_again.json()["id"] == live.json()["id"]


def test_a_test_key_cannot_manage_people(client, admin, accounts):
    labeler = accounts.make("labeler")
    sandbox = admin.test_headers
    uid = labeler.user.id
    assert client.post(f"/api/v1/users/{uid}/deactivate", headers=sandbox).status_code == 403
    reset = client.post(
        f"/api/v1/users/{uid}/password", headers=sandbox, json={"password": "new-password-1"}
    )
    assert reset.status_code == 403
    assert client.delete(f"/api/v1/users/{uid}/sessions", headers=sandbox).status_code == 403
    made = client.post(
        "/api/v1/users", headers=sandbox, json={"email": "x@example.test", "role": "admin"}
    )
    assert made.status_code == 403
    assert client.get("/api/v1/me", headers=labeler.headers).status_code == 200
