"""Hosted models through /api/v1: a registered Python callable and an OpenAI-compatible
endpoint (a real chat-completions server on loopback) run over a slice or a query as a job;
predictions are written once however often a run is repeated or retried; per-item failures
are the run's errors, not its failure; the endpoint's key is encrypted at rest and never
answered or logged."""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tests.support.model_runners  # noqa: F401  (registers test-boxes, test-flaky)
from assay.core import models as core_models
from assay.curation import models
from assay.curation.model_runners import get_model_runner
from tests.support.curation import model_predictions
from tests.support.openai_server import ChatCompletionsServer, image_urls, user_text

API = "/api/v1"
KEY = "sk-test-very-secret-0123456789"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(out, "PNG")
    return out.getvalue()


def make_dataset(client, account, items: list[dict[str, Any]]) -> str:
    dataset = ok(client.post(f"{API}/datasets", json={"name": "hosted"}, headers=account.headers))
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=account.headers
        )
    )
    return dataset["id"]


def wait(client, account, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job = ok(client.get(f"{API}/jobs/{job['id']}", headers=account.headers))
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job still {job['status']}: {job}")


def run(client, account, model_id: str, **body) -> dict[str, Any]:
    job = client.post(f"{API}/models/{model_id}/runs", json=body, headers=account.headers)
    assert job.status_code == 202, job.text
    return wait(client, account, job.json())


def python_model(client, account, reference_id: str, runner: str) -> dict[str, Any]:
    body = {"name": reference_id, "reference_id": reference_id}
    body["runner"] = {"type": "python", "name": runner}
    return ok(client.post(f"{API}/models", json=body, headers=account.headers))


def test_a_python_runner_over_a_slice_writes_predictions_once(client, manager, db, pool):
    items = [
        {"reference_id": f"t{n}", "kind": "text", "text": f"text {n}", "metadata": {"colour": c}}
        for n, c in enumerate(["red", "blue", "red", "green", "blue"])
    ]
    items.append({"reference_id": "bad", "kind": "text", "text": "x", "metadata": {"bad": True}})
    items.append({"reference_id": "no", "kind": "text", "text": "y", "metadata": {"refuse": 1}})
    dataset_id = make_dataset(client, manager, items)
    model = python_model(client, manager, "boxes-v1", "test-boxes")
    assert model["kind"] == "hosted"
    assert model["runner"] == {"type": "python", "name": "test-boxes"}
    assert model["has_api_key"] is False
    chosen = ["t0", "t1", "t3", "bad", "no"]
    found = ok(
        client.post(
            f"{API}/datasets/{dataset_id}/slices",
            json={"name": "some", "reference_ids": chosen},
            headers=manager.headers,
        )
    )
    job = run(client, manager, model["id"], dataset_id=dataset_id, slice_id=found["id"])
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert (result["items"], result["predicted"], result["predictions"]) == (5, 3, 3)
    assert result["failed"] == 2 and result["compute"] == "local"
    errors = {e["reference_id"]: e["error"] for e in result["errors"]}
    assert set(errors) == {"bad", "no"}
    assert "label" in errors["bad"] and errors["no"] == "refused by the test runner"
    stored = model_predictions(db, dataset_id, model["id"])
    assert sorted(stored) == ["t0", "t1", "t3"]
    assert [s["label"] for s in stored["t3"]] == ["green"]
    assert stored["t0"][0]["type"] == "category" and 0 <= stored["t0"][0]["confidence"] <= 1
    before = ok(client.get(f"{API}/datasets/{dataset_id}", headers=manager.headers))
    assert before["prediction_count"] == 3

    # Again, over a query this time: the slice's items keep one prediction each.
    again = run(
        client, manager, model["id"], dataset_id=dataset_id, query='metadata.colour = "red"'
    )
    assert again["result"]["items"] == 2 and again["result"]["predicted"] == 2
    assert model_predictions(db, dataset_id, model["id"]) == {
        **stored,
        "t2": model_predictions(db, dataset_id, model["id"])["t2"],
    }
    after = ok(client.get(f"{API}/datasets/{dataset_id}", headers=manager.headers))
    assert after["prediction_count"] == 4
    # The predictions are queryable like uploaded ones.
    counted = ok(
        client.post(
            f"{API}/datasets/{dataset_id}/query",
            json={"query": 'predictions."boxes-v1".red >= 1'},
            headers=manager.headers,
        )
    )
    assert counted["count"] == 2


def test_a_retried_run_resumes_without_repeating_written_items(client, manager, db, pool, tmp_path):
    calls = tmp_path / "calls.txt"
    items = [
        {
            "reference_id": f"r{n:02d}",
            "kind": "text",
            "text": f"item {n}",
            "metadata": {"calls": str(calls)}
            | ({"fail_once": str(tmp_path / "failed")} if n == 17 else {}),
        }
        for n in range(20)
    ]
    dataset_id = make_dataset(client, manager, items)
    model = python_model(client, manager, "flaky", "test-flaky")
    job = run(client, manager, model["id"], dataset_id=dataset_id)
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    # The first batch (16 items) was written by attempt 1; attempt 2 ran the last 4 only.
    assert job["result"]["resumed"] == 16 and job["result"]["predicted"] == 4
    answered = calls.read_text().split()
    assert sorted(answered) == sorted(f"r{n:02d}" for n in range(20))
    assert len(answered) == 20
    assert len(model_predictions(db, dataset_id, model["id"])) == 20
    shown = ok(client.get(f"{API}/datasets/{dataset_id}", headers=manager.headers))
    assert shown["prediction_count"] == 20


def test_an_openai_endpoint_with_retries_and_a_malformed_answer(client, manager, db, pool):
    def answer(request: dict[str, Any]) -> str:
        text = user_text(request)
        if image_urls(request):
            return '```json\n{"label": "picture", "confidence": 0.75}\n```'
        if "gibberish" in text:
            return "I think it is probably a cat?"
        if "unlisted" in text:
            return '{"label": "giraffe"}'
        return json.dumps({"label": "cat" if "meow" in text else "dog", "confidence": 0.9})

    image = png((200, 10, 10))
    blob = ok(
        client.post(
            f"{API}/blobs", files={"file": ("a.png", image, "image/png")}, headers=manager.headers
        )
    )
    dataset_id = make_dataset(
        client,
        manager,
        [
            {"reference_id": "m", "kind": "text", "text": "meow meow"},
            {"reference_id": "w", "kind": "text", "text": "woof"},
            {"reference_id": "g", "kind": "text", "text": "gibberish"},
            {"reference_id": "u", "kind": "text", "text": "unlisted"},
            {"reference_id": "p", "media": f"blob:{blob['sha256']}"},
        ],
    )
    with ChatCompletionsServer(answer) as server:
        created = client.post(
            f"{API}/models",
            json={
                "name": "llm",
                "reference_id": "llm-1",
                "runner": {
                    "type": "openai",
                    "base_url": server.base_url,
                    "model": "gpt-test",
                    "prompt": "Which animal? ({labels}) {text}",
                    "labels": ["cat", "dog", "picture"],
                    "api_key": KEY,
                },
            },
            headers=manager.headers,
        )
        assert created.status_code == 201, created.text
        model = created.json()
        assert model["has_api_key"] is True
        assert KEY not in created.text
        server.fail(500, 429)
        job = run(client, manager, model["id"], dataset_id=dataset_id)
        sent = list(server.requests)

    assert job["status"] == "succeeded", job
    result = job["result"]
    assert (result["predicted"], result["failed"]) == (3, 2)
    assert {e["reference_id"] for e in result["errors"]} == {"g", "u"}
    stored = model_predictions(db, dataset_id, model["id"])
    assert stored["m"] == [{"type": "category", "label": "cat", "confidence": 0.9}]
    assert stored["w"][0]["label"] == "dog"
    assert stored["p"] == [{"type": "category", "label": "picture", "confidence": 0.75}]
    # The two scripted failures were retried: one request per item plus two.
    assert len(sent) == 5 + 2
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in sent)
    bodies = [json.loads(r.body) for r in sent]
    assert all(b["model"] == "gpt-test" for b in bodies)
    assert any(user_text(b) == "Which animal? (cat, dog, picture) meow meow" for b in bodies)
    urls = [u for b in bodies for u in image_urls(b)]
    assert urls == [f"data:image/png;base64,{base64.b64encode(image).decode()}"]

    # The key: encrypted in the table, never in an answer, the job or its logs.
    with db.read() as session:
        row = session.get(models.Model, model["id"])
        assert row.api_key and row.api_key.startswith("enc1:") and KEY not in row.api_key
        logs = [m for (m,) in session.execute(select(core_models.JobLog.message))]
        job_row = session.get(core_models.Job, job["id"])
        assert KEY not in json.dumps(job_row.payload) + json.dumps(job_row.result)
    assert all(KEY not in m for m in logs)
    listed = client.get(f"{API}/models", headers=manager.headers)
    shown = client.get(f"{API}/models/{model['id']}", headers=manager.headers)
    assert KEY not in listed.text and KEY not in shown.text
    assert shown.json()["runner"]["base_url"] == server.base_url
    assert "api_key" not in shown.json()["runner"]


def test_an_endpoint_that_keeps_failing_fails_the_attempt_not_the_items(client, manager, db, pool):
    dataset_id = make_dataset(client, manager, [{"reference_id": "a", "kind": "text", "text": "a"}])
    with ChatCompletionsServer(lambda r: '{"label": "x"}') as server:
        model = ok(
            client.post(
                f"{API}/models",
                json={
                    "name": "down",
                    "reference_id": "down",
                    "runner": {"type": "openai", "base_url": server.base_url, "model": "m"},
                },
                headers=manager.headers,
            )
        )
        server.fail(*([503] * 4))  # one attempt's retries; the job's second attempt succeeds
        job = run(client, manager, model["id"], dataset_id=dataset_id)
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    assert model_predictions(db, dataset_id, model["id"]) == {
        "a": [{"type": "category", "label": "x"}]
    }
    logs = ok(client.get(f"{API}/jobs/{job['id']}/logs", headers=manager.headers))
    assert any("kept failing (HTTP 503)" in entry["message"] for entry in logs["items"])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"runner": {"type": "python", "name": "nope"}}, 422, "runner.name"),
        ({"runner": {"type": "python"}}, 422, "runner.name"),
        ({"runner": {"type": "openai", "model": "m"}}, 422, "runner.base_url"),
        (
            {"runner": {"type": "openai", "base_url": "ftp://x/", "model": "m"}},
            422,
            "runner.base_url",
        ),
        ({"runner": {"type": "openai", "base_url": "http://x/"}}, 422, "runner.model"),
        ({"runner": {"type": "grpc"}}, 422, "runner.type"),
    ],
)
def test_bad_runners_are_refused_naming_the_field(client, manager, body, status, field):
    answer = client.post(
        f"{API}/models", json={"name": "m", "reference_id": "m", **body}, headers=manager.headers
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field


def test_bad_runs_are_refused(client, manager):
    dataset_id = make_dataset(client, manager, [{"reference_id": "a", "kind": "text", "text": "a"}])
    shell = ok(
        client.post(
            f"{API}/models", json={"name": "s", "reference_id": "s"}, headers=manager.headers
        )
    )
    hosted = python_model(client, manager, "h", "test-boxes")

    def refused(model_id: str, **body) -> tuple[int, str]:
        answer = client.post(f"{API}/models/{model_id}/runs", json=body, headers=manager.headers)
        return answer.status_code, answer.json()["error"]["field"]

    assert refused(shell["id"], dataset_id=dataset_id) == (422, "model_id")
    assert refused(hosted["id"], dataset_id=dataset_id, slice_id="nope") == (404, "slice_id")
    assert refused(hosted["id"], dataset_id=dataset_id, slice_id="x", query="a") == (422, "query")
    assert refused(hosted["id"], dataset_id=dataset_id, query="metadata.x >")[1] == "query"
    assert refused(hosted["id"], dataset_id="nope")[0] == 404
    assert refused("nope", dataset_id=dataset_id) == (404, "model_id")


def test_a_runner_published_as_an_entry_point_is_found(tmp_path, monkeypatch):
    package = tmp_path / "runner_plugin_for_test.py"
    package.write_text("def run(items):\n    return [[] for _ in items]\n")
    info = tmp_path / "runner_plugin_for_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: runner-plugin-for-test\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[assay.model_runners]\nfrom-entry-point = runner_plugin_for_test:run\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = get_model_runner("from-entry-point")
    assert fn([{"x": 1}, {"x": 2}]) == [[], []]
    assert Path(sys.modules[fn.__module__].__file__) == package
