"""Hosted models through the SDK against a real `assay serve` whose runners come from a
plugin module (ASSAY_PLUGINS): a Python runner over a query, an OpenAI-compatible endpoint
over a slice; the endpoint's key appears in no answer and nowhere in the server's log, at
DEBUG level."""

from __future__ import annotations

import json

import pytest

from assay.sdk import F
from tests.support.openai_server import ChatCompletionsServer

pytestmark = pytest.mark.live
KEY = "sk-live-never-shown-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    return {
        "ASSAY_PLUGINS": '["tests.support.model_runners"]',
        "ASSAY_LOG_LEVEL": "DEBUG",
        "ASSAY_WORKERS": "1",
    }


def test_hosted_models_run_through_the_sdk(connect, server, accounts):
    client = connect(server.url, accounts.make("manager").key)
    dataset = client.datasets.create("notes")
    client.datasets.append(
        dataset.id,
        [
            {
                "reference_id": f"n{n}",
                "kind": "text",
                "text": f"note {n}",
                "metadata": {"colour": c},
            }
            for n, c in enumerate(["red", "blue", "red", "red"])
        ],
    )
    boxes = client.models.create(
        "boxes", reference_id="boxes", runner={"type": "python", "name": "test-boxes"}
    )
    assert (boxes.kind, boxes.runner) == ("hosted", {"type": "python", "name": "test-boxes"})
    job = client.models.run(boxes.id, dataset.id, query=F("metadata.colour") == "red")
    done = client.jobs.wait(job.id, timeout=60, poll=0.1)
    assert (done.result["items"], done.result["predicted"], done.result["failed"]) == (3, 3, 0)

    with ChatCompletionsServer(lambda request: json.dumps({"label": "memo"})) as llm:
        hosted = client.models.create(
            "llm",
            reference_id="llm",
            runner={"type": "openai", "base_url": llm.base_url, "model": "m", "api_key": KEY},
        )
        assert hosted.has_api_key and "api_key" not in (hosted.runner or {})
        chosen = client.slices.create(dataset.id, "two", reference_ids=["n0", "n1"])
        job = client.models.run(hosted.id, dataset.id, slice_id=chosen.id, name="memo run")
        done = client.jobs.wait(job.id, timeout=60, poll=0.1)
        authorizations = {r.headers["authorization"] for r in llm.requests}
    assert done.result["predicted"] == 2 and done.result["name"] == "memo run"
    assert authorizations == {f"Bearer {KEY}"}
    assert all(KEY not in repr(m) for m in client.models.list())
    assert "DEBUG" in server.output() and KEY not in server.output()
