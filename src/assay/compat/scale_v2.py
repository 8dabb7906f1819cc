"""Scale's v2 API as the official client's generated v2 code calls it (point its
configuration's `host` at the server root): reads (`/v2/task`, `/v2/tasks`, `/v2/batch`,
`/v2/batches`, `/v2/project`, `/v2/projects`) and writes (`POST /v2/batch`, its
`/finalize`, `/pause`, `/resume`, `/cancel` and `/metadata`, `POST /v2/task/chat`,
`POST /v2/task/metadata`).
Entities are addressed by id or by name; `expand=project` / `expand=batch` inline the
related object instead of its id. Every success is a 200, as Scale answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.api.projects import load_project
from assay.compat import scale_format, scale_queries
from assay.compat.errors import ScaleRoute
from assay.compat.scale_common import (
    JsonObject,
    batch_by_name,
    create_scale_task,
    load_task,
    page_limit,
    project_or_404,
)
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.labeling import batches, models, projects, schemas, task_changes, tasks
from assay.labeling.policies import batches as batch_policy
from assay.labeling.policies import projects as project_policy
from assay.labeling.policies import tasks as task_policy

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
            status=scale_format.native_batch_status(status),
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


# --- writes -------------------------------------------------------------------------------


def _batch_in_body(session: Session, actor: Actor, body: dict[str, Any]):
    """The batch a write names by `batch_id` or `batch_name`, its project and the role."""
    batch_id, batch_name = body.get("batch_id"), body.get("batch_name")
    for field, value in (("batch_id", batch_id), ("batch_name", batch_name)):
        if value is not None and not isinstance(value, str):
            raise Invalid(f"{field} must be a string", field=field)
    return _batch(session, actor, batch_id, batch_name)


def _metadata(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """`metadata` replaces the current metadata, or with `merge: true` is deep-merged in."""
    metadata, merge = body.get("metadata"), body.get("merge", False)
    if not isinstance(metadata, dict):
        raise Invalid("metadata is required: an object", field="metadata")
    if not isinstance(merge, bool):
        raise Invalid("merge must be true or false", field="merge")
    return scale_format.deep_merge(current, metadata) if merge else metadata


@router.post("/batch")
def create_batch(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """A batch in progress at once (its tasks are queued as they come), unless
    `staging_batch` is true (then they wait for finalize)."""
    project_id, project_name = body.get("project_id"), body.get("project_name")
    staging = body.get("staging_batch", False)
    if not isinstance(staging, bool):
        raise Invalid("staging_batch must be true or false", field="staging_batch")
    batch_in = schemas.BatchCreate(**scale_format.batch_create(body))
    with ctx.db.write() as session:
        project, role = project_or_404(session, project_id, project_name, actor)
        if project is None:
            raise Invalid("pass project_id or project_name", field="project_id")
        batch_policy.can_create(actor, project, role)
        batch = batches.create_batch(
            session=session, project=project, batch_in=batch_in, actor=actor
        )
        if not staging:  # open to receive tasks: an empty batch does not complete
            batches.finalize_batch(
                session=session,
                batch=batch,
                settings=ctx.settings,
                actor=actor,
                complete_if_done=False,
            )
        return scale_format.v2_batch(batch)


@router.post("/batch/finalize")
def finalize_batch(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        batch, project, role = _batch_in_body(session, actor, body)
        batch_policy.can_finalize(actor, project, role)
        batches.finalize_batch(session=session, batch=batch, settings=ctx.settings, actor=actor)
        return scale_format.v2_batch(batch)


@router.post("/batch/pause")
def pause_batch(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """Scale pauses only a batch in progress; its unstarted tasks wait (409 otherwise)."""
    with ctx.db.write() as session:
        batch, project, role = _batch_in_body(session, actor, body)
        batch_policy.can_update(actor, project, role)
        batches.pause_batch(session=session, batch=batch)
        return {"batch": scale_format.v2_batch(batch), "message": "the batch is paused"}


@router.post("/batch/resume")
def resume_batch(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        batch, project, role = _batch_in_body(session, actor, body)
        batch_policy.can_update(actor, project, role)
        batches.resume_batch(session=session, batch=batch, settings=ctx.settings, actor=actor)
        return {"batch": scale_format.v2_batch(batch), "message": "the batch is in progress"}


@router.post("/batch/cancel")
def cancel_batch(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """Unstarted tasks are canceled; a completed batch cannot be (409)."""
    with ctx.db.write() as session:
        batch, project, role = _batch_in_body(session, actor, body)
        batch_policy.can_update(actor, project, role)
        count = batches.cancel_batch(session=session, batch=batch, actor=actor)
        return {
            "batch": scale_format.v2_batch(batch),
            "message": f"the batch is cancelled; {count} unstarted tasks were cancelled",
        }


@router.post("/batch/metadata")
def set_batch_metadata(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        batch, project, role = _batch_in_body(session, actor, body)
        batch_policy.can_update(actor, project, role)
        metadata = _metadata(body, batch.metadata_)
        batches.set_batch_metadata(session=session, batch=batch, metadata=metadata)
        return scale_format.v2_batch(batch)


@router.post("/task/metadata")
def set_task_metadata(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    task_id = body.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise Invalid("task_id is required", field="task_id")
    with ctx.db.write() as session:
        task, project, role = load_task(session, task_id, actor)
        task_policy.can_update(actor, project, role)
        metadata = _metadata(body, task.metadata_)
        task_changes.set_task_metadata(session=session, task=task, metadata=metadata)
        return _Related(session, actor, None).task(task)


@router.post("/task/chat")
def create_chat_task(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """A task of a chat project, from its `template_variables` (`prompt`, `responses` …)."""
    refs = {key: body.get(key) for key in ("batch_id", "batch_name", "project_id", "project_name")}
    for field, value in refs.items():
        if value is not None and not isinstance(value, str):
            raise Invalid(f"{field} must be a string", field=field)
    with ctx.db.write() as session:
        batch, project, role = _batch_or_project(session, actor, **refs)
        if project is None:
            raise Invalid("pass project_id or project_name", field="project_id")
        task_policy.can_create(actor, project, role)
        scale_type = scale_format.scale_type_of(project.task_type, project.params)
        if scale_type not in scale_format.CHAT_TYPES:
            raise Invalid(
                f"project {project.name!r} is a {scale_type} project; chat tasks go in a chat "
                "project",
                field="project_id",
            )
        fields = ("template_variables", "metadata", "callback_url")
        task = create_scale_task(
            session=session,
            project=project,
            batch=batch,
            scale_type=scale_type,
            body={key: body[key] for key in fields if body.get(key) is not None},
            actor=actor,
            settings=ctx.settings,
        )
        return _Related(session, actor, None).task(task)
