"""`client.datasets` against a real `assay serve`: chunked appends, updates by reference id,
pages, reads by reference id (slashes included), deletes and errors."""

from __future__ import annotations

import pytest

from assay.sdk import InvalidInput, NotFound
from tests.api.test_dataset_archive_imports import YOLO, zipped

pytestmark = pytest.mark.live


def test_a_dataset_appended_in_chunks_read_back_and_deleted(connect, server, accounts):
    client = connect(server.url, accounts.make("manager").key)
    dataset = client.datasets.create("drives", metadata={"source": "fleet"})
    items = [
        {
            "reference_id": f"cam/front/{n:04d}.jpg",
            "media": f"https://media.example.test/{n}.jpg",
            "metadata": {"speed": n},
            "annotations": [
                {"type": "box", "label": "car", "x": n, "y": 1, "width": 5, "height": 5}
            ],
        }
        for n in range(25)
    ]
    result = client.datasets.append(dataset.id, items, chunk_size=10)
    assert (result.new, result.updated, result.annotations) == (25, 0, 25)
    assert result.revision == 3  # three requests, a revision each

    again = client.datasets.append(dataset.id, items[:5], chunk_size=10)
    assert (again.new, again.updated) == (0, 5)
    assert client.datasets.get(dataset.id).item_count == 25

    listed = list(client.datasets.items(dataset.id, annotations=True, page_size=7))
    assert [i.reference_id for i in listed] == [i["reference_id"] for i in items]
    assert listed[3].annotations[0]["x"] == 3

    one = client.datasets.item(dataset.id, reference_id="cam/front/0007.jpg")
    assert one.metadata == {"speed": 7}
    assert client.datasets.item(dataset.id, one.id).reference_id == one.reference_id

    with pytest.raises(InvalidInput) as bad:
        client.datasets.append(dataset.id, [{"reference_id": "x", "media": "nope"}])
    assert bad.value.field == "items[0].media"

    assert client.datasets.delete_items(dataset.id, ["cam/front/0000.jpg", "gone"]) == 1
    with pytest.raises(NotFound):
        client.datasets.item(dataset.id, reference_id="cam/front/0000.jpg")

    job = client.datasets.delete(dataset.id)
    assert client.jobs.wait(job.id, timeout=60).status == "succeeded"
    assert [d.id for d in client.datasets.list()] == []


def test_a_yolo_archive_imported_as_a_job(connect, server, accounts, tmp_path):
    client = connect(server.url, accounts.make("manager").key)
    dataset = client.datasets.create("coco8")
    archive = tmp_path / "coco8.zip"
    archive.write_bytes(zipped(YOLO))
    job = client.datasets.import_file(dataset.id, archive, format="yolo")
    done = client.jobs.wait(job.id, timeout=60, poll=0.1)
    assert done.result == {"items": 3, "new": 3, "updated": 0, "skipped": 2}
    person = client.datasets.query(dataset.id, 'object.label = "person"', view="objects")
    assert person.items[0]["shape"]["width"] == 40

    with pytest.raises(InvalidInput) as bad:
        client.datasets.import_file(dataset.id, b"reference_id\nx\n", format="images")
    assert bad.value.field == "format"


def test_queries_from_text_and_expressions(connect, server, accounts):
    from assay.sdk import F

    client = connect(server.url, accounts.make("manager").key)
    dataset = client.datasets.create("queried")
    client.datasets.append(
        dataset.id,
        [
            {
                "reference_id": f"r{n}",
                "kind": "text",
                "text": f"sample {n}",
                "metadata": {"lang": "en" if n % 2 else "de", "length": n},
            }
            for n in range(30)
        ],
    )
    text = client.datasets.query(dataset.id, 'metadata.lang = "de" AND metadata.length >= 10')
    expression = client.datasets.query(
        dataset.id, (F("metadata.lang") == "de") & (F("metadata.length") >= 10)
    )
    assert text.count == expression.count == 10
    assert [i["reference_id"] for i in text.items] == [i["reference_id"] for i in expression.items]
    found = list(client.datasets.find(dataset.id, F("metadata.length") < 5))
    assert sorted(i["reference_id"] for i in found) == ["r0", "r1", "r2", "r3", "r4"]
    with pytest.raises(InvalidInput) as bad:
        client.datasets.query(dataset.id, "metadata.lang ==")
    assert bad.value.field == "query"


def test_near_duplicates_and_uniqueness(connect, server, accounts):
    import numpy as np

    client = connect(server.url, accounts.make("manager").key)
    dataset = client.datasets.create("near copies")
    items = [{"reference_id": f"r{n}", "kind": "text", "text": "t"} for n in range(30)]
    client.datasets.append(dataset.id, items)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((30, 8))
    vectors[1] = vectors[0] + 0.001 * rng.standard_normal(8)  # one planted pair
    client.datasets.upload_embeddings(
        dataset.id, "toy", {f"r{n}": vectors[n].tolist() for n in range(30)}
    )
    job = client.datasets.find_duplicates(dataset.id, "toy", threshold=0.01)
    assert client.jobs.wait(job.id, timeout=60, poll=0.1).result["groups"] == 1
    groups = list(client.datasets.duplicate_groups(dataset.id, page_size=1))
    assert [sorted(i.reference_id for i in g.items) for g in groups] == [["r0", "r1"]]
    pair = client.datasets.query(dataset.id, "duplicates.count > 1")
    assert sorted(i["reference_id"] for i in pair.items) == ["r0", "r1"]

    job = client.datasets.compute_uniqueness(dataset.id, "toy", k=2)
    client.jobs.wait(job.id, timeout=60, poll=0.1)
    least = client.datasets.query(dataset.id, order_by="uniqueness", limit=2)
    assert sorted(i["reference_id"] for i in least.items) == ["r0", "r1"]
    with pytest.raises(InvalidInput) as bad:
        client.datasets.find_duplicates(dataset.id, "toy", threshold=3)
    assert bad.value.field == "threshold"
    with pytest.raises(InvalidInput) as no_tower:
        client.datasets.similar(dataset.id, "toy", text="anything")
    assert no_tower.value.field == "text"


def test_object_embeddings_uploaded_and_searched_through_the_sdk(connect, server, accounts):
    client = connect(server.url, accounts.make("manager").key)
    dataset = client.datasets.create("patches")
    items = [
        {
            "reference_id": f"img-{n}",
            "media": f"https://media.example.test/{n}.jpg",
            "annotations": [
                {"type": "box", "id": f"car{n}", "label": "car", "x": 1, "y": 1, "width": 5,
                 "height": 5},
                {"type": "box", "id": f"bus{n}", "label": "bus", "x": 9, "y": 9, "width": 5,
                 "height": 5},
            ],
        }
        for n in range(4)
    ]  # fmt: skip
    client.datasets.append(dataset.id, items)
    objects = [
        {"reference_id": f"img-{n}", "annotation_id": f"{kind}{n}", "vector": vector}
        for n in range(4)
        for kind, vector in (("car", [1.0, 0.1 * n, 0.0]), ("bus", [0.0, 0.1 * n, 1.0]))
    ]
    assert client.datasets.upload_object_embeddings(dataset.id, "patch", objects) == 8
    near = client.datasets.similar_objects(
        dataset.id, "patch", objects=[{"reference_id": "img-0", "annotation_id": "car0"}], k=3
    )
    assert [m.annotation_id for m in near] == ["car1", "car2", "car3"]
    buses = client.datasets.similar_objects(
        dataset.id, "patch", vector=[1.0, 0.0, 0.0], k=2, query='annotation.label = "bus"'
    )
    assert [m.label for m in buses] == ["bus", "bus"]
    with pytest.raises(InvalidInput) as bad:
        client.datasets.upload_object_embeddings(
            dataset.id, "patch", [{**objects[0], "vector": [1.0]}]
        )
    assert bad.value.field == "objects[0].vector"
    # The job is queued (no picture to crop here: its objects are counted as failed).
    job = client.datasets.compute_object_embeddings(dataset.id)
    assert job.id
