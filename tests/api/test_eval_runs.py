"""Evaluation runs through the API: an idempotent create that enqueues one job, progress and
the summary on the run, the results table paged and filtered with every page in the set's
read log, a sealed set's prompts left out of its results — and privacy: a labeler, another
manager, an admin who owns nothing, a test key and no key at all cannot see a run or its
results through any route, nor start a run on someone else's set."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_eval_sets import create_set, import_file, item, jsonl, ok, read_log, wait
from tests.api.test_gold_never_leaks import _fill, _get_paths
from tests.evaluation.test_runs import answer as model_and_judge
from tests.support.openai_server import ChatCompletionsServer

API = "/api/v1"


@pytest.fixture
def server():
    with ChatCompletionsServer(model_and_judge) as running:
        yield running


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def sums(n: int, marker: str) -> dict[str, Any]:
    """An item the stand-in model and judge understand, carrying `marker` in its prompt."""
    row = item(n, marker)
    row["prompt"] = f"{marker} what is {n} plus {n}?"
    row["reference"] = str(2 * n)
    row["rubric"] = {"criteria": [{"id": "right", "text": "states the correct sum", "points": 1}]}
    return row


def make_set(client, account, marker: str, count: int = 5, **extra: Any) -> dict:
    made = create_set(client, account, marker.lower(), **extra)
    import_file(
        client, account, made["id"], jsonl([sums(n, marker) for n in range(count)]), "jsonl"
    )
    return made


def make_provider(client, account, server) -> dict:
    return ok(
        client.post(
            f"{API}/providers",
            json={"name": "stand-in", "base_url": server.base_url},
            headers=account.headers,
        )
    )


def run_body(set_id: str, provider_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "set_id": set_id,
        "provider_id": provider_id,
        "model": "tiny",
        "scorers": [{"name": "exact_match"}],
        "judge": {"provider_id": provider_id, "model": "judge"},
        **extra,
    }


def finished(client, account, run: dict) -> dict:
    wait(client, account, {"id": run["job_id"]})
    return ok(client.get(f"{API}/eval-runs/{run['id']}", headers=account.headers))


def results(client, account, run_id: str, **params: Any) -> tuple[list[dict], dict | None]:
    found, cursor, summary = [], None, None
    while True:
        page = ok(
            client.get(
                f"{API}/eval-runs/{run_id}/results",
                params={"limit": 2, **params, **({"cursor": cursor} if cursor else {})},
                headers=account.headers,
            )
        )
        found += page["items"]
        summary = page["summary"]
        if not (cursor := page["next_cursor"]):
            return found, summary


def test_a_run_through_the_api(client, manager, server, pool):
    eval_set = make_set(client, manager, "MARK")
    provider = make_provider(client, manager, server)
    body = run_body(eval_set["id"], provider["id"], params={"concurrency": 2})
    headers = {**manager.headers, "Idempotency-Key": "run-once"}
    first = client.post(f"{API}/eval-runs", json=body, headers=headers)
    again = client.post(f"{API}/eval-runs", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["set_version"] == 1 and first.json()["total_calls"] == 5
    run = finished(client, manager, first.json())
    assert run["status"] == "succeeded"
    assert (run["done_calls"], run["error_calls"], run["judge_calls"]) == (5, 0, 5)
    assert server.calls == 10  # once, though created twice
    job = ok(client.get(f"{API}/jobs/{run['job_id']}", headers=manager.headers))
    assert job["progress"] == 1.0
    reads_before = len(read_log(client, manager, eval_set["id"]))
    rows, summary = results(client, manager, run["id"])
    assert [r["item_id"] for r in rows] == sorted(r["item_id"] for r in rows)
    assert [r["response"] for r in rows] == ["0", "2", "4", "5", "8"]
    assert [r["scores"]["exact_match"] for r in rows] == [1.0, 1.0, 1.0, 0.0, 1.0]
    assert rows[3]["verdicts"] == [
        {
            "criterion_id": "right",
            "met": False,
            "credit": 0.0,
            "explanation": "states the correct sum: False",
            "error": None,
        }
    ]
    assert rows[0]["prompt_preview"] == "MARK what is 0 plus 0?"
    assert summary["scores"]["rubric"]["mean"] == pytest.approx(0.8)
    # Each page was one logged read of its items.
    logged = read_log(client, manager, eval_set["id"])
    reads = logged[: len(logged) - reads_before]  # newest first
    assert len(reads) == 3 and {r["route"] for r in reads} == {"eval-runs.results"}
    assert sorted(i for r in reads for i in r["item_ids"]) == sorted(r["item_id"] for r in rows)
    wrong, _ = results(client, manager, run["id"], max_score=0.5)
    assert [r["response"] for r in wrong] == ["5"]
    listed = ok(client.get(f"{API}/eval-runs", headers=manager.headers))
    assert [r["id"] for r in listed["items"]] == [run["id"]]


def test_a_sealed_sets_results_carry_no_prompt(client, manager, server, pool):
    eval_set = make_set(client, manager, "SEALMARK", count=2, sealed=True)
    provider = make_provider(client, manager, server)
    created = ok(
        client.post(
            f"{API}/eval-runs",
            json=run_body(eval_set["id"], provider["id"]),
            headers=manager.headers,
        )
    )
    run = finished(client, manager, created)
    assert run["status"] == "succeeded"
    rows, _ = results(client, manager, run["id"])
    assert [r["response"] for r in rows] == ["0", "2"]
    assert all(r["prompt_preview"] == "" for r in rows)
    page = client.get(f"{API}/eval-runs/{run['id']}/results", headers=manager.headers)
    assert "SEALMARK" not in page.text


def test_create_names_the_field_it_refuses(client, manager, server, pool):
    eval_set = create_set(client, manager, "empty")
    provider = make_provider(client, manager, server)
    cases = [
        (run_body(eval_set["id"], provider["id"]), 404, "version"),
        (run_body("missing", provider["id"]), 404, "set_id"),
        (run_body(eval_set["id"], "missing"), 404, "provider_id"),
    ]
    for body, status, field in cases:
        response = client.post(f"{API}/eval-runs", json=body, headers=manager.headers)
        assert response.status_code == status, response.text
        assert response.json()["error"]["field"] == field
    full = make_set(client, manager, "FULL", count=1)
    bad = run_body(full["id"], provider["id"], scorers=[{"name": "nope"}])
    response = client.post(f"{API}/eval-runs", json=bad, headers=manager.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "scorers[0].name"


def test_no_one_but_the_sets_owners_sees_a_run(client, manager, accounts, server, pool):
    eval_set = make_set(client, manager, "PRIVMARK", count=2)
    provider = make_provider(client, manager, server)
    run = finished(
        client,
        manager,
        ok(
            client.post(
                f"{API}/eval-runs",
                json=run_body(eval_set["id"], provider["id"]),
                headers=manager.headers,
            )
        ),
    )
    assert run["status"] == "succeeded"
    labeler, other, admin = (accounts.make(r) for r in ("labeler", "manager", "admin"))
    callers = {
        "labeler": labeler.headers,
        "other manager": other.headers,
        "admin, not an owner": admin.headers,
        "admin test key": admin.test_headers,
        "owner's test key": manager.test_headers,
        "no key": {},
    }
    routes = [p for p in _get_paths(client.app.routes) if p.startswith(f"{API}/eval-runs")]
    assert f"{API}/eval-runs/{{run_id}}/results" in routes
    ids = {"run_id": [run["id"]]}
    reads_before = len(read_log(client, manager, eval_set["id"]))
    # The prompt, a verdict's explanation, any run as the API shows one.
    markers = ["PRIVMARK", "states the correct sum", '"done_calls"']
    for route in routes:
        for path in _fill(route, ids):
            for who, headers in callers.items():
                response = client.get(path, params={"set_id": eval_set["id"]}, headers=headers)
                assert response.status_code in (200, 401, 403, 404), (who, path)
                for marker in markers:
                    assert marker not in response.text, (who, path, response.text[:300])
    for who, headers in callers.items():
        cancel = client.post(f"{API}/eval-runs/{run['id']}/cancel", headers=headers)
        assert cancel.status_code in (401, 403, 404), (who, cancel.text)
        start = client.post(
            f"{API}/eval-runs", json=run_body(eval_set["id"], provider["id"]), headers=headers
        )
        assert start.status_code in (401, 403, 404), (who, start.text)
        assert "PRIVMARK" not in start.text
    # None of them read anything, and no run was started for them.
    assert len(read_log(client, manager, eval_set["id"])) == reads_before
    listed = ok(client.get(f"{API}/eval-runs", headers=manager.headers))
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    assert (
        json.loads(client.get(f"{API}/eval-runs/{run['id']}", headers=manager.headers).text)["id"]
        == run["id"]
    )


def test_a_queued_run_is_cancelled_and_its_job_with_it(client, manager, server, pool):
    eval_set = make_set(client, manager, "CANCEL", count=2)
    provider = make_provider(client, manager, server)
    pool.stop()  # no worker from here on: the run stays queued
    created = ok(
        client.post(
            f"{API}/eval-runs",
            json=run_body(eval_set["id"], provider["id"]),
            headers=manager.headers,
        )
    )
    cancelled = ok(client.post(f"{API}/eval-runs/{created['id']}/cancel", headers=manager.headers))
    assert cancelled["status"] == "cancelled"
    job = ok(client.get(f"{API}/jobs/{created['job_id']}", headers=manager.headers))
    assert job["status"] == "cancelled"
    again = client.post(f"{API}/eval-runs/{created['id']}/cancel", headers=manager.headers)
    assert again.status_code == 409 and again.json()["error"]["field"] == "job_id"
    assert server.calls == 0
