"""Running a hosted model over a dataset's items (a slice's, a query's, or all) as a job.

`curation.run_model` reads the items a batch at a time (media from the blob store, or
fetched through `core/outbound`), hands each batch to the compute executor
(`core/compute.py`: in the worker thread, or a Ray task) running the model's runner
(`model_runners.py`), and writes each batch's predictions back in its own short transaction:
the model's predictions on those items are replaced (a re-run never duplicates them) and the
rows are stamped with the job's id. A retried job skips the items it already wrote, so it
resumes where the failed attempt stopped. An item the runner could not answer (a malformed
answer, media that cannot be read) is an error in the job's result; the others are written.

The run is the model's predictions on the dataset, as Nucleus's model runs are
(`compat/nucleus_models.py`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.core import blobs
from assay.core.auth import Actor
from assay.core.compute import executor_from_settings
from assay.core.errors import Invalid
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.core.models import Job
from assay.curation import annotations, models, slices, wire
from assay.curation.embedding_jobs import read_media
from assay.curation.items import ANNOTATIONS, _chunks
from assay.curation.model_runners import ItemError, build_runner, get_model_runner, run_batch
from assay.curation.query import run_query
from assay.curation.snapshots import SNAPSHOTS

RUN_JOB = "curation.run_model"
BATCH = 16
MAX_ERRORS = 100


def start_run(
    *,
    session: Session,
    model: models.Model,
    dataset: models.Dataset,
    actor: Actor,
    slice_id: str | None = None,
    query: str | dict[str, Any] | None = None,
    name: str | None = None,
) -> Job:
    """Queue the run (the model, the slice or the query checked first)."""
    if model.kind != "hosted" or not model.runner:
        raise Invalid(
            f"model {model.id} is a shell model (its predictions are uploaded); "
            "only a hosted model can be run",
            field="model_id",
        )
    if model.runner["type"] == "python":
        get_model_runner(model.runner["name"])  # unregistered since: refused now
    if slice_id is not None and query is not None:
        raise Invalid("give slice_id or query, not both", field="query")
    if slice_id is not None:
        slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
    else:
        run_query(SNAPSHOTS.get(session, dataset).frames, query, "items")
    return enqueue(
        session=session,
        kind=RUN_JOB,
        payload={
            "model_id": model.id,
            "dataset_id": dataset.id,
            "slice_id": slice_id,
            "query": query,
            "name": name or model.name,
        },
        actor=actor,
    )


def _targets(session: Session, dataset: models.Dataset, payload: dict[str, Any]) -> list[str]:
    if payload.get("slice_id"):
        found = slices.get_slice(session=session, dataset=dataset, slice_id=payload["slice_id"])
        return slices.slice_item_ids(session=session, dataset=dataset, found=found)
    snapshot = SNAPSHOTS.get(session, dataset)
    rows = run_query(snapshot.frames, payload.get("query"), "items").positions
    return snapshot.items["item_id"].to_numpy()[rows].tolist()


def _written_by(session: Session, model_id: str, item_ids: list[str], job_id: str) -> set[str]:
    """The items whose predictions from the model this job wrote (an earlier attempt)."""
    done: set[str] = set()
    for chunk in _chunks(item_ids):
        rows = session.execute(
            select(ANNOTATIONS.c.item_id, ANNOTATIONS.c.origin).where(
                ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == model_id
            )
        )
        done.update(i for i, origin in rows if (origin or {}).get("job_id") == job_id)
    return done


def _batches(
    ctx: Any, item_ids: list[str], unreadable: dict[str, str]
) -> Iterator[list[dict[str, Any]]]:
    """The items as runners take them, a batch at a time; those whose media cannot be read
    go to `unreadable` (reference id → why) instead."""
    store = blobs.open_store(ctx.settings)
    for start in range(0, len(item_ids), BATCH):
        chunk = item_ids[start : start + BATCH]
        with ctx.db.read() as session:
            found = {
                item.id: item
                for item in session.scalars(select(models.Item).where(models.Item.id.in_(chunk)))
            }
        batch = []
        for item_id in chunk:
            item = found.get(item_id)
            if item is None:  # deleted since the run started
                continue
            try:
                media = read_media(ctx, store, item.media) if item.media else None
            except (FileNotFoundError, Invalid) as error:
                unreadable[item.reference_id] = f"the media cannot be read: {error}"
                continue
            batch.append(
                {
                    "item_id": item.id,
                    "reference_id": item.reference_id,
                    "kind": item.kind,
                    "media": media,
                    "text": item.text_,
                    "metadata": item.metadata_ or {},
                    "width": item.width,
                    "height": item.height,
                }
            )
        yield batch


def _write(
    ctx: Any, payload: dict[str, Any], batch: list[dict[str, Any]], answers: list[Any]
) -> tuple[int, int]:
    """Replace the model's predictions on the answered items; (items, predictions) written."""
    answered = [
        (item, shapes)
        for item, shapes in zip(batch, answers, strict=True)
        if not isinstance(shapes, ItemError)
    ]
    if not answered:
        return 0, 0
    model_id = payload["model_id"]
    placed = [
        annotations.Placed(None, item["item_id"], msgspec.convert(shape, wire.Shape))
        for item, shapes in answered
        for shape in shapes
    ]
    with ctx.db.write() as session:
        dataset = session.get(models.Dataset, payload["dataset_id"])
        if dataset is None or dataset.deleting:
            raise PermanentError("the dataset was deleted while the model ran")
        annotations.delete_by_items(
            session=session,
            dataset=dataset,
            source_id=model_id,
            reference_ids=[item["reference_id"] for item, _ in answered],
        )
        annotations.upload(
            session=session,
            dataset=dataset,
            source_id=model_id,
            placed=placed,
            update_existing=True,
            field="predictions",
        )
        session.execute(
            update(ANNOTATIONS)
            .where(
                ANNOTATIONS.c.item_id.in_([item["item_id"] for item, _ in answered]),
                ANNOTATIONS.c.source_id == model_id,
            )
            .values(origin={"job_id": ctx.job_id, "run": payload["name"]})
        )
    return len(answered), len(placed)


@job_kind(RUN_JOB, max_attempts=3)
def run_model(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Run a hosted model over a dataset's items and write its predictions."""
    with ctx.db.read() as session:
        model = session.get(models.Model, payload["model_id"])
        dataset = session.get(models.Dataset, payload["dataset_id"])
        if model is None or not model.runner:
            raise PermanentError("the model is gone")
        if dataset is None or dataset.deleting:
            raise PermanentError("the dataset is gone")
        try:
            runner = build_runner(model.runner, model.api_key, settings=ctx.settings)
            item_ids = _targets(session, dataset, payload)
        except Invalid as error:
            raise PermanentError(f"{error.field}: {error.message}") from None
        skipped = _written_by(session, model.id, item_ids, ctx.job_id)
    todo = [i for i in item_ids if i not in skipped]
    executor = executor_from_settings(ctx.settings)
    unreadable: dict[str, str] = {}
    sent: deque[list[dict[str, Any]]] = deque()

    def work() -> Iterator[tuple[Any, list[dict[str, Any]]]]:
        for batch in _batches(ctx, todo, unreadable):
            sent.append(batch)
            yield runner, batch

    items = predictions = done = 0
    errors: list[dict[str, str]] = []
    failed = 0
    total = len(item_ids)
    ctx.progress(len(skipped), total, f"running {model.name} on {len(todo)} items", force=True)
    for answers in executor.map(run_batch, work()):
        batch = sent.popleft()
        for item, answer in zip(batch, answers, strict=True):
            if isinstance(answer, ItemError):
                failed += 1
                if len(errors) < MAX_ERRORS:
                    errors.append({"reference_id": item["reference_id"], "error": answer.message})
        written = _write(ctx, payload, batch, answers)
        items, predictions = items + written[0], predictions + written[1]
        done += len(batch)
        ctx.progress(len(skipped) + done, total, f"ran {model.name} on {done} of {len(todo)}")
    for reference_id, reason in unreadable.items():
        failed += 1
        if len(errors) < MAX_ERRORS:
            errors.append({"reference_id": reference_id, "error": reason})
    return {
        "model_id": model.id,
        "dataset_id": payload["dataset_id"],
        "name": payload["name"],
        "items": len(item_ids),
        "predicted": items,
        "predictions": predictions,
        "resumed": len(skipped),
        "failed": failed,
        "errors": errors,
        "compute": executor.name,
    }
