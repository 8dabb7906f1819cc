"""Embedding and autotag reads through the official client: a dataset's and a slice's
embeddings exported at once and by the `exportEmbeddings` job (its result: signed URLs of JSON
files), the embedding indexes and indexing status; autotags listed, their scored and training
items, refinement metrics, delete. Vectors and the autotag are made through the native API
(the client has no call for either)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account
from tests.support.servers import LiveServer

pytestmark = pytest.mark.live

SETUP = """
from nucleus import DatasetItem
ds = client.create_dataset("vectors")
job = ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}")
                 for n in range(6)])
if hasattr(job, "sleep_until_complete"):  # 0.22 appends remote items as a job
    job.sleep_until_complete(verbose_std_out=False)
result = ds.id
"""

READS = """
import requests
ds = client.get_dataset(args["ds"])
sync = ds.export_embeddings(asynchronous=False)
job = ds.export_embeddings()
urls = job.result_urls()
files = [requests.get(u, timeout=30).json() for u in urls]
s = ds.create_slice("two", reference_ids=["img-1", "img-4"])
slice_job = client.get_slice(s.id).export_embeddings()
slice_files = [requests.get(u, timeout=30).json() for u in slice_job.result_urls()]
indexes = ds.embedding_indexes
tags = ds.list_autotags()
tag_id = tags[0]["id"]
tagged = ds.autotag_items("red_things", for_scores_greater_than=0.5)
training = ds.autotag_training_items("red_things")
metrics = client.get_autotag_refinement_metrics(tag_id)
from nucleus.slice import SliceBuilderFilterAutotag, SliceBuilderFilters, SliceBuilderMethods
sampled = ds.build_slice("red", 10, SliceBuilderMethods.RANDOM, SliceBuilderFilters(
    autotag=SliceBuilderFilterAutotag(tag_id, [0.5, 1.0])))
sampled = sorted(i.reference_id for i in client.get_slice(sampled["sliceId"]).items_generator())
client.delete_autotag(tag_id)
result = {
    "sync": sorted((r["reference_id"], r["embedding_vector"]) for r in sync),
    "status": [job.status()["status"], job.job_type],
    "files": sorted((r["reference_id"], r["embedding_vector"]) for f in files for r in f),
    "slice_files": sorted(r["reference_id"] for f in slice_files for r in f),
    "slice_sync": sorted(r["reference_id"] for r in
                         client.get_slice(s.id).export_embeddings(asynchronous=False)),
    "indexes": [(i.status, i.index_type, i.index_level, i.embedding_type,
                 i.embedding_dimension) for i in indexes],
    "indexing": ds.get_image_indexing_status(),
    "tags": [(t["id"][:4], t["name"], t["status"], t["autotag_level"]) for t in tags],
    "tagged": [(t["ref_id"], t["score"] > 0.5) for t in tagged["autotagItems"]],
    "tagged_tag": tagged["autotag"]["name"],
    "training": [t["ref_id"] for t in training["autotagPositiveTrainingItems"]],
    "metrics": metrics,
    "sampled": sampled,
    "after": ds.list_autotags(),
    "query_after": len(list(ds.query_items(""))),
}
try:
    client.delete_autotag(tag_id)
    result["again"] = "accepted"
except nucleus.errors.NucleusAPIError as error:
    result["again"] = error.status_code
"""

VECTORS = {
    "img-0": [1.0, 0.0, 0.0],
    "img-1": [0.9, 0.1, 0.0],
    "img-2": [0.0, 1.0, 0.0],
    "img-3": [0.0, 0.9, 0.1],
    "img-4": [0.0, 0.0, 1.0],
}


def test_embeddings_and_autotags_read_through_the_client(
    nucleus, manager: Account, server: LiveServer
) -> None:
    dataset_id = nucleus(manager.key, SETUP)
    api = f"{server.url}/api/v1/datasets/{dataset_id.removeprefix('ds_')}"
    written = httpx.post(
        f"{api}/embeddings",
        json={
            "space": "pixels",
            "items": [{"reference_id": r, "vector": v} for r, v in VECTORS.items()],
        },
        headers=manager.headers,
    )
    assert written.status_code == 200, written.text
    for path, body in (
        ("autotags", {"name": "red_things", "space": "pixels", "positive": ["img-0"], "top_k": 3}),
        ("autotags/red_things/commit", None),
    ):
        answer = httpx.post(f"{api}/{path}", json=body, headers=manager.headers)
        assert answer.status_code < 300, answer.text
    got = nucleus(manager.key, READS, args={"ds": dataset_id})
    expected = sorted([r, [pytest.approx(x) for x in v]] for r, v in VECTORS.items())
    assert got["sync"] == expected
    assert got["status"] == ["Completed", "exportEmbeddings"]
    assert got["files"] == expected
    assert got["slice_files"] == got["slice_sync"] == ["img-1", "img-4"]
    assert got["indexes"] == [["Completed", "Custom", "Image", "pixels", 3]]
    assert got["indexing"]["embedding_count"] == 5 and got["indexing"]["image_count"] == 6
    assert got["tags"] == [["tag_", "red_things", "completed", "Image"]]
    assert got["tagged"][0] == ["img-0", True]
    assert all(above for _, above in got["tagged"])
    assert got["tagged_tag"] == "red_things"
    assert got["sampled"] == sorted(ref for ref, _ in got["tagged"])
    assert got["training"] == ["img-0"]
    assert got["metrics"]["total_refinement_steps"] == 1
    assert got["metrics"]["average_positives_selected_per_refinement"] == 1.0
    assert got["after"] == [] and got["query_after"] == 6
    assert got["again"] == 404


UPDATE = """
import nucleus
ds = client.get_dataset(args["ds"])
tag_id = ds.list_autotags()[0]["id"]
before = [t["ref_id"] for t in ds.autotag_items("red_things")["autotagItems"]]
job = ds.update_autotag(tag_id)
job.sleep_until_complete(verbose_std_out=False)
after = {t["ref_id"]: t["score"] for t in ds.autotag_items("red_things")["autotagItems"]}
try:
    client.make_request({}, "autotag/tag_unknown", requests_command=__import__("requests").post)
    unknown = "accepted"
except nucleus.errors.NucleusAPIError as error:
    unknown = error.status_code
result = {"before": before, "after": after, "status": job.status()["status"],
          "type": job.job_type, "unknown": unknown}
"""


def test_update_autotag_scores_the_items_added_since_its_commit(
    nucleus, manager: Account, server: LiveServer
) -> None:
    dataset_id = nucleus(manager.key, SETUP)
    api = f"{server.url}/api/v1/datasets/{dataset_id.removeprefix('ds_')}"

    def post(path: str, body: dict | None) -> None:
        answer = httpx.post(f"{api}/{path}", json=body, headers=manager.headers)
        assert answer.status_code < 300, answer.text

    vectors = [{"reference_id": r, "vector": v} for r, v in VECTORS.items()]
    post("embeddings", {"space": "pixels", "items": vectors})
    post("autotags", {"name": "red_things", "space": "pixels", "positive": ["img-0"], "top_k": 3})
    post("autotags/red_things/commit", None)
    # A red item arrives after the commit: only an update scores it.
    post("items", {"items": [{"reference_id": "img-new", "media": "https://m.test/new.jpg"}]})
    post(
        "embeddings",
        {"space": "pixels", "items": [{"reference_id": "img-new", "vector": [0.95, 0.05, 0.0]}]},
    )
    got = nucleus(manager.key, UPDATE, args={"ds": dataset_id})
    assert "img-new" not in got["before"]
    assert got["status"] == "Completed" and got["type"] == "autotagInference"
    assert set(got["after"]) >= {"img-0", "img-new"}
    assert got["after"]["img-new"] > 0.5
    assert got["unknown"] == 404
