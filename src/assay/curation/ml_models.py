"""Models (`curation.models.Model`) whose predictions a team uploads (shell) or that Assay
runs (hosted, `hosted_runs.py`): create, read, list, delete. A model's predictions are the
`dataset_annotations` rows whose `source_id` is its id; deleting the model deletes them from
every dataset (each dataset's revision and `prediction_count` kept).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.orm import Session

from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.curation import models
from assay.curation.datasets import DATASETS, next_revision
from assay.curation.items import ANNOTATIONS, ITEMS, _chunks
from assay.curation.model_runners import runner_config


def create_model(
    *,
    session: Session,
    mode: str,
    name: str,
    reference_id: str,
    created_by: str | None,
    metadata: dict[str, Any] | None = None,
    runner_in: Any = None,
    secret_key: str | None = None,
) -> models.Model:
    """A shell model, or a hosted one when `runner_in` (a `schemas.RunnerIn`) says how to run
    it; its API key is stored encrypted with `secret_key`."""
    name, reference_id = name.strip(), reference_id.strip()
    if not name:
        raise Invalid("name must not be empty", field="name")
    if not reference_id:
        raise Invalid("reference_id must not be empty", field="reference_id")
    if len(reference_id) > 512:
        raise Invalid("reference_id is longer than 512 characters", field="reference_id")
    taken = session.scalar(
        select(models.Model.id).where(
            models.Model.mode == mode, models.Model.reference_id == reference_id
        )
    )
    if taken is not None:
        raise Conflict(
            f"a model with reference_id {reference_id!r} exists ({taken})", field="reference_id"
        )
    runner, api_key = None, None
    if runner_in is not None:
        runner, api_key = runner_config(runner_in, secret_key=secret_key or "")
    model = models.Model(
        mode=mode,
        name=name[:200],
        reference_id=reference_id,
        kind="shell" if runner is None else "hosted",
        runner=runner,
        api_key=api_key,
        metadata_=metadata or {},
        created_by=created_by,
    )
    session.add(model)
    session.flush()
    return model


def get_model(*, session: Session, model_id: str, mode: str) -> models.Model:
    model = session.get(models.Model, model_id)
    if model is None or model.mode != mode:
        raise NotFound(f"no model with id {model_id}", field="model_id")
    return model


def get_model_by_reference(*, session: Session, reference_id: str, mode: str) -> models.Model:
    model = session.scalar(
        select(models.Model).where(
            models.Model.mode == mode, models.Model.reference_id == reference_id
        )
    )
    if model is None:
        raise NotFound(f"no model with reference_id {reference_id!r}", field="reference_id")
    return model


def list_models(*, session: Session, mode: str) -> list[models.Model]:
    return list(
        session.scalars(
            select(models.Model).where(models.Model.mode == mode).order_by(models.Model.id)
        )
    )


def delete_model(*, session: Session, model: models.Model) -> int:
    """Delete the model and its predictions on every dataset; returns how many went."""
    per_dataset = session.execute(
        select(ITEMS.c.dataset_id, func.sum(ANNOTATIONS.c.count))
        .join(ANNOTATIONS, ANNOTATIONS.c.item_id == ITEMS.c.id)
        .where(ANNOTATIONS.c.source_id == model.id)
        .group_by(ITEMS.c.dataset_id)
    ).all()
    removed = 0
    for dataset_id, count in per_dataset:
        revision = next_revision(session, dataset_id)
        item_ids = list(
            session.scalars(
                select(ANNOTATIONS.c.item_id)
                .distinct()
                .join(ITEMS, ITEMS.c.id == ANNOTATIONS.c.item_id)
                .where(ITEMS.c.dataset_id == dataset_id, ANNOTATIONS.c.source_id == model.id)
            )
        )
        removed += count
        for chunk in _chunks(item_ids):
            session.execute(
                delete(ANNOTATIONS).where(
                    ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == model.id
                )
            )
            session.execute(update(ITEMS).where(ITEMS.c.id.in_(chunk)).values(revision=revision))
        session.execute(
            update(DATASETS)
            .where(DATASETS.c.id == dataset_id)
            .values(prediction_count=DATASETS.c.prediction_count - count, updated_at=utcnow())
        )
    session.delete(model)
    session.flush()
    return removed


def datasets_of(*, session: Session, model: models.Model) -> list[str]:
    """The datasets the model has predictions on."""
    return sorted(
        session.scalars(
            select(ITEMS.c.dataset_id)
            .distinct()
            .join(ANNOTATIONS, ANNOTATIONS.c.item_id == ITEMS.c.id)
            .where(ANNOTATIONS.c.source_id == model.id)
        )
    )


def items_with_predictions(
    *, session: Session, model: models.Model, mode: str, reference_id: str | None = None
) -> list[models.Item]:
    """The items (of live datasets of `mode`) the model has predictions on, oldest first;
    only those with `reference_id` when given."""
    statement = (
        select(models.Item)
        .join(models.Dataset, models.Dataset.id == models.Item.dataset_id)
        .where(
            models.Dataset.mode == mode,
            models.Dataset.deleting.is_(False),
            models.Item.id.in_(
                select(ANNOTATIONS.c.item_id).where(ANNOTATIONS.c.source_id == model.id)
            ),
        )
        .order_by(models.Item.id)
    )
    if reference_id is not None:
        statement = statement.where(models.Item.reference_id == reference_id)
    return list(session.scalars(statement))


def copy_predictions(*, session: Session, source_id: str, target_id: str, dataset_id: str) -> int:
    """The source model's predictions on the dataset's items become the target's (the
    target's own there replaced), shapes and ids as they are; returns how many were copied.
    One INSERT … SELECT, so copying is a statement, not a row per item; run again it copies
    the same rows again."""
    in_dataset = ANNOTATIONS.c.item_id.in_(
        select(ITEMS.c.id).where(ITEMS.c.dataset_id == dataset_id)
    )

    def total(source: str) -> int:
        return session.scalar(
            select(func.coalesce(func.sum(ANNOTATIONS.c.count), 0)).where(
                ANNOTATIONS.c.source_id == source, in_dataset
            )
        )

    removed, copied = total(target_id), total(source_id)
    if not removed and not copied:
        return 0
    revision = next_revision(session, dataset_id)
    # Stamped before the target's rows go, so items losing them are stamped too.
    session.execute(
        update(ITEMS)
        .where(
            ITEMS.c.dataset_id == dataset_id,
            ITEMS.c.id.in_(
                select(ANNOTATIONS.c.item_id).where(
                    ANNOTATIONS.c.source_id.in_([source_id, target_id])
                )
            ),
        )
        .values(revision=revision, updated_at=utcnow())
    )
    session.execute(delete(ANNOTATIONS).where(ANNOTATIONS.c.source_id == target_id, in_dataset))
    session.execute(
        ANNOTATIONS.insert().from_select(
            ["item_id", "source_id", "shapes", "count"],
            select(
                ANNOTATIONS.c.item_id, literal(target_id), ANNOTATIONS.c.shapes, ANNOTATIONS.c.count
            ).where(ANNOTATIONS.c.source_id == source_id, in_dataset),
        )
    )
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset_id)
        .values(
            prediction_count=DATASETS.c.prediction_count + copied - removed, updated_at=utcnow()
        )
    )
    return copied
