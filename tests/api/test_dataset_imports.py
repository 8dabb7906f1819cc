"""Appending items from an uploaded file as a job: JSONL, CSV and COCO, progress and
results, a bad line naming itself, and a re-run duplicating nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

API = "/api/v1"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def dataset(client, manager) -> str:
    return ok(client.post(f"{API}/datasets", json={"name": "files"}, headers=manager.headers))["id"]


def upload(client, account, name: str, data: bytes, content_type: str) -> str:
    return ok(
        client.post(
            f"{API}/blobs", files={"file": (name, data, content_type)}, headers=account.headers
        )
    )["sha256"]


def run(client, account, dataset: str, sha: str, fmt: str) -> dict:
    job = ok(
        client.post(
            f"{API}/datasets/{dataset}/imports",
            json={"sha256": sha, "format": fmt},
            headers=account.headers,
        )
    )
    return wait(client, account, job)


def wait(client, account, job: dict) -> dict:
    """The job once it has succeeded or failed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = ok(client.get(f"{API}/jobs/{job['id']}", headers=account.headers))
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the import did not finish: {job}")


def items_of(client, account, dataset: str) -> dict[str, dict]:
    page = ok(
        client.get(
            f"{API}/datasets/{dataset}/items?annotations=true&limit=1000", headers=account.headers
        )
    )
    return {i["reference_id"]: i for i in page["items"]}


def test_jsonl_import_then_rerun_duplicates_nothing(client, manager, dataset, pool):
    lines = [
        {
            "reference_id": f"r{n}",
            "media": f"https://m.test/{n}.jpg",
            "metadata": {"n": n},
            "annotations": [
                {"type": "box", "label": "car", "x": 1, "y": 1, "width": 2, "height": 2}
            ],
        }
        for n in range(30)
    ]
    sha = upload(
        client,
        manager,
        "items.jsonl",
        "\n".join(map(json.dumps, lines)).encode(),
        "application/x-ndjson",
    )
    job = run(client, manager, dataset, sha, "jsonl")
    assert job["status"] == "succeeded", job
    assert job["result"] == {"items": 30, "new": 30, "updated": 0} and job["progress"] == 1.0
    again = run(client, manager, dataset, sha, "jsonl")
    assert again["result"] == {"items": 30, "new": 0, "updated": 30}
    found = ok(client.get(f"{API}/datasets/{dataset}", headers=manager.headers))
    assert (found["item_count"], found["annotation_count"]) == (30, 30)


def test_csv_import_with_nested_metadata_and_tags(client, manager, dataset, pool):
    text = (
        "reference_id,media,width,metadata.weather,metadata.camera.id,tags\n"
        "a,https://m.test/a.jpg,640,rain,3,night;blurry\n"
        "b,https://m.test/b.jpg,640,sun,1,\n"
    )
    sha = upload(client, manager, "items.csv", text.encode(), "text/csv")
    assert run(client, manager, dataset, sha, "csv")["status"] == "succeeded"
    found = items_of(client, manager, dataset)
    assert found["a"]["metadata"] == {"weather": "rain", "camera": {"id": 3}}
    assert found["a"]["tags"] == ["night", "blurry"] and found["a"]["width"] == 640


def test_coco_import_makes_items_with_ground_truth(client, manager, dataset, pool):
    coco = {
        "images": [
            {
                "id": 1,
                "file_name": "1.jpg",
                "coco_url": "https://m.test/1.jpg",
                "width": 64,
                "height": 48,
            },
            {
                "id": 2,
                "file_name": "2.jpg",
                "coco_url": "https://m.test/2.jpg",
                "width": 64,
                "height": 48,
            },
        ],
        "categories": [{"id": 7, "name": "dog"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 20]},
            {
                "id": 11,
                "image_id": 1,
                "category_id": 7,
                "bbox": [0, 0, 4, 4],
                "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]],
            },
        ],
    }
    sha = upload(client, manager, "coco.json", json.dumps(coco).encode(), "application/json")
    job = run(client, manager, dataset, sha, "coco")
    assert job["status"] == "succeeded", job
    found = items_of(client, manager, dataset)
    assert sorted(found) == ["1.jpg", "2.jpg"]
    types = [(a["type"], a["label"]) for a in found["1.jpg"]["annotations"]]
    assert types == [("box", "dog"), ("polygon", "dog")]
    assert found["2.jpg"]["annotations"] == []


def test_a_bad_line_fails_the_job_naming_it(client, manager, dataset, pool):
    lines = [
        json.dumps({"reference_id": "ok", "media": "https://m.test/ok.jpg"}),
        json.dumps({"reference_id": "bad", "media": "https://m.test/b.jpg", "width": -4}),
    ]
    sha = upload(client, manager, "bad.jsonl", "\n".join(lines).encode(), "application/x-ndjson")
    job = run(client, manager, dataset, sha, "jsonl")
    assert job["status"] == "failed"
    assert "line 2: width" in job["error"]
    assert ok(client.get(f"{API}/datasets/{dataset}", headers=manager.headers))["item_count"] == 0


def test_an_import_needs_a_blob_the_caller_may_read(client, manager, accounts, dataset):
    other = accounts.make("manager")
    sha = upload(
        client,
        other,
        "x.jsonl",
        b'{"reference_id": "x", "media": "https://m.test/x"}',
        "application/x-ndjson",
    )
    # Another manager uploaded it and no dataset shows it yet: not readable by this one.
    response = client.post(
        f"{API}/datasets/{dataset}/imports",
        json={"sha256": sha, "format": "jsonl"},
        headers=manager.headers,
    )
    assert response.status_code == 404 and response.json()["error"]["field"] == "sha256"
