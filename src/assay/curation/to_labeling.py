"""Sending dataset items to labeling, and their labels coming back as ground truth.

`send_items` makes a batch in a labeling project with a task per item (its media or text,
its dataset and item ids in the task's metadata, a model's predictions as pre-labels) through
the labeling pillar's own services, and keeps a `LabelingLink`. The duty
`curation.collect_labels` reads each open link's newly completed tasks (in completion order,
after the last one it brought back) and writes their responses as the items' ground truth —
the same annotation model, no conversion — with where they came from (`origin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.core import jobs
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.core.settings import Settings
from assay.curation import models, wire
from assay.curation.datasets import DATASETS, next_revision
from assay.curation.items import ANNOTATIONS, ITEMS, annotations_of, checked_shapes
from assay.labeling import batches as labeling_batches
from assay.labeling import schemas as labeling_schemas
from assay.labeling import tasks as labeling_tasks
from assay.labeling.models import Project

LINKS = models.LabelingLink.__table__
# Tasks brought back per transaction by the duty.
COLLECT_CHUNK = 500


def _params(item: models.Item) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if item.media is not None:
        params["attachment"] = item.media
    if item.text_ is not None:
        params["text"] = item.text_
    if item.width and item.height:
        params["image_width"], params["image_height"] = item.width, item.height
    return params


def send_items(
    *,
    session: Session,
    dataset: models.Dataset,
    item_ids: Sequence[str],
    project: Project,
    actor: Actor,
    settings: Settings,
    batch_name: str,
    model_id: str | None = None,
    slice_id: str | None = None,
    finalize: bool = True,
) -> models.LabelingLink:
    """A batch of one task per item in `project`; returns the link that brings labels back."""
    if not item_ids:
        raise Invalid("there are no items to send", field="slice_id")
    if len(item_ids) > settings.max_bulk_tasks:
        raise Invalid(
            f"{len(item_ids)} items; one batch takes at most {settings.max_bulk_tasks}",
            field="slice_id",
        )
    if model_id is not None:
        model = session.get(models.Model, model_id)
        if model is None or model.mode != dataset.mode:
            raise Invalid(f"no model with id {model_id}", field="model_id")
    batch = labeling_batches.create_batch(
        session=session,
        project=project,
        batch_in=labeling_schemas.BatchCreate(
            name=batch_name, metadata={"dataset_id": dataset.id, "slice_id": slice_id}
        ),
        actor=actor,
    )
    found = {
        item.id: item
        for start in range(0, len(item_ids), 500)
        for item in session.scalars(
            select(models.Item).where(models.Item.id.in_(item_ids[start : start + 500]))
        )
    }
    prelabels = (
        annotations_of(session=session, item_ids=list(item_ids), source_id=model_id)
        if model_id is not None
        else {}
    )
    tasks_in = [
        labeling_schemas.TaskCreate(
            batch=batch.id,
            params=_params(found[item_id]),
            metadata={
                "dataset_id": dataset.id,
                "item_id": item_id,
                "reference_id": found[item_id].reference_id,
            },
            prelabels={"annotations": prelabels[item_id]} if prelabels.get(item_id) else None,
        )
        for item_id in item_ids
        if item_id in found
    ]
    labeling_tasks.create_tasks(
        session=session,
        project=project,
        batch=batch,
        tasks_in=tasks_in,
        actor=actor,
        settings=settings,
        path="items",
    )
    if finalize:
        labeling_batches.finalize_batch(
            session=session, batch=batch, settings=settings, actor=actor
        )
    link = models.LabelingLink(
        dataset_id=dataset.id,
        slice_id=slice_id,
        project_id=project.id,
        batch_id=batch.id,
        model_id=model_id,
        sent=len(tasks_in),
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(link)
    session.flush()
    return link


def _truth(response: dict[str, Any] | None) -> bytes | None:
    """A task's response as stored ground truth (its shapes checked like an append's)."""
    shapes = (response or {}).get("annotations")
    if not isinstance(shapes, list):
        return None
    try:
        decoded = msgspec.convert(shapes, type=list[wire.Shape])
    except msgspec.ValidationError:
        return None  # a task type whose answers are not shapes (rankings, ratings …)
    return checked_shapes(decoded, "response.annotations")


def collect(session: Session, link: models.LabelingLink) -> int:
    """Bring back the link's tasks completed since the last time; returns how many."""
    after = (link.synced_at, link.synced_task) if link.synced_at is not None else None
    done = labeling_tasks.completed_after(
        session=session, batch_id=link.batch_id, after=after, limit=COLLECT_CHUNK
    )
    if not done:
        return 0
    revision = next_revision(session, link.dataset_id)
    brought = 0
    for task in done:
        item_id = (task.metadata_ or {}).get("item_id")
        stored = _truth(task.response)
        item = session.get(models.Item, item_id) if isinstance(item_id, str) else None
        if stored is None or item is None or item.dataset_id != link.dataset_id:
            continue
        count = len(msgspec.json.decode(stored))
        where = (ANNOTATIONS.c.item_id == item_id, ANNOTATIONS.c.source_id == models.GROUND_TRUTH)
        before = session.scalar(select(ANNOTATIONS.c.count).where(*where)) or 0
        session.execute(ANNOTATIONS.delete().where(*where))
        completed = task.completed_at.isoformat() if task.completed_at else None
        session.execute(
            ANNOTATIONS.insert().values(
                item_id=item_id,
                source_id=models.GROUND_TRUTH,
                shapes=msgspec.json.decode(stored),
                count=count,
                origin={
                    "task_id": task.id,
                    "project_id": link.project_id,
                    "batch_id": link.batch_id,
                    "completed_at": completed,
                },
            )
        )
        session.execute(update(ITEMS).where(ITEMS.c.id == item_id).values(revision=revision))
        session.execute(
            update(DATASETS)
            .where(DATASETS.c.id == link.dataset_id)
            .values(annotation_count=DATASETS.c.annotation_count + count - before)
        )
        brought += 1
    last = done[-1]
    link.synced_at, link.synced_task = last.completed_at, last.id
    link.returned += brought
    link.done = link.returned >= link.sent
    session.flush()
    return brought


@jobs.duty("curation.collect_labels", seconds=5.0)
def collect_labels(app: Any) -> int:
    """Bring completed labels of every open link back as ground truth. Idempotent: each
    link remembers the last task it brought back."""
    with app.db.read() as session:
        open_links = list(session.scalars(select(LINKS.c.id).where(LINKS.c.done.is_(False))))
    brought = 0
    for link_id in open_links:
        while True:
            with app.db.write() as session:
                link = session.get(models.LabelingLink, link_id)
                if link is None or link.done:
                    break
                found = collect(session, link)
            brought += found
            if found < COLLECT_CHUNK:
                break
    return brought
