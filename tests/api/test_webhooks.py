"""The webhooks API: targets, URL rules, roles, and the delivery log of real deliveries."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assay.core import webhooks
from tests.support.receiver import Receiver

API = "/api/v1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def create(client, account, **body: Any) -> dict[str, Any]:
    response = client.post(f"{API}/webhooks", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


def finished_delivery(
    client, account, webhook_id: str, delivery_id: str, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(
            f"{API}/webhooks/{webhook_id}/deliveries/{delivery_id}", headers=account.headers
        )
        assert response.status_code == 200, response.text
        if response.json()["status"] in ("succeeded", "failed"):
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"delivery still {response.json()['status']} after {timeout}s")


def test_create_read_update_delete(client, manager):
    created = create(client, manager, url="http://127.0.0.1:9/hook", events=["task.*"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["task.*"] and created["is_active"] is True
    assert created["created_by"] == manager.user.id and created["mode"] == "live"
    webhook_id = created["id"]

    fetched = client.get(f"{API}/webhooks/{webhook_id}", headers=manager.headers).json()
    assert "secret" not in fetched and fetched["url"] == "http://127.0.0.1:9/hook"
    listed = client.get(f"{API}/webhooks", headers=manager.headers).json()
    assert [w["id"] for w in listed["items"]] == [webhook_id]
    assert "secret" not in listed["items"][0]

    patched = client.patch(
        f"{API}/webhooks/{webhook_id}",
        headers=manager.headers,
        json={"events": ["batch.completed"], "is_active": False},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["events"] == ["batch.completed"] and not patched.json()["is_active"]
    assert patched.json()["url"] == "http://127.0.0.1:9/hook"

    assert client.delete(f"{API}/webhooks/{webhook_id}", headers=manager.headers).status_code == 204
    missing = client.get(f"{API}/webhooks/{webhook_id}", headers=manager.headers)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "webhook_id"


def test_rotating_the_secret_returns_a_new_one(client, manager):
    created = create(client, manager, url="http://127.0.0.1:9/hook")
    rotated = client.post(f"{API}/webhooks/{created['id']}/rotate-secret", headers=manager.headers)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]


def test_create_is_idempotent_with_a_key(client, manager):
    headers = {**manager.headers, "Idempotency-Key": "hook-1"}
    body = {"url": "http://127.0.0.1:9/hook"}
    first = client.post(f"{API}/webhooks", json=body, headers=headers)
    second = client.post(f"{API}/webhooks", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(client.get(f"{API}/webhooks", headers=manager.headers).json()["items"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://127.0.0.1/hook"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/hook"}, "url"),
        ({"url": "http://127.0.0.1/hook", "events": []}, "events"),
        ({"url": "http://127.0.0.1/hook", "events": ["Task Completed"]}, "events[0]"),
        ({"url": "http://127.0.0.1/hook", "secret": "mine"}, "secret"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, manager, body, field):
    response = client.post(f"{API}/webhooks", json=body, headers=manager.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_deny_list_refuses_create_and_update(client, manager, settings):
    allowed = create(client, manager, url="http://127.0.0.1:9/hook")
    settings.outbound_deny = ["127.0.0.0/8"]
    refused = client.post(
        f"{API}/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=manager.headers
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "url"
    assert "not an allowed destination" in refused.json()["error"]["message"]
    patched = client.patch(
        f"{API}/webhooks/{allowed['id']}",
        headers=manager.headers,
        json={"url": "http://localhost:9/other"},
    )
    assert patched.status_code == 422 and patched.json()["error"]["field"] == "url"
    unchanged = client.get(f"{API}/webhooks/{allowed['id']}", headers=manager.headers).json()
    assert unchanged["url"] == "http://127.0.0.1:9/hook"


def test_allow_list_admits_only_listed_internal_hosts(client, manager, settings):
    settings.outbound_allow = ["10.0.0.0/8", "localhost"]
    refused = client.post(
        f"{API}/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=manager.headers
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "url"
    assert "ASSAY_OUTBOUND_ALLOW" in refused.json()["error"]["message"]
    create(client, manager, url="http://localhost:9/hook")


@pytest.mark.parametrize("role", ["labeler", "reviewer"])
def test_only_managers_and_admins_manage_webhooks(client, accounts, admin, role):
    outsider = accounts.make(role)
    webhook_id = create(client, admin, url="http://127.0.0.1:9/hook")["id"]
    for method, path, body in [
        ("POST", "/webhooks", {"url": "http://127.0.0.1:9/hook"}),
        ("GET", "/webhooks", None),
        ("GET", f"/webhooks/{webhook_id}", None),
        ("PATCH", f"/webhooks/{webhook_id}", {"is_active": False}),
        ("DELETE", f"/webhooks/{webhook_id}", None),
        ("POST", f"/webhooks/{webhook_id}/test", None),
        ("POST", f"/webhooks/{webhook_id}/rotate-secret", None),
        ("GET", f"/webhooks/{webhook_id}/deliveries", None),
    ]:
        response = client.request(method, API + path, json=body, headers=outsider.headers)
        assert response.status_code == 403, (method, path, response.text)
    assert client.get(f"{API}/webhooks/{webhook_id}", headers=admin.headers).status_code == 200


def test_testing_an_inactive_webhook_is_a_conflict(client, manager):
    webhook_id = create(client, manager, url="http://127.0.0.1:9/hook")["id"]
    client.patch(f"{API}/webhooks/{webhook_id}", headers=manager.headers, json={"is_active": False})
    response = client.post(f"{API}/webhooks/{webhook_id}/test", headers=manager.headers)
    assert response.status_code == 409 and response.json()["error"]["field"] == "is_active"


def test_ping_is_retried_with_backoff_and_every_attempt_logged(
    client, manager, settings, pool, receiver
):
    # Base delays well above the worker's poll interval, so the doubling shows in the gaps.
    settings.job_retry_base_seconds = 0.5
    receiver.answer(500, 500)
    created = create(client, manager, url=receiver.url, events=["batch.completed"])
    queued = client.post(f"{API}/webhooks/{created['id']}/test", headers=manager.headers)
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "pending" and queued.json()["attempts"] == []

    delivery = finished_delivery(client, manager, created["id"], queued.json()["id"])
    assert delivery["status"] == "succeeded" and delivery["event"] == "ping"
    attempts = delivery["attempts"]
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[0]["response_body"] == '{"answered": 500}'
    assert all(a["duration_ms"] >= 0 for a in attempts)
    sent = [dt.datetime.fromisoformat(a["created_at"]) for a in attempts]
    first_gap, second_gap = (
        (sent[1] - sent[0]).total_seconds(),
        (sent[2] - sent[1]).total_seconds(),
    )
    # Delays are base·2^(n-1) with ±20 % jitter: ≥0.4 s, then ≥0.8 s, and the second is longer.
    assert first_gap >= 0.4 and second_gap >= 0.8 and second_gap > first_gap

    requests = receiver.wait_for(3)
    for request in requests:
        assert request.headers["assay-event"] == "ping"
        assert request.headers["assay-delivery"] == delivery["id"]
        assert webhooks.verify_signature(
            created["secret"], request.headers["assay-signature"], request.body
        )
    tampered = requests[-1].body.replace(b"ping", b"pong")
    assert not webhooks.verify_signature(
        created["secret"], requests[-1].headers["assay-signature"], tampered
    )

    log = client.get(f"{API}/webhooks/{created['id']}/deliveries", headers=manager.headers)
    assert log.status_code == 200
    assert [d["id"] for d in log.json()["items"]] == [delivery["id"]]
    assert len(log.json()["items"][0]["attempts"]) == 3


def test_client_error_fails_the_delivery_after_one_attempt(client, manager, pool, receiver):
    receiver.answer(410)
    created = create(client, manager, url=receiver.url)
    queued = client.post(f"{API}/webhooks/{created['id']}/test", headers=manager.headers).json()
    delivery = finished_delivery(client, manager, created["id"], queued["id"])
    assert delivery["status"] == "failed"
    assert [(a["status_code"], a["error"]) for a in delivery["attempts"]] == [(410, "HTTP 410")]


def test_delivery_log_pages_newest_first_with_attempts(client, manager):
    webhook_id = create(client, manager, url="http://127.0.0.1:9/hook")["id"]
    ids = [
        client.post(f"{API}/webhooks/{webhook_id}/test", headers=manager.headers).json()["id"]
        for _ in range(3)
    ]
    first = client.get(
        f"{API}/webhooks/{webhook_id}/deliveries", params={"limit": 2}, headers=manager.headers
    ).json()
    assert [d["id"] for d in first["items"]] == ids[::-1][:2]
    assert all(d["attempts"] == [] and d["status"] == "pending" for d in first["items"])
    second = client.get(
        f"{API}/webhooks/{webhook_id}/deliveries",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=manager.headers,
    ).json()
    assert [d["id"] for d in second["items"]] == ids[:1] and second["next_cursor"] is None
    other = create(client, manager, url="http://127.0.0.1:9/other")["id"]
    wrong = client.get(f"{API}/webhooks/{other}/deliveries/{ids[0]}", headers=manager.headers)
    assert wrong.status_code == 404
