"""curation.annotations (uploads by source, deletes, reads), ml_models, item_metadata and
uploads: the services behind the Nucleus API, on both dialects."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from assay.core import blobs
from assay.core.auth import Actor
from assay.core.errors import Conflict, Invalid, NotFound
from assay.curation import (
    annotations,
    datasets,
    item_metadata,
    items,
    ml_models,
    models,
    uploads,
    wire,
)


@pytest.fixture
def actor(accounts) -> Actor:
    user = accounts.make("manager").user
    return Actor(user_id=user.id, email=user.email, role="manager")


@pytest.fixture
def dataset_id(db, actor) -> str:
    with db.write() as session:
        dataset = datasets.create_dataset(
            session=session, mode="live", name="streets", created_by=actor.user_id
        )
        items.append_items(
            session=session,
            dataset=dataset,
            actor=actor,
            append=wire.AppendIn(
                items=[
                    wire.ItemIn(reference_id=f"img-{i}", media=f"https://x.test/{i}.jpg")
                    for i in range(3)
                ]
            ),
            max_items=100,
        )
        return dataset.id


def box(shape_id: str | None, x: float = 1, confidence: float | None = None) -> wire.Box:
    return wire.Box(id=shape_id, label="car", x=x, y=0, width=2, height=2, confidence=confidence)


def state(db, dataset_id: str) -> dict:
    with db.read() as session:
        dataset = session.get(models.Dataset, dataset_id)
        rows = session.execute(
            select(models.Item.reference_id, models.Annotation.source_id, models.Annotation.shapes)
            .join(models.Item, models.Item.id == models.Annotation.item_id)
            .order_by(models.Item.reference_id, models.Annotation.source_id)
        ).all()
        return {
            "revision": dataset.revision,
            "annotation_count": dataset.annotation_count,
            "prediction_count": dataset.prediction_count,
            # One row per item and source holds its shapes: flattened in their order.
            "rows": [
                (ref, source, data.get("id"), data.get("x"))
                for ref, source, shapes in rows
                for data in shapes
            ],
        }


def test_upload_inserts_keeps_or_replaces_by_id_and_counts(db, dataset_id) -> None:
    def run(placed, update, source=models.GROUND_TRUTH):
        with db.write() as session:
            dataset = session.get(models.Dataset, dataset_id)
            return annotations.upload(
                session=session,
                dataset=dataset,
                source_id=source,
                placed=placed,
                update_existing=update,
            )

    first = run(
        [annotations.Placed("img-0", None, box("a")), annotations.Placed("img-1", None, box(None))],
        False,
    )
    assert (first.processed, first.ignored) == (2, 0)
    before = state(db, dataset_id)
    kept = run([annotations.Placed("img-0", None, box("a", x=5))], False)
    assert (kept.processed, kept.ignored, kept.revision) == (0, 1, None)
    assert state(db, dataset_id) == before  # nothing written, no revision taken
    replaced = run([annotations.Placed("img-0", None, box("a", x=7))], True)
    assert (replaced.processed, replaced.ignored) == (1, 0)
    after = state(db, dataset_id)
    assert after["revision"] == before["revision"] + 1
    assert after["annotation_count"] == 2
    assert sorted(after["rows"], key=str) == sorted(
        [("img-0", "", "a", 7), ("img-1", "", None, 1)], key=str
    )
    # A model's predictions are apart from the ground truth, with their own count.
    model_source = "m" * 24
    run([annotations.Placed("img-0", None, box("a", x=9, confidence=0.5))], False, model_source)
    final = state(db, dataset_id)
    assert (final["annotation_count"], final["prediction_count"]) == (2, 1)
    with db.read() as session:
        item = items.get_item_by_reference(
            session=session, dataset=session.get(models.Dataset, dataset_id), reference_id="img-0"
        )
        assert (
            annotations.get_one(
                session=session, item=item, source_id=model_source, annotation_id="a"
            )["x"]
            == 9
        )
        assert annotations.sources(
            session=session, dataset=session.get(models.Dataset, dataset_id)
        ) == [model_source]
        with pytest.raises(NotFound):
            annotations.get_one(session=session, item=item, source_id="", annotation_id="zz")


def test_upload_refuses_unknown_items_and_duplicate_ids_writing_nothing(db, dataset_id) -> None:
    before = state(db, dataset_id)
    cases = [
        (
            [
                annotations.Placed("img-0", None, box("a")),
                annotations.Placed("nope", None, box("b")),
            ],
            "annotations[1].reference_id",
        ),
        ([annotations.Placed(None, "f" * 24, box("a"))], "annotations[0].item_id"),
        (
            [
                annotations.Placed("img-0", None, box("a")),
                annotations.Placed("img-0", None, box("a")),
            ],
            "annotations[1].annotation_id",
        ),
    ]
    for placed, field in cases:
        with pytest.raises(Invalid) as raised, db.write() as session:
            annotations.upload(
                session=session,
                dataset=session.get(models.Dataset, dataset_id),
                source_id="",
                placed=placed,
                update_existing=False,
            )
        assert raised.value.field == field
    assert state(db, dataset_id) == before


def test_an_upload_waits_for_a_delete_of_its_items_and_leaves_no_orphan(db, dataset_id) -> None:
    # Shapes have no foreign key to their item on PostgreSQL (migration 0027): an upload must
    # resolve its items under the dataset's lock, or a delete committing between its lookup
    # and its insert leaves shapes of an item that is gone.
    outcome: dict[str, object] = {}
    deleting = db.write()
    session = deleting.__enter__()
    try:
        dataset = session.get(models.Dataset, dataset_id)
        assert items.delete_items(session=session, dataset=dataset, reference_ids=["img-1"]) == 1

        def upload() -> None:
            try:
                with db.write() as other:
                    annotations.upload(
                        session=other,
                        dataset=other.get(models.Dataset, dataset_id),
                        source_id="",
                        placed=[annotations.Placed("img-1", None, box("a"))],
                        update_existing=False,
                    )
                outcome["result"] = "written"
            except Invalid as error:
                outcome["result"] = error.field

        thread = threading.Thread(target=upload)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the delete's transaction
    finally:
        deleting.__exit__(None, None, None)
    thread.join(30)
    assert outcome["result"] == "annotations[0].reference_id"
    with db.read() as session:
        orphans = session.scalar(
            select(func.count())
            .select_from(models.Annotation)
            .where(~models.Annotation.item_id.in_(select(models.Item.id)))
        )
    assert orphans == 0


def test_delete_by_items_and_model_delete_keep_counts(db, dataset_id, actor) -> None:
    with db.write() as session:
        dataset = session.get(models.Dataset, dataset_id)
        model = ml_models.create_model(
            session=session, mode="live", name="det", reference_id="det-1", created_by=actor.user_id
        )
        with pytest.raises(Conflict), session.begin_nested():
            ml_models.create_model(
                session=session, mode="live", name="det", reference_id="det-1", created_by=None
            )
        model_id = model.id
        for source in ("", model_id):
            annotations.upload(
                session=session,
                dataset=dataset,
                source_id=source,
                placed=[annotations.Placed(f"img-{i}", None, box(f"b{i}")) for i in range(3)],
                update_existing=False,
            )
    with db.write() as session:
        dataset = session.get(models.Dataset, dataset_id)
        assert (
            annotations.delete_by_items(
                session=session, dataset=dataset, source_id="", reference_ids=["img-0", "unknown"]
            )
            == 1
        )
    assert (
        state(db, dataset_id)["annotation_count"],
        state(db, dataset_id)["prediction_count"],
    ) == (2, 3)
    with db.write() as session:
        model = ml_models.get_model(session=session, model_id=model_id, mode="live")
        assert ml_models.delete_model(session=session, model=model) == 3
    final = state(db, dataset_id)
    assert (final["annotation_count"], final["prediction_count"]) == (2, 0)
    assert {source for _, source, _, _ in final["rows"]} == {""}
    with db.read() as session, pytest.raises(NotFound):
        ml_models.get_model(session=session, model_id=model_id, mode="live")


def test_metadata_merges_all_or_nothing(db, dataset_id) -> None:
    with db.write() as session:
        dataset = session.get(models.Dataset, dataset_id)
        assert (
            item_metadata.merge_metadata(
                session=session, dataset=dataset, updates={"img-0": {"a": 1}}
            )
            == 1
        )
    with db.write() as session:
        dataset = session.get(models.Dataset, dataset_id)
        item_metadata.merge_metadata(session=session, dataset=dataset, updates={"img-0": {"b": 2}})
    with pytest.raises(Invalid) as raised, db.write() as session:
        dataset = session.get(models.Dataset, dataset_id)
        item_metadata.merge_metadata(
            session=session, dataset=dataset, updates={"img-1": {"c": 3}, "ghost": {"c": 3}}
        )
    assert raised.value.field == "metadata[ghost]"
    with db.read() as session:
        dataset = session.get(models.Dataset, dataset_id)
        got = {
            ref: items.get_item_by_reference(
                session=session, dataset=dataset, reference_id=ref
            ).metadata_
            for ref in ("img-0", "img-1")
        }
    assert got == {"img-0": {"a": 1, "b": 2}, "img-1": {}}


def test_staged_uploads_are_found_by_their_uploader_only(db, dataset_id, actor, accounts) -> None:
    sha = "a" * 64
    with db.write() as session:
        blobs.record_blob(
            session=session,
            sha256=sha,
            size=1,
            content_type="text/plain",
            filename="x",
            actor=actor,
        )
        uploads.stage(
            session=session,
            dataset_id=dataset_id,
            request_id="r1",
            sha256=sha,
            created_by=actor.user_id,
        )
        uploads.stage(
            session=session,
            dataset_id=dataset_id,
            request_id="r1",
            sha256=sha,
            created_by=actor.user_id,
        )
    other = accounts.make("manager").user
    with db.read() as session:
        assert (
            uploads.staged(
                session=session, dataset_id=dataset_id, request_id="r1", created_by=actor.user_id
            )
            == sha
        )
        with pytest.raises(Invalid):
            uploads.staged(
                session=session, dataset_id=dataset_id, request_id="r1", created_by=other.id
            )
        with pytest.raises(Invalid):
            uploads.staged(
                session=session, dataset_id=dataset_id, request_id="../x", created_by=actor.user_id
            )
