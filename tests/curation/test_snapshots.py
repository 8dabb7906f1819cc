"""Snapshots (`curation/snapshots.py`): the frames of a dataset equal a plain reading of what
was appended, and a snapshot caught up after appends, updates and deletes equals one built
from scratch."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import msgspec
import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from assay.core.auth import SYSTEM
from assay.curation import datasets, items, measures, models, snapshots, wire

LABELS = ["car", "truck", "person"]


def shape(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["box", "box", "polygon", "ellipse", "mask", "category"])
    label = rng.choice(LABELS)
    if kind == "box":
        return {
            "type": "box",
            "label": label,
            "x": rng.randint(0, 50),
            "y": rng.randint(0, 50),
            "width": rng.randint(1, 40),
            "height": rng.randint(1, 40),
            "attributes": {"occluded": rng.random() < 0.5},
        }
    if kind == "polygon":
        w, h = rng.randint(1, 9), rng.randint(1, 9)
        return {
            "type": "polygon",
            "label": label,
            "vertices": [{"x": 0, "y": 0}, {"x": w, "y": 0}, {"x": w, "y": h}, {"x": 0, "y": h}],
        }
    if kind == "ellipse":
        return {"type": "ellipse", "label": label, "cx": 5, "cy": 5, "rx": 2, "ry": 3}
    if kind == "mask":
        return {"type": "mask", "label": label, "rle": {"size": [2, 3], "counts": [1, 4, 1]}}
    return {"type": "category", "label": label}


def expected_extent(s: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    if s["type"] == "box":
        return s["width"] * s["height"], s["width"], s["height"]
    if s["type"] == "polygon":
        w, h = s["vertices"][2]["x"], s["vertices"][2]["y"]
        return w * h, w, h
    if s["type"] == "ellipse":
        return math.pi * 6, 4, 6
    if s["type"] == "mask":
        return 4, 3, 2
    return None, None, None


def make_item(n: int, rng: random.Random) -> dict[str, Any]:
    return {
        "reference_id": f"item-{n}",
        "media": f"https://media.example.test/{n}.jpg",
        "metadata": {
            "weather": rng.choice(["sun", "rain"]),
            "speed": rng.randint(0, 120),
            "camera": {"id": rng.randint(0, 3)},
            "sensors": rng.sample(["front", "rear", "top"], 2),
        },
        "tags": ["night"] if rng.random() < 0.3 else [],
        "annotations": [shape(rng) for _ in range(rng.randint(0, 4))],
    }


def append(db, dataset_id: str, batch: list[dict]) -> None:
    body = msgspec.json.encode({"items": batch})
    with db.write() as session:
        dataset = datasets.get_dataset(session=session, dataset_id=dataset_id, mode="live")
        items.append_items(
            session=session,
            dataset=dataset,
            actor=SYSTEM,
            append=wire.decode(body, wire.AppendIn),
            max_items=10_000,
        )


def delete(db, dataset_id: str, reference_ids: list[str]) -> None:
    with db.write() as session:
        dataset = datasets.get_dataset(session=session, dataset_id=dataset_id, mode="live")
        items.delete_items(session=session, dataset=dataset, reference_ids=reference_ids)


def snapshot_of(db, dataset_id: str, previous: snapshots.Snapshot | None = None):
    with db.read() as session:
        dataset = datasets.get_dataset(session=session, dataset_id=dataset_id, mode="live")
        if previous is None:
            return snapshots.build(session, dataset)
        return snapshots.catch_up(session, dataset, previous)


@pytest.fixture
def dataset_id(db) -> str:
    with db.write() as session:
        return datasets.create_dataset(
            session=session, mode="live", name="snap", created_by=None
        ).id


def canonical(snapshot: snapshots.Snapshot) -> tuple[list, list]:
    """Rows keyed by reference id (row numbers differ between equal snapshots)."""
    frame = snapshot.items.drop("row", "item_id").sort("reference_id")
    refs = snapshot.items.select("row", "reference_id")
    objects = (
        snapshot.objects.join(refs, left_on="item_row", right_on="row")
        .drop("item_row")
        .sort("object_id")
    )
    return frame.to_dicts(), objects.drop("object_id").to_dicts()


def test_frames_hold_what_was_appended(db, dataset_id):
    rng = random.Random(7)
    batch = [make_item(n, rng) for n in range(60)]
    append(db, dataset_id, batch)
    snap = snapshot_of(db, dataset_id)

    assert snap.items.height == 60
    assert snap.items["row"].to_list() == list(range(60))
    by_ref = {row["reference_id"]: row for row in snap.items.to_dicts()}
    for item in batch:
        row = by_ref[item["reference_id"]]
        assert row["metadata.weather"] == item["metadata"]["weather"]
        assert row["metadata.speed"] == item["metadata"]["speed"]
        assert row["metadata.camera.id"] == item["metadata"]["camera"]["id"]
        assert row["metadata.sensors"] == item["metadata"]["sensors"]
        assert row["tags"] == item["tags"]
    assert snap.items.schema["metadata.speed"] == pl.Float64

    refs = dict(zip(snap.items["row"].to_list(), snap.items["reference_id"].to_list(), strict=True))
    found = sorted(
        (
            refs[o["item_row"]],
            o["source"],
            o["type"],
            o["label"],
            o["area"],
            o["width"],
            o["height"],
        )
        for o in snap.objects.to_dicts()
    )
    wanted = sorted(
        (item["reference_id"], "gt", s["type"], s["label"], *expected_extent(s))
        for item in batch
        for s in item["annotations"]
    )
    assert len(found) == len(wanted)
    for got, want in zip(found, wanted, strict=True):
        assert got[:4] == want[:4]
        for a, b in zip(got[4:], want[4:], strict=True):
            assert (a is None and b is None) or a == pytest.approx(b)
    boxes = snap.objects.filter(pl.col("type") == "box")
    assert boxes["attributes.occluded"].null_count() == 0


def test_a_caught_up_snapshot_equals_a_fresh_one(db, dataset_id):
    rng = random.Random(8)
    append(db, dataset_id, [make_item(n, rng) for n in range(40)])
    old = snapshot_of(db, dataset_id)

    # New items, changed items (new metadata and shapes, one with its shapes cleared), and
    # deleted ones, over several revisions.
    append(db, dataset_id, [make_item(n, rng) for n in range(40, 55)])
    changed = [make_item(n, rng) for n in (3, 7, 11)]
    changed[0]["annotations"] = []
    append(db, dataset_id, changed)
    delete(db, dataset_id, ["item-5", "item-41", "item-20"])
    append(db, dataset_id, [{"reference_id": "item-5", "kind": "text", "text": "back again"}])

    caught_up = snapshot_of(db, dataset_id, old)
    fresh = snapshot_of(db, dataset_id)
    assert caught_up.revision == fresh.revision > old.revision
    assert caught_up.items["row"].to_list() == list(range(caught_up.items.height))
    assert canonical(caught_up) == canonical(fresh)
    # Changed items keep their place (the order they were added), as in a fresh build.
    assert caught_up.items["reference_id"].to_list() == fresh.items["reference_id"].to_list()
    assert caught_up.items.height == 40 + 15 - 3 + 1


def test_measures_survive_a_catch_up_and_a_new_run_replaces_them(db, dataset_id):
    """Stored measures (uniqueness) become a column by seq; rows re-read for an update keep
    their value, new items have none, deleted ones go, and a newer run replaces the column —
    the caught-up snapshot equals a fresh build each time."""
    rng = random.Random(10)
    append(db, dataset_id, [make_item(n, rng) for n in range(30)])

    def store(values: dict[int, float]) -> None:
        with db.write() as session:
            dataset = datasets.get_dataset(session=session, dataset_id=dataset_id, mode="live")
            seqs = dict(
                session.execute(
                    select(models.Item.reference_id, models.Item.seq).where(
                        models.Item.dataset_id == dataset_id
                    )
                ).all()
            )
            keys = np.array([seqs[f"item-{n}"] for n in values], dtype=np.int64)
            measures.store_measures(
                session=session,
                dataset=dataset,
                space="toy",
                keys=keys,
                fields={"uniqueness": np.array(list(values.values()))},
                params={"k": 3},
            )

    store({n: n / 100 for n in range(30)})
    old = snapshot_of(db, dataset_id)
    seven = old.items.filter(pl.col("reference_id") == "item-7")
    assert seven["uniqueness"].item() == pytest.approx(0.07)

    append(db, dataset_id, [make_item(n, rng) for n in (7, 30)])  # an update and a new item
    delete(db, dataset_id, ["item-9"])
    caught_up = snapshot_of(db, dataset_id, old)
    assert canonical(caught_up) == canonical(snapshot_of(db, dataset_id))
    by_ref = dict(caught_up.items.select("reference_id", "uniqueness").iter_rows())
    assert by_ref["item-7"] == pytest.approx(0.07)
    assert by_ref["item-30"] is None and "item-9" not in by_ref

    store({n: 1 - n / 100 for n in range(5)})  # a newer run: the others have no score now
    again = snapshot_of(db, dataset_id, caught_up)
    assert canonical(again) == canonical(snapshot_of(db, dataset_id))
    by_ref = dict(again.items.select("reference_id", "uniqueness").iter_rows())
    assert by_ref["item-1"] == pytest.approx(0.99) and by_ref["item-7"] is None


def test_an_empty_dataset_has_empty_frames(db, dataset_id):
    snap = snapshot_of(db, dataset_id)
    assert snap.items.height == 0 and snap.objects.height == 0
    assert "item_row" in snap.objects.columns


def test_a_saved_snapshot_is_loaded_and_caught_up_by_a_new_process(db, dataset_id, tmp_path):
    rng = random.Random(9)
    append(db, dataset_id, [make_item(n, rng) for n in range(30)])
    first = snapshots.Snapshots()
    first.configure(tmp_path / "snapshots")
    with db.read() as session:
        dataset = datasets.get_dataset(session=session, dataset_id=dataset_id, mode="live")
        built = first.get(session, dataset)
    saved = tmp_path / "snapshots" / dataset_id / "snapshot.json"
    assert json.loads(saved.read_text())["revision"] == built.revision

    append(db, dataset_id, [make_item(n, rng) for n in range(30, 35)])
    delete(db, dataset_id, ["item-3"])
    later = snapshots.Snapshots()  # another process: nothing in memory, the file on disk
    later.configure(tmp_path / "snapshots")
    with db.read() as session:
        dataset = datasets.get_dataset(session=session, dataset_id=dataset_id, mode="live")
        assert later._load(dataset) is not None
        loaded = later.get(session, dataset)
    fresh = snapshot_of(db, dataset_id)
    assert loaded.revision == fresh.revision > built.revision
    assert canonical(loaded) == canonical(fresh)
