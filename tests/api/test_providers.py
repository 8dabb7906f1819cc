"""/api/v1/providers: managers add, read, change, check and delete model providers; the API
key goes in and never comes out (no response, no log line, encrypted in its row); bad input
is refused naming the field; to labelers, reviewers and the other key mode providers do not
exist. Checks call a real OpenAI-protocol server on loopback."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.openai_server import ChatCompletionsServer

API = "/api/v1"
KEY = "sk-provider-never-shown-0123456789"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def server():
    with ChatCompletionsServer(lambda request: "OK") as running:
        yield running


def body(server: ChatCompletionsServer, **changes: Any) -> dict[str, Any]:
    return {
        "name": "local vllm",
        "base_url": server.base_url,
        "api_key": KEY,
        "max_concurrency": 8,
        "requests_per_minute": 600,
        "prices": {"tiny": {"input": 0.5, "output": 1.5}},
        **changes,
    }


def test_the_key_goes_in_and_never_comes_out(client, manager, server, db, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, the openai client's included
    created = client.post(f"{API}/providers", json=body(server), headers=manager.headers)
    provider = ok(created)
    assert created.status_code == 201
    assert provider["has_api_key"] is True and "api_key" not in provider
    assert provider["prices"] == {"tiny": {"input": 0.5, "output": 1.5}}
    assert (provider["max_concurrency"], provider["requests_per_minute"]) == (8, 600)
    answers = [
        created,
        client.get(f"{API}/providers", headers=manager.headers),
        client.get(f"{API}/providers/{provider['id']}", headers=manager.headers),
        client.patch(
            f"{API}/providers/{provider['id']}", json={"timeout_s": 5}, headers=manager.headers
        ),
        client.post(
            f"{API}/providers/{provider['id']}/check",
            json={"model": "tiny"},
            headers=manager.headers,
        ),
    ]
    server.fail(401)
    answers.append(
        client.post(
            f"{API}/providers/{provider['id']}/check",
            json={"model": "tiny"},
            headers=manager.headers,
        )
    )
    assert all(a.status_code == 200 or a.status_code == 201 for a in answers)
    assert all(KEY not in a.text for a in answers)
    assert answers[4].json()["ok"] is True and answers[4].json()["latency_ms"] > 0
    assert answers[5].json() == {
        "ok": False,
        "model": "tiny",
        "latency_ms": None,
        "status_code": 401,
        "error": "local vllm/tiny: HTTP 401: scripted 401",
    }
    # The key did reach the provider, and nothing logged it.
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert caplog.records and KEY not in caplog.text
    with db.read() as session:
        stored = session.execute(
            text("SELECT api_key FROM eval_providers WHERE id = :id"), {"id": provider["id"]}
        ).scalar_one()
    assert stored.startswith("enc1:") and KEY not in stored


def test_changes_and_deletion(client, manager, server):
    provider = ok(client.post(f"{API}/providers", json=body(server), headers=manager.headers))
    url = f"{API}/providers/{provider['id']}"
    changed = ok(
        client.patch(
            url,
            json={"api_key": "", "max_retries": 0, "requests_per_minute": None, "name": "renamed"},
            headers=manager.headers,
        )
    )
    assert changed["has_api_key"] is False and changed["max_retries"] == 0
    assert changed["requests_per_minute"] is None and changed["name"] == "renamed"
    assert changed["prices"] == provider["prices"]  # not given, not changed
    assert client.delete(url, headers=manager.headers).status_code == 204
    assert client.get(url, headers=manager.headers).status_code == 404
    assert ok(client.get(f"{API}/providers", headers=manager.headers))["items"] == []


def test_a_provider_on_the_lean_transport_is_checked_the_same_way(client, manager, server):
    provider = ok(client.post(f"{API}/providers", json=body(server), headers=manager.headers))
    assert provider["transport"] == "openai"
    url = f"{API}/providers/{provider['id']}"
    changed = ok(client.patch(url, json={"transport": "lean"}, headers=manager.headers))
    assert changed["transport"] == "lean"
    checked = ok(client.post(f"{url}/check", json={"model": "tiny"}, headers=manager.headers))
    assert checked["ok"] is True and checked["latency_ms"] > 0
    server.fail(401)
    refused = ok(client.post(f"{url}/check", json={"model": "tiny"}, headers=manager.headers))
    assert (refused["ok"], refused["status_code"]) == (False, 401)
    assert refused["error"] == "local vllm/tiny: HTTP 401: scripted 401" and KEY not in str(refused)
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {KEY}"}


def test_an_idempotent_create_adds_one_and_a_second_name_conflicts(client, manager, server):
    headers = {**manager.headers, "Idempotency-Key": "add-vllm-1"}
    first = client.post(f"{API}/providers", json=body(server), headers=headers)
    again = client.post(f"{API}/providers", json=body(server), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    duplicate = client.post(f"{API}/providers", json=body(server), headers=manager.headers)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["field"] == "name"
    listed = ok(client.get(f"{API}/providers", headers=manager.headers))["items"]
    assert [p["id"] for p in listed] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"base_url": None}, "base_url"),
        ({"base_url": "ftp://models.example/v1"}, "base_url"),
        ({"kind": "carrier-pigeon"}, "kind"),
        ({"transport": "carrier-pigeon"}, "transport"),
        ({"name": "  "}, "name"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"prices": {"tiny": {"input": -1, "output": 1}}}, "prices.tiny.input"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_providers_are_refused_naming_the_field(client, manager, server, changes, field):
    answer = client.post(f"{API}/providers", json=body(server, **changes), headers=manager.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert KEY not in answer.text


def test_a_check_of_an_unreachable_provider_says_so(client, manager, server):
    provider = ok(client.post(f"{API}/providers", json=body(server), headers=manager.headers))
    server.delay = 1.0
    client.patch(
        f"{API}/providers/{provider['id']}", json={"timeout_s": 0.2}, headers=manager.headers
    )
    result = ok(
        client.post(
            f"{API}/providers/{provider['id']}/check",
            json={"model": "tiny"},
            headers=manager.headers,
        )
    )
    assert result["ok"] is False and result["status_code"] is None
    assert result["error"] == "local vllm/tiny: no answer within 0.2 s (after 0 retries)"
    assert server.calls == 1


@pytest.mark.parametrize("role", ["labeler", "reviewer"])
def test_to_labelers_and_reviewers_providers_do_not_exist(client, accounts, manager, server, role):
    provider = ok(client.post(f"{API}/providers", json=body(server), headers=manager.headers))
    other = accounts.make(role)
    url = f"{API}/providers/{provider['id']}"
    assert client.get(f"{API}/providers", headers=other.headers).status_code == 403
    assert (
        client.post(f"{API}/providers", json=body(server), headers=other.headers).status_code == 403
    )
    assert client.get(url, headers=other.headers).status_code == 404
    assert client.patch(url, json={"max_retries": 0}, headers=other.headers).status_code == 404
    assert (
        client.post(f"{url}/check", json={"model": "m"}, headers=other.headers).status_code == 404
    )
    assert client.delete(url, headers=other.headers).status_code == 404
    assert client.get(url).status_code == 401
    assert server.calls == 0


def test_a_test_key_sees_only_test_providers(client, manager, server):
    live = ok(client.post(f"{API}/providers", json=body(server), headers=manager.headers))
    assert (
        client.get(f"{API}/providers/{live['id']}", headers=manager.test_headers).status_code == 404
    )
    sandbox = ok(client.post(f"{API}/providers", json=body(server), headers=manager.test_headers))
    assert sandbox["mode"] == "test"
    listed = ok(client.get(f"{API}/providers", headers=manager.test_headers))["items"]
    assert [p["id"] for p in listed] == [sandbox["id"]]
