"""Scale's v1 task endpoints: create per task type, read, list, cancel, audit, metadata,
unique ids and tags. Included in the `/v1` router of scale_v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.compat import scale_format, scale_queries
from assay.compat.errors import ScaleRoute
from assay.compat.scale_common import (
    JsonObject,
    OptionalJsonObject,
    batch_by_name,
    create_scale_task,
    load_task,
    page_limit,
    project_by_name,
    task_view,
    task_views,
)
from assay.core.auth import Actor
from assay.core.errors import Conflict, Invalid, NotFound
from assay.labeling import models, projects, schemas, task_changes, tasks
from assay.labeling.policies import projects as project_policy
from assay.labeling.policies import tasks as policy
from assay.labeling.task_types import native_type

router = APIRouter(route_class=ScaleRoute)
Tags = Annotated[list[str], Body()]


def _target(
    session: Session, scale_type: str, body: dict[str, Any], actor: Actor
) -> tuple[models.Project, models.Batch | None, str | None]:
    """The project (and batch) a task create names, by Scale's names; with neither, the
    default project of the task's type (made on first use, as Scale does)."""
    project_name, batch_name = body.get("project"), body.get("batch")
    if batch_name:
        batch, project, role = batch_by_name(session, str(batch_name), actor)
        if project_name and project.name != project_name:
            raise Invalid(
                f"batch {batch_name!r} belongs to project {project.name!r}, not {project_name!r}",
                field="batch",
            )
        return project, batch, role
    if project_name:
        project, role = project_by_name(session, str(project_name), actor)
        return project, None, role
    default_in = schemas.ProjectCreate(**scale_format.default_project_create(scale_type, body))
    project = projects.get_or_create_project(
        session=session,
        project_in=default_in,
        actor=actor,
        may_create=lambda: project_policy.can_create(actor),
    )
    role = projects.membership(session=session, project_id=project.id, user_id=actor.user_id)
    return project, None, role


@router.post("/task/{task_type}")
def create_task(task_type: str, body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    scale_type = scale_format.check_scale_type(task_type)
    with ctx.db.write() as session:
        project, batch, role = _target(session, scale_type, body, actor)
        policy.can_create(actor, project, role)
        task = create_scale_task(
            session=session,
            project=project,
            batch=batch,
            scale_type=scale_type,
            body=body,
            actor=actor,
            settings=ctx.settings,
        )
        return task_view(session, task, actor)


@router.get("/task/{task_id}")
def get_task(task_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_read(actor, project, role)
        return task_view(session, task, actor)


@router.get("/tasks")
def list_tasks(
    actor: CurrentActor,
    ctx: Ctx,
    project: str | None = None,
    batch: str | None = None,
    status: str | None = None,
    task_type: Annotated[str | None, Query(alias="type")] = None,
    unique_id: Annotated[list[str] | None, Query()] = None,
    tags: Annotated[list[str] | None, Query()] = None,
    start_time: str | None = None,
    end_time: str | None = None,
    updated_after: str | None = None,
    updated_before: str | None = None,
    completed_after: str | None = None,
    completed_before: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """Newest first, `next_token` pages. Not filtered (accepted and ignored):
    customer_review_status, include_attachment_url, limited_response."""
    size = page_limit(limit)
    times = {
        name: scale_format.parse_time(value, name)
        for name, value in (
            ("start_time", start_time),
            ("end_time", end_time),
            ("updated_after", updated_after),
            ("updated_before", updated_before),
            ("completed_after", completed_after),
            ("completed_before", completed_before),
        )
    }
    scale_type = scale_format.check_scale_type(task_type) if task_type else None
    with ctx.db.read() as session:
        project_row = role = batch_row = None
        if batch:
            batch_row, project_row, role = batch_by_name(session, batch, actor)
            if project and project_row.name != project:
                raise NotFound(f"project {project!r} has no batch {batch!r}", field="batch")
        elif project:
            project_row, role = project_by_name(session, project, actor)
        policy.can_list(actor, project_row, role)
        filters: dict[str, Any] = {
            "mode": actor.mode,
            "project_id": project_row.id if project_row else None,
            "batch_id": batch_row.id if batch_row else None,
            "status": status,
            "tags": tags or None,
            "updated_after": times["updated_after"],
            "updated_before": times["updated_before"],
            "completed_after": times["completed_after"],
            "completed_before": times["completed_before"],
        }
        floor = scale_queries.id_after(times["start_time"]) if times["start_time"] else None
        if unique_id and len(unique_id) > 1:
            items, token = _by_unique_ids(session, unique_id, filters), None
        else:
            page = tasks.list_tasks(
                session=session,
                cursor=scale_queries.cursor_before(next_token, times["end_time"]),
                limit=size,
                unique_id=unique_id[0] if unique_id else None,
                **filters,
            )
            items, token = page.items, page.next_cursor
            if floor is not None and any(t.id < floor for t in items):
                items, token = [t for t in items if t.id >= floor], None
            items = [
                t
                for t in items
                if scale_queries.created_within(t, times["start_time"], times["end_time"])
            ]
        if scale_type is not None:
            items = [t for t in items if scale_format.scale_type_of(t.type, t.params) == scale_type]
        total = scale_queries.count_tasks(
            session=session,
            task_type=native_type(scale_type) if scale_type else None,
            unique_ids=unique_id or None,
            created_after=times["start_time"],
            created_before=times["end_time"],
            **filters,
        )
        return {
            "docs": task_views(session, items, actor),
            "total": total,
            "limit": size,
            "offset": 0,
            "has_more": token is not None,
            "next_token": token,
        }


def _by_unique_ids(session: Session, unique_ids: list[str], filters: dict[str, Any]) -> list[Any]:
    """Several unique ids: one indexed lookup each; project, batch and status then apply to
    the few found."""
    found = []
    for unique_id in dict.fromkeys(unique_ids):
        try:
            task = tasks.get_task_by_unique_id(
                session=session, unique_id=unique_id, mode=filters["mode"]
            )
        except NotFound:
            continue
        if all(
            filters[key] is None or getattr(task, key) == filters[key]
            for key in ("project_id", "batch_id", "status")
        ):
            found.append(task)
    return sorted(found, key=lambda t: t.id, reverse=True)


@router.post("/task/{task_id}/cancel")
def cancel_task(
    task_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    clear_unique_id: bool = False,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_cancel(actor, project, role)
        try:
            task_changes.cancel_task(
                session=session,
                task=task,
                settings=ctx.settings,
                actor=actor,
                clear_unique_id=clear_unique_id,
            )
        except Conflict as exc:
            # The client reads a 409 on a task endpoint as a unique_id clash and expects a JSON
            # body; canceling a finished task is a bad request, as Scale answers.
            raise Invalid(exc.message, field=exc.field) from None
        return task_view(session, task, actor)


@router.post("/task/{task_id}/audit")
def audit_task(task_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    accepted = body.get("accepted")
    if not isinstance(accepted, bool):
        raise Invalid("accepted must be true or false", field="accepted")
    comments = body.get("comments")
    if comments is not None and not isinstance(comments, str):
        raise Invalid("comments must be a string", field="comments")
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_audit(actor, project, role)
        try:
            task_changes.audit_task(
                session=session, task=task, actor=actor, accepted=accepted, comments=comments
            )
        except Conflict as exc:
            raise Invalid(exc.message, field=exc.field) from None
        return task_view(session, task, actor)


@router.post("/task/{task_id}/setMetadata")
def set_task_metadata(
    task_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_update(actor, project, role)
        task_changes.set_task_metadata(session=session, task=task, metadata=body)
        return task_view(session, task, actor)


@router.post("/task/{task_id}/unique_id")
def update_unique_id(
    task_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    unique_id = body.get("unique_id")
    if not isinstance(unique_id, str) or not unique_id:
        raise Invalid("unique_id must be a non-empty string", field="unique_id")
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_update(actor, project, role)
        task_changes.set_unique_id(session=session, task=task, unique_id=unique_id)
        return task_view(session, task, actor)


@router.delete("/task/{task_id}/unique_id")
def clear_unique_id(task_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_update(actor, project, role)
        task_changes.clear_unique_id(session=session, task=task)
        return task_view(session, task, actor)


def _tags(tags: list[str]) -> list[str]:
    schemas.TagsChange(tags=tags)  # the native limits on tags (length, count)
    return tags


@router.post("/task/{task_id}/tags")
def set_task_tags(task_id: str, body: Tags, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_update(actor, project, role)
        task_changes.set_tags(session=session, task=task, tags=_tags(body) if body else [])
        return task_view(session, task, actor)


@router.put("/task/{task_id}/tags")
def add_task_tags(task_id: str, body: Tags, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_update(actor, project, role)
        task_changes.add_tags(session=session, task=task, tags=_tags(body))
        return task_view(session, task, actor)


@router.delete("/task/{task_id}/tags")
def delete_task_tags(task_id: str, body: Tags, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        policy.can_update(actor, project, role)
        task_changes.remove_tags(session=session, task=task, tags=_tags(body))
        return task_view(session, task, actor)
