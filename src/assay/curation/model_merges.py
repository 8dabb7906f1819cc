"""Merging a model's predictions on several datasets into a new model (Nucleus's
`merge_model_runs`): `start_merge` makes the model at once and queues
`curation.merge_predictions`, which copies the predictions a dataset per short
transaction (`ml_models.copy_predictions`: one INSERT … SELECT each). The new model is
empty until the job is done; the source model is left as it is."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.jobs import enqueue, job_kind
from assay.core.models import Job
from assay.curation import ml_models, models

MERGE_JOB = "curation.merge_predictions"


def start_merge(
    *,
    session: Session,
    source: models.Model,
    dataset_ids: list[str],
    actor: Actor,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[models.Model, Job]:
    """The new model (named after the source unless `name`) and the job filling it."""
    target = ml_models.create_model(
        session=session,
        mode=actor.mode,
        name=name or source.name,
        # Unique per sandbox like every model's; the source's with a random tail.
        reference_id=f"{source.reference_id[:480]}:merged:{uuid.uuid4().hex[:12]}",
        metadata=metadata or {},
        created_by=actor.user_id,
    )
    job = enqueue(
        session=session,
        kind=MERGE_JOB,
        payload={"source_id": source.id, "target_id": target.id, "dataset_ids": dataset_ids},
        actor=actor,
    )
    return target, job


@job_kind(MERGE_JOB, max_attempts=3)
def run_merge(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Copy the source model's predictions on each dataset to the new model (again after a
    crash: each dataset's copy replaces what an earlier attempt wrote)."""
    copied = 0
    for dataset_id in payload["dataset_ids"]:
        with ctx.db.write() as session:
            dataset = session.get(models.Dataset, dataset_id)
            target = session.get(models.Model, payload["target_id"])
            if target is None:
                break  # deleted meanwhile: nothing to fill
            if dataset is None or dataset.deleting:
                continue
            copied += ml_models.copy_predictions(
                session=session,
                source_id=payload["source_id"],
                target_id=target.id,
                dataset_id=dataset_id,
            )
    # Nucleus's counts; one model's predictions never collide with themselves.
    return {"predictions_copied": copied, "predictions_ignored": 0, "annotation_ids_rewritten": 0}
