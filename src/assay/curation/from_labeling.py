"""Labeled tasks into a dataset: each completed task becomes an item (its attachment as the
media, its size, its metadata) whose ground truth is the task's final response — the same
annotation model, so nothing is converted, only checked like an append. What Nucleus's
`create_dataset_from_project` and `Dataset.ingest_tasks` ask for, and the native
`POST /datasets/{id}/tasks`.

An item's reference id is the task's `unique_id` when it has one, else the task's id, so
ingesting a task again updates its item (a corrected response replaces the ground truth).
Tasks not completed yet are counted as pending; tasks whose answer is not shapes (rankings,
ratings …) or that have no media are ignored. The caller must be able to read each task's
project; others are refused as not found, naming the task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Forbidden, Invalid, NotFound
from assay.curation import items, models, wire
from assay.labeling import models as labeling
from assay.labeling import projects as labeling_projects
from assay.labeling.policies import projects as project_policy

MAX_TASKS = 10_000  # an append's worth: the items are written in one transaction
ANNOTATIONS = models.Annotation.__table__


@dataclass
class Ingested:
    ingested: list[str]  # task ids made into items (new or updated)
    ignored: list[str]
    pending: list[str]


def tasks_by_id(*, session: Session, actor: Actor, task_ids: Sequence[str]) -> list[Any]:
    """The tasks, in the order given, each of a project the actor may read (else NotFound
    naming it)."""
    if not task_ids:
        raise Invalid("give at least one task id", field="tasks")
    if len(task_ids) > MAX_TASKS:
        raise Invalid(f"at most {MAX_TASKS:,} tasks at a time", field="tasks")
    found: dict[str, Any] = {}
    for start in range(0, len(task_ids), 1000):
        chunk = list(task_ids[start : start + 1000])
        for task in session.scalars(
            select(labeling.Task).where(
                labeling.Task.id.in_(chunk), labeling.Task.mode == actor.mode
            )
        ):
            found[task.id] = task
    readable: dict[str, bool] = {}
    for i, task_id in enumerate(task_ids):
        task = found.get(task_id)
        if task is not None and task.project_id not in readable:
            readable[task.project_id] = _can_read(session, actor, task.project_id)
        if task is None or not readable[task.project_id]:
            raise NotFound(f"no task {task_id!r}", field=f"tasks[{i}]")
    return [found[t] for t in dict.fromkeys(task_ids)]


def project_tasks(
    *, session: Session, actor: Actor, project_id: str, last: int | None
) -> tuple[Any, list[Any]]:
    """(project, its tasks) — the `last` most recently created, else every one up to
    MAX_TASKS, oldest first."""
    project = labeling_projects.get_project(session=session, project_id=project_id, mode=actor.mode)
    if not _can_read(session, actor, project.id):
        raise NotFound(f"no project {project_id!r}", field="project_id")
    limit = MAX_TASKS if last is None else last
    if not 1 <= limit <= MAX_TASKS:
        raise Invalid(f"last_n_tasks is from 1 to {MAX_TASKS:,}", field="last_n_tasks")
    newest = list(
        session.scalars(
            select(labeling.Task)
            .where(labeling.Task.project_id == project.id, labeling.Task.mode == actor.mode)
            .order_by(labeling.Task.created_at.desc(), labeling.Task.id.desc())
            .limit(limit)
        )
    )
    return project, newest[::-1]


def ingest(
    *, session: Session, dataset: models.Dataset, actor: Actor, tasks: Sequence[Any]
) -> Ingested:
    """Write the completed tasks as items with their responses as ground truth."""
    result = Ingested([], [], [])
    chosen: list[tuple[Any, wire.ItemIn]] = []
    for task in tasks:
        if task.status != "completed":
            result.pending.append(task.id)
            continue
        item = _item_of(task)
        if item is None:
            result.ignored.append(task.id)
            continue
        chosen.append((task, item))
    if not chosen:
        return result
    items.append_items(
        session=session,
        dataset=dataset,
        actor=actor,
        append=wire.AppendIn(items=[item for _, item in chosen], update=True),
        max_items=MAX_TASKS,
    )
    known = items.existing_items(session, dataset.id, [item.reference_id for _, item in chosen])
    for task, item in chosen:
        session.execute(
            update(ANNOTATIONS)
            .where(
                ANNOTATIONS.c.item_id == known[item.reference_id],
                ANNOTATIONS.c.source_id == models.GROUND_TRUTH,
            )
            .values(origin=_origin(task))
        )
        result.ingested.append(task.id)
    return result


def _item_of(task: Any) -> wire.ItemIn | None:
    params = task.params or {}
    media = params.get("attachment")
    shapes = (task.response or {}).get("annotations")
    if not isinstance(media, str) or not media or not isinstance(shapes, list):
        return None
    try:
        decoded = msgspec.convert(shapes, type=list[wire.Shape])
    except msgspec.ValidationError:
        return None  # an answer that is not shapes
    width, height = params.get("image_width"), params.get("image_height")
    return wire.ItemIn(
        reference_id=task.unique_id or task.id,
        media=media,
        width=width if isinstance(width, int) and width > 0 else None,
        height=height if isinstance(height, int) and height > 0 else None,
        metadata={**(task.metadata_ or {}), "task_id": task.id, "project_id": task.project_id},
        annotations=decoded,
    )


def _origin(task: Any) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "project_id": task.project_id,
        "batch_id": task.batch_id,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
    }


def _can_read(session: Session, actor: Actor, project_id: str) -> bool:
    try:
        project = labeling_projects.get_project(
            session=session, project_id=project_id, mode=actor.mode
        )
        role = labeling_projects.membership(
            session=session, project_id=project.id, user_id=actor.user_id
        )
        project_policy.can_read(actor, project, role)
    except (NotFound, Forbidden):
        return False
    return True
