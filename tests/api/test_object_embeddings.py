"""Object embeddings through /api/v1: vectors per annotation and prediction uploaded in
bulk (a bad one refused naming it, nothing written), find-similar over objects equal to a
brute-force computation and restricted by an object query, objects whose shapes or items
went never answered (and their vectors gone where the write path knows), and the compute
job cropping each box from its picture."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from assay.curation import annotations, models
from assay.curation.object_embeddings import OBJECT_INDEXES
from tests.support.polling import finished_job

API = "/api/v1"
DIM = 8


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def _box(
    shape_id: str, label: str, x: int = 1, y: int = 1, width: int = 4, height: int = 4
) -> dict[str, Any]:
    return {
        "type": "box", "id": shape_id, "label": label,
        "x": x, "y": y, "width": width, "height": height,
    }  # fmt: skip


@pytest.fixture
def world(client, manager) -> dict[str, Any]:
    """6 items, each a car (`a<n>`) and a bus (`b<n>`); 12 object vectors in two clusters
    crossing the labels (a car of an even item is near the buses of odd ones)."""
    dataset = ok(client.post(f"{API}/datasets", json={"name": "objs"}, headers=manager.headers))
    items = [
        {
            "reference_id": f"r{n}",
            "media": f"https://media.example.test/{n}.jpg",
            "annotations": [_box(f"a{n}", "car"), _box(f"b{n}", "bus", 6, 6)],
        }
        for n in range(6)
    ]
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(2, DIM))
    names = [(n, kind) for n in range(6) for kind in "ab"]
    vectors = np.stack(
        [centres[(n + (kind == "b")) % 2] + 0.2 * rng.normal(size=DIM) for n, kind in names]
    )
    upload = {
        "space": "toy",
        "objects": [
            {"reference_id": f"r{n}", "annotation_id": f"{kind}{n}", "vector": vectors[k].tolist()}
            for k, (n, kind) in enumerate(names)
        ],
    }
    assert ok(client.post(f"{url}/object-embeddings", json=upload, headers=manager.headers)) == {
        "written": 12
    }
    return {"id": dataset["id"], "url": url, "names": names, "vectors": vectors}


def similar(client, account, url: str, **body) -> Any:
    return client.post(f"{url}/similar-objects", json=body, headers=account.headers)


def brute_force(world: dict[str, Any], probe: np.ndarray, allowed) -> list[str]:
    unit = world["vectors"] / np.linalg.norm(world["vectors"], axis=1, keepdims=True)
    scores = unit @ (probe / np.linalg.norm(probe))
    order = [k for k in np.argsort(-scores, kind="stable") if allowed(*world["names"][k])]
    return [f"{kind}{n}" for n, kind in (world["names"][k] for k in order)]


def test_similar_objects_equal_brute_force_and_respect_the_object_query(client, manager, world):
    url = world["url"]
    a0 = {"reference_id": "r0", "annotation_id": "a0"}
    found = ok(similar(client, manager, url, space="toy", objects=[a0], k=5))["objects"]
    expected = brute_force(world, world["vectors"][0], lambda n, kind: (n, kind) != (0, "a"))
    assert [m["annotation_id"] for m in found] == expected[:5]
    assert found[0]["score"] >= found[-1]["score"]
    first = found[0]
    assert first["source_id"] == "" and first["reference_id"] == f"r{first['annotation_id'][1:]}"
    assert first["object_id"].startswith(first["item_id"] + "::")
    # By a vector, among the cars only (an object query on the objects view).
    probe = world["vectors"][3]
    cars = ok(
        similar(
            client,
            manager,
            url,
            space="toy",
            vector=probe.tolist(),
            k=4,
            query='annotation.label = "car"',
        )
    )["objects"]
    assert [m["annotation_id"] for m in cars] == brute_force(
        world, probe, lambda n, kind: kind == "a"
    )[:4]
    assert {m["label"] for m in cars} == {"car"}
    # By the objects view's own id, as an object query answers it.
    by_place = ok(
        similar(client, manager, url, space="toy", objects=[{"object_id": first["object_id"]}])
    )["objects"]
    assert first["object_id"] not in [m["object_id"] for m in by_place]
    wrong_dim = similar(client, manager, url, space="toy", vector=[1.0, 2.0])
    assert wrong_dim.status_code == 422 and wrong_dim.json()["error"]["field"] == "vector"
    unknown = similar(client, manager, url, space="nope", vector=[1.0] * DIM)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "space"
    # Item spaces never meet object spaces.
    shown = ok(client.get(url, headers=manager.headers))
    assert shown["embedding_spaces"] == {}
    assert shown["object_embedding_spaces"]["toy"]["dim"] == DIM


def test_a_bad_vector_or_object_is_refused_naming_it_and_nothing_is_written(
    client, manager, world, db
):
    url = world["url"]

    def rows() -> int:
        with db.read() as session:
            return session.scalar(select(func.count()).select_from(models.ObjectEmbedding))

    before = rows()
    good = {"reference_id": "r0", "annotation_id": "a0", "vector": [0.5] * DIM}
    cases = [
        ({"reference_id": "r1", "annotation_id": "a1", "vector": [1.0] * (DIM - 1)}, 422, "vector"),
        ({"reference_id": "r1", "annotation_id": "zz", "vector": [1.0] * DIM}, 404, ""),
        ({"reference_id": "nobody", "annotation_id": "a1", "vector": [1.0] * DIM}, 404, "ref"),
        ({"object_id": "nope:x:0", "vector": [1.0] * DIM}, 404, "object_id"),
        ({"reference_id": "r1", "vector": [1.0] * DIM}, 422, "annotation_id"),
    ]
    for bad, status, suffix in cases:
        answer = client.post(
            f"{url}/object-embeddings",
            json={"space": "toy", "objects": [good, bad]},
            headers=manager.headers,
        )
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["field"].startswith("objects[1]"), answer.json()
        assert suffix in answer.json()["error"]["field"]
    assert rows() == before
    # The stored vector of a0 is unchanged: it is still its own best match by its old vector.
    found = ok(similar(client, manager, url, space="toy", vector=world["vectors"][0].tolist()))
    assert found["objects"][0]["annotation_id"] == "a0"
    assert found["objects"][0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_objects_whose_shapes_or_items_went_are_never_answered(client, manager, world, db):
    url = world["url"]
    probe = world["vectors"][0].tolist()
    everyone = ok(similar(client, manager, url, space="toy", vector=probe, k=12))["objects"]
    assert len(everyone) == 12
    # r0 deleted: its objects' vectors go with it.
    ok(client.post(f"{url}/items/delete", json={"reference_ids": ["r0"]}, headers=manager.headers))
    # r1's ground truth replaced through an append: a1 and b1 are no shapes any more.
    media = "https://media.example.test/1.jpg"
    replace = {
        "items": [{"reference_id": "r1", "media": media, "annotations": [_box("c1", "car")]}]
    }
    ok(client.post(f"{url}/items", json=replace, headers=manager.headers))
    left = ok(similar(client, manager, url, space="toy", vector=probe, k=12))["objects"]
    assert sorted(m["annotation_id"] for m in left) == sorted(
        f"{kind}{n}" for n in range(2, 6) for kind in "ab"
    )
    with db.read() as session:
        kept = set(session.scalars(select(models.ObjectEmbedding.shape_key)))
        assert not {"a0", "b0"} & kept
        # The process's index follows the table: the deleted item's seqs are out of it.
        dataset = session.get(models.Dataset, world["id"])
        index = OBJECT_INDEXES.get(session, dataset, "toy")
        seqs = set(session.scalars(select(models.ObjectEmbedding.seq)))
        assert set(index.keys().tolist()) == seqs and len(seqs) == 10
    # Ground truth deleted through the annotations service: its vectors go with it.
    with db.write() as session:
        dataset = session.get(models.Dataset, world["id"])
        annotations.delete_by_items(
            session=session, dataset=dataset, source_id=models.GROUND_TRUTH, reference_ids=["r3"]
        )
    with db.read() as session:
        kept = set(session.scalars(select(models.ObjectEmbedding.shape_key)))
    assert not {"a3", "b3"} & kept and {"a2", "b2"} <= kept
    left = ok(similar(client, manager, url, space="toy", vector=probe, k=12))["objects"]
    assert len(left) == 6
    # A model's predictions replaced through its upload route: the vector of the one that
    # went is deleted with it.
    model = ok(
        client.post(
            f"{API}/models", json={"name": "det", "reference_id": "det"}, headers=manager.headers
        )
    )
    predicted = {
        "model_id": model["id"],
        "items": {"r2": [{**_box("p2", "car"), "confidence": 0.9}]},
    }
    ok(client.post(f"{url}/predictions", json=predicted, headers=manager.headers))
    upload = {
        "space": "toy",
        "objects": [
            {"reference_id": "r2", "annotation_id": "p2", "model_id": model["id"], "vector": probe}
        ],
    }
    ok(client.post(f"{url}/object-embeddings", json=upload, headers=manager.headers))
    found = ok(similar(client, manager, url, space="toy", vector=probe, k=1))["objects"]
    assert found[0]["annotation_id"] == "p2" and found[0]["source_id"] == model["id"]
    predicted["items"] = {"r2": [{**_box("p9", "car"), "confidence": 0.5}]}
    predicted["update"] = True
    ok(client.post(f"{url}/predictions", json=predicted, headers=manager.headers))
    with db.read() as session:
        keys = set(session.scalars(select(models.ObjectEmbedding.shape_key)))
    # p2 stays (the upload adds p9 next to it), so its vector does too.
    assert "p2" in keys


def _png(size: tuple[int, int], paint: list[tuple[tuple[int, int, int, int], tuple]]) -> bytes:
    image = Image.new("RGB", size, (128, 128, 128))
    for (left, top, right, bottom), colour in paint:
        for x in range(left, right):
            for y in range(top, bottom):
                image.putpixel((x, y), colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_compute_object_embeddings_crops_each_box_from_its_picture(client, manager, pool):
    dataset = ok(client.post(f"{API}/datasets", json={"name": "crops"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    items = []
    for n in range(4):
        red, blue = (200 + 10 * n, 20, 20), (20, 20, 200 + 10 * n)
        data = _png((48, 32), [((0, 0, 24, 32), red), ((24, 0, 48, 32), blue)])
        blob = ok(
            client.post(
                f"{API}/blobs", files={"file": (f"{n}.png", data, "image/png")},
                headers=manager.headers,
            )
        )  # fmt: skip
        shapes = [
            _box(f"red{n}", "x", 2, 2, 20, 28),
            _box(f"blue{n}", "x", 26, 2, 20, 28),
            _box(f"off{n}", "x", 90, 90, 5, 5),
            {"type": "category", "id": f"cat{n}", "label": "day"},
        ]
        items.append(
            {"reference_id": f"p{n}", "media": f"blob:{blob['sha256']}", "annotations": shapes}
        )
    items.append(
        {
            "reference_id": "t",
            "kind": "text",
            "text": "no picture",
            "annotations": [_box("tb", "x")],
        }
    )
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    job = ok(client.post(f"{url}/object-embeddings/compute", json={}, headers=manager.headers))
    job = finished_job(client, manager, job["id"])
    assert job["status"] == "succeeded", job
    assert job["result"] == {
        "embedded": 8, "skipped": 9, "failed": 0, "already": 0,
        "space": "tiny-image", "source_id": "",
    }  # fmt: skip
    assert job["progress"] == 1.0
    red = {"reference_id": "p0", "annotation_id": "red0"}
    near = ok(similar(client, manager, url, space="tiny-image", objects=[red], k=3))["objects"]
    assert [m["annotation_id"][:3] for m in near] == ["red"] * 3
    again = ok(client.post(f"{url}/object-embeddings/compute", json={}, headers=manager.headers))
    again = finished_job(client, manager, again["id"])
    assert again["result"]["embedded"] == 0 and again["result"]["already"] == 8
    # A space of another dimension is refused before a job is queued.
    toy = {"space": "toy", "objects": [{**red, "vector": [1.0, 0.0]}]}
    ok(client.post(f"{url}/object-embeddings", json=toy, headers=manager.headers))
    clash = client.post(
        f"{url}/object-embeddings/compute", json={"space": "toy"}, headers=manager.headers
    )
    assert clash.status_code == 422 and clash.json()["error"]["field"] == "space"
    unknown = client.post(
        f"{url}/object-embeddings/compute", json={"model_id": "nope"}, headers=manager.headers
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "model_id"
