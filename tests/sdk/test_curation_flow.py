"""Issue 16 acceptance 2, end to end through the SDK against a real `assay serve`: a dataset
of 1,000 images with ground truth and a model's predictions → query → find similar →
autotag refined, committed and queried → slice → sent to labeling with the predictions as
pre-labels → labeled in the queue → back as ground truth, with where it came from."""

from __future__ import annotations

import time

import numpy as np
import pytest

from assay.sdk import F

pytestmark = pytest.mark.live

N = 1_000
DIM = 32
TAXONOMY = {
    "labels": [{"name": "car", "geometries": ["box"]}, {"name": "bus", "geometries": ["box"]}]
}


def box(label: str, x: float, confidence: float | None = None, shape_id: str | None = None):
    shape = {"type": "box", "label": label, "x": x, "y": 10, "width": 40, "height": 30}
    if confidence is not None:
        shape["confidence"] = confidence
    if shape_id is not None:
        shape["id"] = shape_id
    return shape


def test_curate_a_dataset_and_send_a_slice_to_labeling(connect, server, accounts):
    manager_account, labeler_account = accounts.make("manager"), accounts.make("labeler")
    client = connect(server.url, manager_account.key)
    labeler = connect(server.url, labeler_account.key)
    rng = np.random.default_rng(16)
    centres = rng.normal(size=(4, DIM))

    # 1,000 images in four scenes (by embedding), ground truth and a model's predictions.
    dataset = client.datasets.create("street scenes")
    items = [
        {
            "reference_id": f"cam/{n:04d}.jpg",
            "media": f"https://media.example.test/cam/{n:04d}.jpg",
            "width": 640,
            "height": 480,
            "metadata": {"scene": n % 4, "hour": n % 24, "camera": f"c{n % 3}"},
            "annotations": [box("car", x) for x in range(n % 3)]
            + ([box("bus", 200)] if n % 4 == 1 else []),
        }
        for n in range(N)
    ]
    appended = client.datasets.append(dataset.id, items, chunk_size=400)
    assert appended.new == N
    model = client.models.create("detector-v1", reference_id="detector-v1")
    predictions = {
        f"cam/{n:04d}.jpg": [
            box("car", 5, confidence=0.3 + 0.6 * ((n * 7) % 10) / 10, shape_id="p0")
        ]
        for n in range(N)
    }
    assert client.models.upload_predictions(dataset.id, model.id, predictions).written == N

    # Query: the bar's text and the typed expressions agree; predictions are queryable.
    text = client.datasets.query(dataset.id, "annotations.car >= 2 AND metadata.hour < 12")
    typed = client.datasets.query(
        dataset.id, (F("annotations.car") >= 2) & (F("metadata.hour") < 12)
    )
    expected = [n for n in range(N) if n % 3 == 2 and n % 24 < 12]
    assert text.count == typed.count == len(expected) > 0
    assert [i["reference_id"] for i in text.items] == [i["reference_id"] for i in typed.items]
    buses = client.datasets.query(dataset.id, "annotations.bus > 0", limit=1000)
    assert buses.count == N // 4
    confident = client.datasets.query(
        dataset.id, "prediction.confidence >= 0.8", view="objects", limit=1
    )
    assert confident.count == sum(1 for n in range(N) if 0.3 + 0.6 * ((n * 7) % 10) / 10 >= 0.8)

    # Embeddings and find-similar: the neighbours of a scene-2 image are scene-2 images.
    vectors = {
        f"cam/{n:04d}.jpg": (centres[n % 4] + 0.2 * rng.normal(size=DIM)).tolist() for n in range(N)
    }
    assert client.datasets.upload_embeddings(dataset.id, "scene-clip", vectors) == N
    near = client.datasets.similar(dataset.id, "scene-clip", reference_ids=["cam/0002.jpg"], k=20)
    assert len(near) == 20 and all(int(m.reference_id[4:8]) % 4 == 2 for m in near)
    in_c0 = client.datasets.similar(
        dataset.id,
        "scene-clip",
        reference_ids=["cam/0002.jpg"],
        k=5,
        query='metadata.camera = "c0"',
    )
    assert all(int(m.reference_id[4:8]) % 3 == 0 for m in in_c0)

    # Autotag: seed with a few scene-3 images, refine once with a negative, commit, query.
    positive = [
        m.reference_id
        for m in client.datasets.similar(
            dataset.id, "scene-clip", reference_ids=["cam/0003.jpg"], k=3
        )
    ] + ["cam/0003.jpg"]
    client.datasets.refine_autotag(
        dataset.id, "scene_three", "scene-clip", positive=positive, top_k=400
    )
    refined = client.datasets.refine_autotag(
        dataset.id,
        "scene_three",
        "scene-clip",
        positive=positive,
        negative=["cam/0000.jpg", "cam/0001.jpg"],
        top_k=400,
    )
    assert refined.autotag.rounds == 2
    assert client.datasets.commit_autotag(dataset.id, "scene_three").scored == 400
    tagged = list(client.datasets.find(dataset.id, "autotag.scene_three >= 0.5"))
    assert len(tagged) >= 200
    assert sum(1 for i in tagged if i["metadata"]["scene"] == 3) / len(tagged) > 0.95

    # Slice of the tagged scene-3 images at night, sent to labeling with pre-labels.
    chosen = client.slices.create(
        dataset.id, "scene three at night", query="autotag.scene_three >= 0.5 AND metadata.hour = 7"
    )
    assert 5 <= chosen.item_count <= 60
    project = client.projects.create(name="street boxes", task_type="image", taxonomy=TAXONOMY)
    client.projects.set_member(project.id, labeler_account.user.id, "labeler")
    link = client.slices.send_to_labeling(
        dataset.id, chosen.id, project_id=project.id, batch_name="night-3", model_id=model.id
    )
    assert link.sent == chosen.item_count

    # Labeled in the queue: the pre-label is there; the labeler answers with a bus.
    labeled = {}
    while (lease := labeler.queue.next(project.id)) is not None:
        assert lease.task.prelabels["annotations"][0]["label"] == "car"
        # Labelers see the item's media, not the dataset's metadata.
        reference_id = lease.task.params["attachment"].removeprefix("https://media.example.test/")
        answer = box("bus", 123)
        labeler.queue.submit(
            lease.task.id, lease_token=lease.lease_token, response={"annotations": [answer]}
        )
        labeled[reference_id] = lease.task.id
    assert len(labeled) == chosen.item_count

    # Back as ground truth (the duty brings completed labels back within seconds).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        links = list(client.slices.labeling_links(dataset.id))
        if links[0].returned == len(labeled):
            break
        time.sleep(0.5)
    assert links[0].returned == len(labeled) and links[0].done
    for reference_id in list(labeled)[:5]:
        item = client.datasets.item(dataset.id, reference_id=reference_id)
        assert [(a["label"], a["x"]) for a in item.annotations] == [("bus", 123.0)]
    relabeled = client.datasets.query(
        dataset.id, f'"{chosen.id}" IN slices AND annotations.bus = 1 AND annotations.car = 0'
    )
    assert relabeled.count == len(labeled)
