"""Scale's v2 reads (`/v2/task`, `/v2/tasks`, `/v2/batch`, `/v2/batches`, `/v2/project`,
`/v2/projects`) as the official client's generated v2 code calls them: point its
configuration's `host` at the server root. Entities are addressed by id or by name;
`expand=project` / `expand=batch` inline the related object instead of its id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.api.projects import load_project
from assay.compat import scale_format, scale_queries
from assay.compat.errors import ScaleRoute
from assay.compat.scale_common import (
    batch_by_name,
    load_task,
    page_limit,
    project_or_404,
)
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.core.policies import batches as batch_policy
from assay.core.policies import projects as project_policy
from assay.core.policies import tasks as task_policy
from assay.labeling import batches, models, projects, tasks

router = APIRouter(prefix="/v2", route_class=ScaleRoute, include_in_schema=False)
Expand = Annotated[list[str] | None, Query()]
ALL = 1000


class _Related:
    """Projects and batches by id for `expand`, each loaded once per response."""

    def __init__(self, session: Session, actor: Actor, expand: list[str] | None) -> None:
        self.session, self.actor = session, actor
        self.expand = set(expand or [])
        self.projects: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    def project(self, project_id: str) -> str | dict[str, Any]:
        if "project" not in self.expand:
            return project_id
        if project_id not in self.projects:
            project = projects.get_project(
                session=self.session, project_id=project_id, mode=self.actor.mode
            )
            self.projects[project_id] = scale_format.v2_project(project)
        return self.projects[project_id]

    def batch(self, batch_id: str) -> str | dict[str, Any]:
        if "batch" not in self.expand:
            return batch_id
        if batch_id not in self.batches:
            batch = batches.get_batch(session=self.session, batch_id=batch_id, mode=self.actor.mode)
            self.batches[batch_id] = scale_format.v2_batch(batch)
        return self.batches[batch_id]

    def task(self, task: models.Task) -> dict[str, Any]:
        out = scale_format.v2_task(task)
        out["project"] = self.project(task.project_id)
        if task.batch_id is not None:
            out["batch"] = self.batch(task.batch_id)
        return out


@router.get("/task")
def get_task(task_id: str, actor: CurrentActor, ctx: Ctx, expand: Expand = None) -> dict[str, Any]:
    with ctx.db.read() as session:
        task, project, role = load_task(session, task_id, actor)
        task_policy.can_read(actor, project, role)
        return _Related(session, actor, expand).task(task)


@router.get("/tasks")
def get_tasks(
    actor: CurrentActor,
    ctx: Ctx,
    project_id: str | None = None,
    project_name: str | None = None,
    batch_id: str | None = None,
    batch_name: str | None = None,
    status: str | None = None,
    completed_after: str | None = None,
    completed_before: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
    expand: Expand = None,
) -> dict[str, Any]:
    size = page_limit(limit)
    with ctx.db.read() as session:
        batch, project, role = _batch_or_project(
            session, actor, batch_id, batch_name, project_id, project_name
        )
        task_policy.can_list(actor, project, role)
        page = tasks.list_tasks(
            session=session,
            mode=actor.mode,
            cursor=scale_queries.cursor_before(next_token, None),
            limit=size,
            project_id=project.id if project else None,
            batch_id=batch.id if batch else None,
            status=status,
            completed_after=scale_format.parse_time(completed_after, "completed_after"),
            completed_before=scale_format.parse_time(completed_before, "completed_before"),
        )
        related = _Related(session, actor, expand)
        return {"tasks": [related.task(t) for t in page.items], "next_token": page.next_cursor}


def _batch_or_project(
    session: Session,
    actor: Actor,
    batch_id: str | None,
    batch_name: str | None,
    project_id: str | None,
    project_name: str | None,
) -> tuple[models.Batch | None, models.Project | None, str | None]:
    if batch_id or batch_name:
        batch, project, role = _batch(session, actor, batch_id, batch_name)
        return batch, project, role
    project, role = project_or_404(session, project_id, project_name, actor)
    return None, project, role


def _batch(
    session: Session, actor: Actor, batch_id: str | None, batch_name: str | None
) -> tuple[models.Batch, models.Project, str | None]:
    if batch_id:
        batch = batches.get_batch(session=session, batch_id=batch_id, mode=actor.mode)
        project, role = load_project(session, batch.project_id, actor)
        return batch, project, role
    if batch_name:
        return batch_by_name(session, batch_name, actor)
    raise Invalid("pass batch_id or batch_name", field="batch_id")


@router.get("/batch")
def get_batch(
    actor: CurrentActor,
    ctx: Ctx,
    batch_id: str | None = None,
    batch_name: str | None = None,
    expand: Expand = None,
) -> dict[str, Any]:
    with ctx.db.read() as session:
        batch, project, role = _batch(session, actor, batch_id, batch_name)
        batch_policy.can_read(actor, project, role)
        related = _Related(session, actor, expand)
        return {**scale_format.v2_batch(batch), "project": related.project(batch.project_id)}


@router.get("/batches")
def get_batches(
    actor: CurrentActor,
    ctx: Ctx,
    project_id: str | None = None,
    project_name: str | None = None,
    status: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    completed_after: str | None = None,
    completed_before: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
    expand: Expand = None,
) -> dict[str, Any]:
    size = page_limit(limit)
    after = scale_format.parse_time(created_after, "created_after")
    before = scale_format.parse_time(created_before, "created_before")
    done_after = scale_format.parse_time(completed_after, "completed_after")
    done_before = scale_format.parse_time(completed_before, "completed_before")
    with ctx.db.read() as session:
        project, role = project_or_404(session, project_id, project_name, actor)
        batch_policy.can_list(actor, project, role)
        page = batches.list_batches(
            session=session,
            mode=actor.mode,
            cursor=scale_queries.cursor_before(next_token, before),
            limit=size,
            project_id=project.id if project else None,
            status=status,
        )
        items, token = page.items, page.next_cursor
        if after is not None and any(b.id < scale_queries.id_after(after) for b in items):
            items, token = [b for b in items if b.id >= scale_queries.id_after(after)], None
        items = [
            b
            for b in items
            if scale_queries.created_within(b, after, before)
            and (done_after is None or (b.completed_at and b.completed_at > done_after))
            and (done_before is None or (b.completed_at and b.completed_at < done_before))
        ]
        related = _Related(session, actor, expand)
        return {
            "batches": [
                {**scale_format.v2_batch(b), "project": related.project(b.project_id)}
                for b in items
            ],
            "next_token": token,
        }


@router.get("/project")
def get_project(
    actor: CurrentActor,
    ctx: Ctx,
    project_id: str | None = None,
    project_name: str | None = None,
) -> dict[str, Any]:
    with ctx.db.read() as session:
        project, role = project_or_404(session, project_id, project_name, actor)
        if project is None:
            raise Invalid("pass project_id or project_name", field="project_id")
        project_policy.can_read(actor, project, role)
        return scale_format.v2_project(project)


@router.get("/projects")
def get_projects(
    actor: CurrentActor,
    ctx: Ctx,
    created_after: str | None = None,
    created_before: str | None = None,
) -> dict[str, Any]:
    after = scale_format.parse_time(created_after, "created_after")
    before = scale_format.parse_time(created_before, "created_before")
    member = None if project_policy.sees_all(actor) else actor.user_id
    found: list[dict[str, Any]] = []
    cursor = scale_queries.cursor_before(None, before)
    with ctx.db.read() as session:
        while True:
            page = projects.list_projects(
                session=session, mode=actor.mode, cursor=cursor, limit=ALL, member_user_id=member
            )
            kept = [p for p in page.items if after is None or p.id >= scale_queries.id_after(after)]
            found.extend(
                scale_format.v2_project(p)
                for p in kept
                if scale_queries.created_within(p, after, before)
            )
            cursor = page.next_cursor
            if cursor is None or len(kept) < len(page.items):
                return {"projects": found}
