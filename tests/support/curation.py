"""Seeding curation data the API cannot write yet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from assay.curation import items, models
from assay.curation.datasets import next_revision


def add_predictions(db, dataset_id: str, model_name: str, shapes: dict[str, list]) -> str:
    """A model's predictions on items by reference id, written as the tables hold them (the
    API to upload predictions is not there yet), stamped with a new revision so every
    snapshot sees them. Returns the model's id."""
    with db.write() as session:
        model = models.Model(
            mode="live", name=model_name, reference_id=f"{model_name}-{dataset_id}"
        )
        session.add(model)
        session.flush()
        revision = next_revision(session, dataset_id)
        found = dict(
            session.execute(
                select(models.Item.reference_id, models.Item.id).where(
                    models.Item.dataset_id == dataset_id
                )
            ).all()
        )
        for ref, predicted in shapes.items():
            session.add(
                models.Annotation(
                    item_id=found[ref], source_id=model.id, shapes=predicted, count=len(predicted)
                )
            )
        session.execute(
            update(models.Item)
            .where(models.Item.id.in_([found[ref] for ref in shapes]))
            .values(revision=revision)
        )
        session.execute(
            update(models.Dataset)
            .where(models.Dataset.id == dataset_id)
            .values(
                prediction_count=models.Dataset.prediction_count
                + sum(len(s) for s in shapes.values())
            )
        )
        return model.id


def model_predictions(db, dataset_id: str, model_id: str) -> dict[str, list[dict[str, Any]]]:
    """reference id → the model's stored predictions on the item (items with any)."""
    with db.read() as session:
        found = dict(
            session.execute(
                select(models.Item.id, models.Item.reference_id).where(
                    models.Item.dataset_id == dataset_id
                )
            ).all()
        )
        shapes = items.annotations_of(session=session, item_ids=list(found), source_id=model_id)
    return {found[i]: s for i, s in shapes.items() if s}
