"""The curation pillar's jobs and duties, registered through the same calls as plugins'
(`assay.pillars` loads this module): curation.delete_dataset here, the duty
curation.collect_labels in `to_labeling`, curation.compute_embeddings in `embedding_jobs`,
curation.import_embeddings and curation.delete_embedding_space in `embedding_spaces`,
curation.run_model in `hosted_runs`, curation.find_duplicates and
curation.compute_uniqueness in `measures`, curation.evaluate_model in `evaluations`,
curation.merge_predictions in `model_merges`, curation.compute_object_embeddings in
`object_embedding_jobs`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from assay.core.jobs import job_kind
from assay.curation import (  # noqa: F401  (their jobs)
    embedding_jobs,
    embedding_spaces,
    evaluations,
    hosted_runs,
    imports,
    measures,
    model_merges,
    models,
    object_embedding_jobs,
    to_labeling,
)
from assay.curation.datasets import DELETE_CHUNK, DELETE_JOB

ITEMS = models.Item.__table__
ANNOTATIONS = models.Annotation.__table__


@job_kind(DELETE_JOB, max_attempts=5)
def run_delete_dataset(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Delete a dataset hidden by `delete_dataset`: its items and their annotations a chunk
    per short transaction (other writers wait for none of them long), then the dataset.
    Safe to run again after a crash: it picks up what is left."""
    dataset_id = payload["dataset_id"]
    with ctx.db.read() as session:
        dataset = session.get(models.Dataset, dataset_id)
        if dataset is None:
            return {"deleted_items": 0}
        total = dataset.item_count
    deleted = 0
    while True:
        with ctx.db.write() as session:
            chunk = list(
                session.scalars(
                    select(ITEMS.c.id).where(ITEMS.c.dataset_id == dataset_id).limit(DELETE_CHUNK)
                )
            )
            if not chunk:
                session.execute(
                    delete(models.Tombstone.__table__).where(
                        models.Tombstone.dataset_id == dataset_id
                    )
                )
                session.execute(delete(models.Dataset).where(models.Dataset.id == dataset_id))
                break
            session.execute(delete(ANNOTATIONS).where(ANNOTATIONS.c.item_id.in_(chunk)))
            session.execute(delete(ITEMS).where(ITEMS.c.id.in_(chunk)))
        deleted += len(chunk)
        ctx.progress(deleted, max(total, deleted), f"deleted {deleted} of {total} items")
    return {"deleted_items": deleted}
