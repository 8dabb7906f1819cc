"""`Model.run(dataset_id, model_run_name, slice_id)` through the official client: a hosted
model (an OpenAI-compatible endpoint on loopback, made through Assay's own API) runs over a
slice as a job the client follows with `AsyncJob`; its predictions are then the run's, read
back through the client; an unknown dataset and a shell model are refused."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.support.openai_server import ChatCompletionsServer, image_urls

pytestmark = pytest.mark.live


def png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, "PNG")
    return out.getvalue()


def answer(request: dict[str, Any]) -> str:
    # Red images are "red"; the rest "other" (the data URI carries the PNG's bytes).
    url = image_urls(request)[0]
    red = url == "data:image/png;base64," + base64.b64encode(png((255, 0, 0))).decode()
    return json.dumps({"label": "red" if red else "other", "confidence": 0.8})


def test_model_run_runs_a_hosted_model_over_a_slice(
    nucleus, nucleus_line: str, server, manager: Account
) -> None:
    with ChatCompletionsServer(answer) as llm:
        llm.files = {"/img/0.png": png((255, 0, 0)), "/img/1.png": png((0, 0, 255))}
        llm.files["/img/2.png"] = png((255, 0, 0))
        made = httpx.post(
            f"{server.url}/api/v1/models",
            json={
                "name": "colour-llm",
                "reference_id": f"colour-llm-{nucleus_line}",
                "runner": {"type": "openai", "base_url": llm.base_url, "model": "vision"},
            },
            headers=manager.headers,
        )
        assert made.status_code == 201, made.text
        got = nucleus(
            manager.key,
            """
from nucleus import DatasetItem
from nucleus.async_job import AsyncJob
from nucleus.errors import NucleusAPIError
ds = client.create_dataset("hosted", is_scene=False)
appended = ds.append([DatasetItem(image_location=f"{args['base']}/{i}.png",
                                  reference_id=f"img-{i}") for i in range(3)])
if hasattr(appended, "sleep_until_complete"):  # 0.22: every append is an upload job
    appended.sleep_until_complete(verbose_std_out=False)
slc = ds.create_slice("first two", reference_ids=["img-0", "img-1"])
model = client.get_model(args["model"])
answer = model.run(ds.id, "colours", slc.id)
job = AsyncJob.from_json(answer, client)
job.sleep_until_complete(verbose_std_out=False)
result = {
    "answer": answer,
    "status": job.status()["status"],
    "type": job.job_type,
    "predictions": {
        ref: [(p.label, p.confidence)
              for p in ds.predictions_refloc(model, ref).get("category", [])]
        for ref in ("img-0", "img-1", "img-2")
    },
    "runs": ds.info().model_run_ids,
}
shell = client.create_model(name="shell", reference_id=args["shell"])
for name, call in [
    ("unknown dataset", lambda: model.run("ds_nope", "x", None)),
    ("shell model", lambda: shell.run(ds.id, "x", None)),
]:
    try:
        call()
        result[name] = None
    except NucleusAPIError as error:
        result[name] = error.status_code
""",
            args={
                "base": f"http://127.0.0.1:{llm.port}/img",
                "model": "prj_" + made.json()["id"],
                "shell": f"shell-{nucleus_line}",
            },
        )
    answer_keys = {"job_id", "job_last_known_status", "job_type", "job_creation_time"}
    assert answer_keys <= set(got["answer"])
    assert got["answer"]["job_type"] == got["type"] == "modelInferenceRun"
    assert got["status"] == "Completed"
    assert got["predictions"] == {
        "img-0": [["red", 0.8]],
        "img-1": [["other", 0.8]],
        "img-2": [],  # not in the slice
    }
    assert got["runs"] == [got["answer"]["model_run_id"]]
    assert got["unknown dataset"] == 404
    assert got["shell model"] in (400, 422)
