"""Nucleus's `export_scale_task_info()` of a dataset or a slice (docs/nucleus-wire.md §3.1):
for each item sent to labeling (`curation/to_labeling.py`: a batch per send, the item's id
in each task's metadata), its tasks — id, status, audit status and comment, project, batch,
created and completed times. Only the projects the caller may read are shown."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.api.projects import load_project
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import MediaUrls, load_dataset
from assay.compat.nucleus_items import _secret
from assay.compat.nucleus_slices import _load
from assay.compat.scale_common import OptionalJsonObject
from assay.core import dialects
from assay.core.auth import Actor
from assay.core.errors import Forbidden, NotFound
from assay.curation import models, slices
from assay.labeling import models as labeling
from assay.labeling.policies import projects as project_policy

router = APIRouter(route_class=ScaleRoute)
AUDITS = ("audit_accept", "audit_reject")


@router.get("/dataset/{dataset_id}/exportScaleTaskInfo")
def dataset_task_info(
    dataset_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        rows = _rows(session, actor, dataset, None, MediaUrls(request, _secret(ctx)))
    return {"exportedScaleTaskInfoRows": rows}


@router.get("/slice/{slice_id}/exportScaleTaskInfo")
def slice_task_info(
    slice_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        chosen = set(slices.slice_item_ids(session=session, dataset=dataset, found=found))
        rows = _rows(session, actor, dataset, chosen, MediaUrls(request, _secret(ctx)))
    return {"exportedScaleTaskInfoRows": rows}


def _rows(
    session: Session,
    actor: Actor,
    dataset: models.Dataset,
    chosen: set[str] | None,
    urls: MediaUrls,
) -> list[dict[str, Any]]:
    batch, task, project = labeling.Batch, labeling.Task, labeling.Project
    dialect = session.get_bind().dialect.name
    sent = session.execute(
        select(batch.id, batch.name, batch.project_id, project.name)
        .join(project, project.id == batch.project_id)
        .where(
            dialects.json_key_equals(batch.metadata_, "dataset_id", dataset.id, dialect),
            batch.mode == actor.mode,
        )
    ).all()
    readable = {}
    for batch_id, batch_name, project_id, project_name in sent:
        try:
            found, role = load_project(session, project_id, actor)
            project_policy.can_read(actor, found, role)
        except (NotFound, Forbidden):
            continue
        readable[batch_id] = (batch_name, project_name)
    by_item: dict[str, list[dict[str, Any]]] = {}
    tasks = session.execute(
        select(task).where(task.batch_id.in_(list(readable))).order_by(task.created_at, task.id)
    ).scalars()
    found_tasks = [t for t in tasks if isinstance((t.metadata_ or {}).get("item_id"), str)]
    audits = _latest_audits(session, [t.id for t in found_tasks])
    for t in found_tasks:
        item_id = t.metadata_["item_id"]
        if chosen is not None and item_id not in chosen:
            continue
        batch_name, project_name = readable[t.batch_id]
        action, comment = audits.get(t.id, (None, None))
        by_item.setdefault(item_id, []).append(
            {
                "task_id": t.id,
                "task_status": t.status,
                "task_audit_status": (
                    "accepted"
                    if action == "audit_accept"
                    else "rejected"
                    if action == "audit_reject"
                    else "pending"
                ),
                "task_audit_review_comment": comment,
                "project_name": project_name,
                "batch": batch_name,
                "created_at": fmt.iso(t.created_at),
                "completed_at": fmt.iso(t.completed_at) if t.completed_at else None,
            }
        )
    if not by_item:
        return []
    items = session.scalars(
        select(models.Item)
        .where(models.Item.dataset_id == dataset.id, models.Item.id.in_(list(by_item)))
        .order_by(models.Item.seq)
    )
    return [
        {"item": fmt.item_out(item, urls(item)), "scale_task_info": by_item[item.id]}
        for item in items
    ]


def _latest_audits(session: Session, task_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """task id → (its latest audit's action, that audit's reason)."""
    found: dict[str, tuple[str, str | None]] = {}
    event = labeling.TaskEvent
    for start in range(0, len(task_ids), 500):
        rows = session.execute(
            select(event.task_id, event.action, event.reason)
            .where(event.task_id.in_(task_ids[start : start + 500]), event.action.in_(AUDITS))
            .order_by(event.id)
        )
        for task_id, action, reason in rows:
            found[task_id] = (action, reason)
    return found
