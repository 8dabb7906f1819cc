"""Batch compute on Ray (`ASSAY_COMPUTE=ray`, a local Ray instance) gives exactly what the
in-process executor gives: the compute-embeddings job's vectors and a hosted model run's
predictions, written back by the job in the server."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

import tests.support.model_runners  # noqa: F401  (registers test-boxes)
from assay.core.compute import InProcess, RayExecutor, executor_from_settings
from assay.curation import models
from tests.support.curation import model_predictions

ray = pytest.importorskip("ray")
API = "/api/v1"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray instance for the module (starting one takes seconds)."""
    ray.init(num_cpus=1, include_dashboard=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def png(colour: tuple[int, int, int], stripes: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (32, 24), colour)
    for x in range(0, 32, stripes):
        for y in range(24):
            image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def wait(client, account, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = ok(client.get(f"{API}/jobs/{job['id']}", headers=account.headers))
        if job["status"] in ("succeeded", "failed", "cancelled"):
            assert job["status"] == "succeeded", job
            return job
        time.sleep(0.1)
    raise AssertionError(f"job still {job['status']}")


def vectors(db, dataset_id: str, space: str) -> dict[str, bytes]:
    with db.read() as session:
        rows = session.execute(
            select(models.Item.reference_id, models.Embedding.vector)
            .join(models.Embedding, models.Embedding.item_id == models.Item.id)
            .where(models.Embedding.dataset_id == dataset_id, models.Embedding.space == space)
        ).all()
    return {ref: bytes(vector) for ref, vector in rows}


def test_the_executor_follows_the_setting(settings, local_ray):
    assert isinstance(executor_from_settings(settings), InProcess)
    settings.compute = "ray"
    executor = executor_from_settings(settings)
    assert isinstance(executor, RayExecutor)
    assert list(executor.map(sorted, ([3, 1, 2], [9, 7], []))) == [[1, 2, 3], [7, 9], []]


def test_embeddings_and_a_hosted_run_on_ray_equal_the_in_process_ones(
    client, accounts, ctx, db, pool, local_ray
):
    manager = accounts.make("manager")
    dataset = ok(client.post(f"{API}/datasets", json={"name": "ray"}, headers=manager.headers))
    items = []
    for n in range(40):  # several batches of both jobs
        data = png((40 + 5 * n, 200 - 4 * n, 90), stripes=3 + n % 5)
        blob = ok(
            client.post(
                f"{API}/blobs",
                files={"file": (f"{n}.png", data, "image/png")},
                headers=manager.headers,
            )
        )
        colour = ("red", "green", "blue")[n % 3]
        items.append(
            {
                "reference_id": f"p{n:02d}",
                "media": f"blob:{blob['sha256']}",
                "width": 32,
                "height": 24,
                "metadata": {"colour": colour, "bad": n == 7},
            }
        )
    items += [
        {"reference_id": f"t{n}", "kind": "text", "text": f"words {n}", "metadata": {"colour": "x"}}
        for n in range(5)
    ]
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=manager.headers
        )
    )
    made = {}
    for where in ("local", "ray"):
        made[where] = ok(
            client.post(
                f"{API}/models",
                json={
                    "name": f"boxes-{where}",
                    "reference_id": f"boxes-{where}",
                    "runner": {"type": "python", "name": "test-boxes"},
                },
                headers=manager.headers,
            )
        )
    results = {}
    for where in ("local", "ray"):
        ctx.settings.compute = where
        embedded = wait(
            client,
            manager,
            ok(
                client.post(
                    f"{API}/datasets/{dataset['id']}/embeddings/compute",
                    json={
                        "space": f"tiny-{where}",
                        "embedder": "tiny-image",
                        "query": 'kind = "image"',
                    },
                    headers=manager.headers,
                )
            ),
        )
        ran = wait(
            client,
            manager,
            ok(
                client.post(
                    f"{API}/models/{made[where]['id']}/runs",
                    json={"dataset_id": dataset["id"]},
                    headers=manager.headers,
                )
            ),
        )
        results[where] = (embedded["result"], ran["result"])

    local_vectors = vectors(db, dataset["id"], "tiny-local")
    assert len(local_vectors) == 40
    assert vectors(db, dataset["id"], "tiny-ray") == local_vectors
    assert results["local"][0] | {"space": ""} == results["ray"][0] | {"space": ""}

    local_run, ray_run = results["local"][1], results["ray"][1]
    assert (local_run["compute"], ray_run["compute"]) == ("local", "ray")
    assert local_run["predicted"] == 44 and local_run["failed"] == 1  # p07 is refused
    same = ("items", "predicted", "predictions", "failed", "errors", "resumed")
    assert {k: ray_run[k] for k in same} == {k: local_run[k] for k in same}
    local_predictions = model_predictions(db, dataset["id"], made["local"]["id"])
    assert len(local_predictions) == 44
    assert model_predictions(db, dataset["id"], made["ray"]["id"]) == local_predictions


def test_an_endpoint_runner_with_its_key_runs_as_a_ray_task(settings, local_ray):
    """The runner travels to the task whole (policy, key) and asks the endpoint from there."""
    from assay.core import outbound
    from assay.curation.model_runners import ItemError, OpenAIRunner, run_batch
    from tests.support.openai_server import ChatCompletionsServer, user_text

    def answer(request: dict[str, Any]) -> str:
        text = user_text(request)
        return "nonsense" if "odd" in text else f'{{"label": "{text[-1]}", "confidence": 0.5}}'

    items = [
        {"reference_id": f"r{n}", "media": None, "text": f"{'odd' if n == 2 else 'n'} {n}"}
        for n in range(5)
    ]
    with ChatCompletionsServer(answer) as llm:
        runner = OpenAIRunner(
            base_url=llm.base_url,
            model="m",
            prompt="{text}",
            api_key="sk-ray",
            policy=outbound.Policy.from_settings(settings),
        )
        batches = [(runner, items[:3]), (runner, items[3:])]
        local = list(InProcess().map(run_batch, batches))
        settings.compute = "ray"
        remote = list(executor_from_settings(settings).map(run_batch, batches))
        keys = {r.headers["authorization"] for r in llm.requests}
    assert remote == local
    assert local[0][0] == [{"type": "category", "label": "0", "confidence": 0.5}]
    assert isinstance(local[0][2], ItemError)
    assert len(llm.requests) == 10 and keys == {"Bearer sk-ray"}
