"""Datasets and items through /api/v1: create, bulk append (insert, update by reference id,
ground truth replaced), reads, pages, deletes (items, and a dataset as a job), access, and
bad input that writes nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func

from assay.curation import models

API = "/api/v1"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def box(label: str = "car", x: float = 10, y: float = 20, w: float = 30, h: float = 40, **extra):
    return {"type": "box", "label": label, "x": x, "y": y, "width": w, "height": h, **extra}


def image_item(n: int, **extra) -> dict[str, Any]:
    return {
        "reference_id": f"img-{n}",
        "media": f"https://images.example.test/{n}.jpg",
        "width": 640,
        "height": 480,
        "metadata": {"weather": ["sun", "rain"][n % 2], "speed": n * 1.5, "camera": {"id": n % 3}},
        "tags": ["day"] if n % 2 == 0 else [],
        **extra,
    }


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def dataset(client, manager) -> dict[str, Any]:
    return ok(client.post(f"{API}/datasets", json={"name": "streets"}, headers=manager.headers))


def append(client, account, dataset_id: str, items: list[dict], **body) -> Any:
    return client.post(
        f"{API}/datasets/{dataset_id}/items", json={"items": items, **body}, headers=account.headers
    )


def counts(db) -> tuple[int, int, int]:
    with db.read() as session:
        return (
            session.query(models.Item).count(),
            session.query(func.coalesce(func.sum(models.Annotation.count), 0)).scalar(),
            session.query(models.Tombstone).count(),
        )


def test_append_then_reappend_updates_and_never_duplicates(client, manager, dataset, db):
    items = [image_item(n, annotations=[box(), box("person", x=100)]) for n in range(5)]
    first = ok(append(client, manager, dataset["id"], items))
    assert first["new"] == 5 and first["updated"] == 0 and first["annotations"] == 10

    # The same reference ids again, one with new metadata and one ground truth box: updated.
    again = [image_item(0, metadata={"weather": "snow"}, annotations=[box("truck")])]
    again += [image_item(1)]  # no `annotations`: its ground truth stays
    second = ok(append(client, manager, dataset["id"], again))
    assert (second["new"], second["updated"], second["annotations"]) == (0, 2, 1)
    assert second["revision"] == first["revision"] + 1

    found = ok(client.get(f"{API}/datasets/{dataset['id']}", headers=manager.headers))
    assert (found["item_count"], found["annotation_count"]) == (5, 9)
    assert counts(db)[:2] == (5, 9)

    page = ok(
        client.get(
            f"{API}/datasets/{dataset['id']}/items?annotations=true&limit=2",
            headers=manager.headers,
        )
    )
    assert [i["reference_id"] for i in page["items"]] == ["img-0", "img-1"]
    assert page["items"][0]["metadata"] == {"weather": "snow"}
    assert [a["label"] for a in page["items"][0]["annotations"]] == ["truck"]
    assert [a["label"] for a in page["items"][1]["annotations"]] == ["car", "person"]
    rest = ok(
        client.get(
            f"{API}/datasets/{dataset['id']}/items?cursor={page['next_cursor']}&limit=10",
            headers=manager.headers,
        )
    )
    assert [i["reference_id"] for i in rest["items"]] == ["img-2", "img-3", "img-4"]
    assert rest["next_cursor"] is None

    # update false: Nucleus's default — the existing item is left alone and counted.
    third = ok(append(client, manager, dataset["id"], [image_item(2, metadata={})], update=False))
    assert (third["new"], third["updated"], third["ignored"]) == (0, 0, 1)
    item = ok(
        client.get(
            f"{API}/datasets/{dataset['id']}/items-by-reference/img-2", headers=manager.headers
        )
    )
    assert item["metadata"]["weather"] == "sun"
    assert item["annotations"][0] == box()
    assert (
        ok(
            client.get(
                f"{API}/datasets/{dataset['id']}/items/{item['id']}", headers=manager.headers
            )
        )["reference_id"]
        == "img-2"
    )


def test_an_append_of_new_and_known_items_inserts_updates_and_numbers_densely(
    client, manager, dataset, db
):
    """New and known reference ids in one append (PostgreSQL stages them all, then sorts
    them out under the lock): new ones inserted with the next dense numbers, known ones
    updated with their ground truth replaced or kept — or, with `update` false, left whole."""
    first = [image_item(n, annotations=[box(), box("person")]) for n in range(4)]
    ok(append(client, manager, dataset["id"], first))

    mixed = [
        image_item(4, annotations=[box("bus")]),
        image_item(1, metadata={"weather": "fog"}, annotations=[box("truck")]),
        image_item(5),
        image_item(2),  # no `annotations`: its two boxes stay
        image_item(3, annotations=[]),  # an empty list: its boxes go
        image_item(6, annotations=[box("van"), box("van", x=1)]),
    ]
    result = ok(append(client, manager, dataset["id"], mixed))
    assert (result["new"], result["updated"], result["annotations"]) == (3, 3, 4)

    found = ok(client.get(f"{API}/datasets/{dataset['id']}", headers=manager.headers))
    assert (found["item_count"], found["annotation_count"]) == (7, 2 + 1 + 2 + 0 + 1 + 0 + 2)
    assert counts(db)[:2] == (7, 8)
    with db.read() as session:
        seqs = dict(session.query(models.Item.reference_id, models.Item.seq).all())
        revisions = dict(session.query(models.Item.reference_id, models.Item.revision).all())
    assert sorted(seqs.values()) == list(range(1, 8))
    assert [seqs[f"img-{n}"] for n in (4, 5, 6)] == [5, 6, 7]  # in the append's order
    assert {revisions[f"img-{n}"] for n in (1, 2, 3, 4, 5, 6)} == {result["revision"]}
    assert revisions["img-0"] == result["revision"] - 1

    def labels(n: int) -> list[str]:
        item = ok(
            client.get(
                f"{API}/datasets/{dataset['id']}/items-by-reference/img-{n}",
                headers=manager.headers,
            )
        )
        return [a["label"] for a in item["annotations"]]

    assert [labels(n) for n in range(7)] == [
        ["car", "person"],
        ["truck"],
        ["car", "person"],
        [],
        ["bus"],
        [],
        ["van", "van"],
    ]

    # update false: the known ones (and their new boxes) are left alone, the new one added.
    kept = [image_item(1, annotations=[box("cone")]), image_item(7, annotations=[box("cone")])]
    third = ok(append(client, manager, dataset["id"], kept, update=False))
    assert (third["new"], third["updated"], third["ignored"], third["annotations"]) == (1, 0, 1, 1)
    assert labels(1) == ["truck"] and labels(7) == ["cone"]
    assert counts(db)[:2] == (8, 9)


def test_every_annotation_type_round_trips(client, manager, dataset):
    shapes = [
        box(id="b1", confidence=0.5, attributes={"occluded": True}),
        {
            "type": "polygon",
            "label": "road",
            "vertices": [{"x": 0, "y": 0}, {"x": 4, "y": 0}, {"x": 4, "y": 3}],
        },
        {"type": "line", "label": "lane", "vertices": [{"x": 0, "y": 0}, {"x": 5, "y": 5}]},
        {"type": "point", "label": "light", "x": 3, "y": 4},
        {
            "type": "keypoints",
            "label": "pose",
            "points": [
                {"name": "head", "x": 1, "y": 2},
                {"name": "hip", "x": 1, "y": 9, "visible": False},
            ],
            "skeleton": [[0, 1]],
        },
        {"type": "ellipse", "label": "sign", "cx": 5, "cy": 5, "rx": 2, "ry": 1},
        {
            "type": "cuboid",
            "label": "car",
            "front": {"x": 0, "y": 0, "width": 10, "height": 5},
            "back": {"x": 2, "y": 1, "width": 8, "height": 4},
        },
        {
            "type": "cuboid",
            "label": "car",
            "position": {"x": 1, "y": 2, "z": 0},
            "dimensions": {"x": 4, "y": 2, "z": 1.5},
            "yaw": 0.3,
        },
        {"type": "mask", "label": "sky", "rle": {"size": [2, 3], "counts": [1, 4, 1]}},
        {"type": "category", "label": "urban", "taxonomy": "scene"},
        {"type": "text", "text": "a busy street"},
    ]
    ok(append(client, manager, dataset["id"], [image_item(1, annotations=shapes)]))
    item = ok(
        client.get(
            f"{API}/datasets/{dataset['id']}/items-by-reference/img-1", headers=manager.headers
        )
    )
    found = item["annotations"]
    assert [a["type"] for a in found] == [s["type"] for s in shapes]
    assert found[0]["confidence"] == 0.5 and found[0]["attributes"] == {"occluded": True}
    assert found[4]["points"][1]["visible"] is False
    assert found[8]["rle"] == {"size": [2, 3], "counts": [1, 4, 1]}
    text_item = {"reference_id": "t-1", "kind": "text", "text": "hello world"}
    spans = [{"type": "span", "label": "greeting", "start": 0, "end": 5}]
    ok(append(client, manager, dataset["id"], [text_item | {"annotations": spans}]))


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        ({"reference_id": "a"}, "items[1].media", "needs media"),
        ({"reference_id": "a", "media": "ftp://x/y.jpg"}, "items[1].media", "http"),
        ({"reference_id": "a", "media": "blob:abc"}, "items[1].media", "sha256"),
        ({"reference_id": "a", "media": "blob:" + "0" * 64}, "items[1].media", "no uploaded blob"),
        (
            {"reference_id": "img-0", "media": "https://x.test/a.jpg"},
            "items[1].reference_id",
            "items[0]",
        ),
        (
            {"reference_id": "a", "media": "https://x.test/a.jpg", "colour": 1},
            "items[1].colour",
            "unknown field",
        ),
        (
            {"reference_id": "a", "media": "https://x.test/a.jpg", "width": -5},
            "items[1].width",
            ">",
        ),
        (
            {"reference_id": "a", "media": "https://x.test/a.jpg", "annotations": [box(w=0)]},
            "items[1].annotations[0].width",
            "> 0",
        ),
        (
            {
                "reference_id": "a",
                "media": "https://x.test/a.jpg",
                "annotations": [{"type": "polygon", "label": "x", "vertices": [{"x": 0, "y": 0}]}],
            },
            "items[1].annotations[0].vertices",
            "length >= 3",
        ),
        (
            {
                "reference_id": "a",
                "media": "https://x.test/a.jpg",
                "annotations": [{"type": "blob"}],
            },
            "items[1].annotations[0].type",
            "blob",
        ),
        (
            {
                "reference_id": "a",
                "media": "https://x.test/a.jpg",
                "annotations": [{"type": "cuboid", "label": "car"}],
            },
            "items[1].annotations[0]",
            "2D",
        ),
        (
            {
                "reference_id": "a",
                "media": "https://x.test/a.jpg",
                "annotations": [
                    {"type": "mask", "label": "s", "rle": {"size": [2, 2], "counts": [1, 1]}}
                ],
            },
            "items[1].annotations[0].rle.counts",
            "2 by 2",
        ),
        (
            {
                "reference_id": "a",
                "media": "https://x.test/a.jpg",
                "annotations": [box(id="1"), box(id="1")],
            },
            "items[1].annotations[1].id",
            "twice",
        ),
        (
            {
                "reference_id": "a",
                "media": "https://x.test/a.jpg",
                "metadata": {"score": float("nan")},
            },
            "items[1].metadata.score",
            "NaN",
        ),
    ],
)
def test_bad_items_are_a_4xx_naming_the_field_and_write_nothing(
    client, manager, dataset, db, item, field, words
):
    before = counts(db)
    if "score" in item.get("metadata", {}):
        import json

        body = json.dumps({"items": [image_item(0), item]})  # Python writes NaN
        response = client.post(
            f"{API}/datasets/{dataset['id']}/items",
            content=body.encode(),
            headers={**manager.headers, "Content-Type": "application/json"},
        )
    else:
        response = append(client, manager, dataset["id"], [image_item(0), item])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    assert counts(db) == before
    assert (
        ok(client.get(f"{API}/datasets/{dataset['id']}", headers=manager.headers))["item_count"]
        == 0
    )


def test_an_append_over_the_limit_is_refused_whole(client, manager, dataset, db, settings):
    limit = settings.max_append_items
    items = [{"reference_id": f"r{n}", "kind": "text", "text": "x"} for n in range(limit + 1)]
    response = append(client, manager, dataset["id"], items)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "items"
    assert str(limit) in response.json()["error"]["message"]
    assert counts(db) == (0, 0, 0)


def test_uploaded_blobs_are_shown_and_readable_through_the_dataset(
    client, manager, accounts, dataset
):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(buffer, "PNG")
    blob = ok(
        client.post(
            f"{API}/blobs",
            files={"file": ("a.png", buffer.getvalue(), "image/png")},
            headers=manager.headers,
        )
    )
    item = {"reference_id": "b", "media": f"blob:{blob['sha256']}"}
    ok(append(client, manager, dataset["id"], [item]))
    # Another manager did not upload it but sees the dataset, so may read the blob.
    other = accounts.make("manager")
    assert client.get(f"{API}/blobs/{blob['sha256']}", headers=other.headers).status_code == 200
    # A labeler sees neither the dataset nor the blob.
    labeler = accounts.make("labeler")
    assert client.get(f"{API}/blobs/{blob['sha256']}", headers=labeler.headers).status_code == 404
    # Nor may a labeler's append reference someone else's blob (they cannot even see datasets).
    response = append(client, labeler, dataset["id"], [item])
    assert response.status_code == 404


def test_labelers_and_the_other_sandbox_do_not_see_datasets(client, manager, accounts, dataset):
    labeler = accounts.make("labeler")
    assert client.get(f"{API}/datasets/{dataset['id']}", headers=labeler.headers).status_code == 404
    assert client.get(f"{API}/datasets", headers=labeler.headers).status_code == 403
    assert (
        client.post(f"{API}/datasets", json={"name": "x"}, headers=labeler.headers).status_code
        == 403
    )
    # A test key is a sandbox: the live dataset does not exist there.
    assert (
        client.get(f"{API}/datasets/{dataset['id']}", headers=manager.test_headers).status_code
        == 404
    )
    assert ok(client.get(f"{API}/datasets", headers=manager.test_headers))["items"] == []
    # The query bar reads the dataset without the ORM (`get_dataset_head`): the same rules.
    for headers in (labeler.headers, manager.test_headers):
        refused = client.post(f"{API}/datasets/{dataset['id']}/query", json={}, headers=headers)
        assert refused.status_code == 404 and refused.json()["error"]["field"] == "dataset_id"
    assert [
        d["id"] for d in ok(client.get(f"{API}/datasets", headers=manager.headers))["items"]
    ] == [dataset["id"]]


def test_deleting_items_leaves_tombstones_and_fixes_the_counts(client, manager, dataset, db):
    ok(
        append(
            client, manager, dataset["id"], [image_item(n, annotations=[box()]) for n in range(4)]
        )
    )
    deleted = ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items/delete",
            json={"reference_ids": ["img-1", "img-3", "img-99"]},
            headers=manager.headers,
        )
    )
    assert deleted == {"deleted": 2}
    found = ok(client.get(f"{API}/datasets/{dataset['id']}", headers=manager.headers))
    assert (found["item_count"], found["annotation_count"]) == (2, 2)
    assert counts(db) == (2, 2, 2)
    with db.read() as session:
        revisions = {t.revision for t in session.query(models.Tombstone)}
    assert revisions == {found["revision"]}


def test_deleting_a_dataset_hides_it_at_once_and_a_job_removes_its_rows(
    client, manager, dataset, db, pool
):
    ok(
        append(
            client, manager, dataset["id"], [image_item(n, annotations=[box()]) for n in range(30)]
        )
    )
    job = ok(client.delete(f"{API}/datasets/{dataset['id']}", headers=manager.headers))
    assert job["kind"] == "curation.delete_dataset"
    assert client.get(f"{API}/datasets/{dataset['id']}", headers=manager.headers).status_code == 404
    assert append(client, manager, dataset["id"], [image_item(99)]).status_code == 404
    queried = client.post(f"{API}/datasets/{dataset['id']}/query", json={}, headers=manager.headers)
    assert queried.status_code == 404
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = ok(client.get(f"{API}/jobs/{job['id']}", headers=manager.headers))["status"]
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert status == "succeeded"
    assert counts(db) == (0, 0, 0)
    with db.read() as session:
        assert session.get(models.Dataset, dataset["id"]) is None
