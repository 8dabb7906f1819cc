"""Scale's v1 API (`https://api.scale.com/v1`) over the labeling services: projects, batches,
teams and files here, tasks in `scale_v1_tasks`. Point the official client at it with
`ScaleClient(api_key, api_instance_url=f"{server}/v1")`.

Every route is thin: translate the Scale body (scale_format), load by name, authorize with the
native policies, call one service, translate back. Successful writes answer 200 (the client
treats anything else as an error); errors use Scale's shape (compat/errors.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assay.api.context import AppContext
from assay.api.deps import Ctx, CurrentActor
from assay.compat import (
    scale_files,
    scale_format,
    scale_quality,
    scale_queries,
    scale_studio,
    scale_taxonomy,
    scale_v1_tasks,
)
from assay.compat.errors import ScaleRoute
from assay.compat.scale_common import (
    JsonObject,
    OptionalJsonObject,
    batch_by_name,
    page_limit,
    project_by_name,
)
from assay.core import schemas as core_schemas
from assay.core import users
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.policies import blobs as blob_policy
from assay.core.policies import users as user_policy
from assay.labeling import batches, models, projects, schemas
from assay.labeling.policies import batches as batch_policy
from assay.labeling.policies import projects as project_policy

router = APIRouter(prefix="/v1", route_class=ScaleRoute, include_in_schema=False)
router.include_router(scale_v1_tasks.router)
router.include_router(scale_studio.router)  # Studio: assignments, groups, batch order
router.include_router(scale_quality.router)  # evaluation and training tasks
ALL = 1000  # page size when a Scale list has no pagination (projects, teammates)


# --- projects ---------------------------------------------------------------------------


@router.post("/projects")
def create_project(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    project_policy.can_create(actor)
    project_in = schemas.ProjectCreate(**scale_format.project_create(body))
    with ctx.db.write() as session:
        project = projects.create_project(session=session, project_in=project_in, actor=actor)
        return scale_format.scale_project(project)


@router.get("/projects")
def list_projects(actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    member = None if project_policy.sees_all(actor) else actor.user_id
    found: list[dict[str, Any]] = []
    cursor = None
    with ctx.db.read() as session:
        while True:
            page = projects.list_projects(
                session=session, mode=actor.mode, cursor=cursor, limit=ALL, member_user_id=member
            )
            found.extend(scale_format.scale_project(p) for p in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return found


@router.post("/projects/{name:path}/setParams")
def set_project_params(
    name: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    with ctx.db.write() as session:
        project, role = project_by_name(session, name, actor)
        project_policy.can_update(actor, project, role)
        scale_type = scale_format.scale_type_of(project.task_type, project.params)
        update = scale_format.project_params_update(project.params, scale_type, body)
        changes: dict[str, Any] = {"params": update.params}
        if update.taxonomy is not None:
            changes["taxonomy"] = scale_taxonomy.merge_taxonomy(project.taxonomy, update.taxonomy)
        projects.update_project(
            session=session,
            project=project,
            project_in=schemas.ProjectUpdate(**changes),
            actor=actor,
        )
        if update.instruction is not None and update.instruction != project.instructions:
            project_policy.can_set_instructions(actor, project, role)
            projects.set_instructions(
                session=session, project=project, body=update.instruction, actor=actor
            )
        return scale_format.scale_project(project)


@router.get("/projects/{name:path}/taskTemplates")
def get_project_template(name: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """Scale's task template: text collection and chat projects only (as on Scale)."""
    with ctx.db.read() as session:
        project, role = project_by_name(session, name, actor)
        project_policy.can_read(actor, project, role)
        return scale_format.task_template(project)


@router.get("/projects/{name:path}")
def get_project(name: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        project, role = project_by_name(session, name, actor)
        project_policy.can_read(actor, project, role)
        return scale_format.scale_project(project)


# --- batches ----------------------------------------------------------------------------


@router.post("/batches")
def create_batch(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    project_name = body.get("project")
    if not isinstance(project_name, str) or not project_name:
        raise Invalid("project is required: the name of the batch's project", field="project")
    batch_in = schemas.BatchCreate(**scale_format.batch_create(body))
    with ctx.db.write() as session:
        project, role = project_by_name(session, project_name, actor)
        batch_policy.can_create(actor, project, role)
        batch = batches.create_batch(
            session=session, project=project, batch_in=batch_in, actor=actor, settings=ctx.settings
        )
        return scale_format.scale_batch(batch, project.name)


@router.get("/batches")
def list_batches(
    actor: CurrentActor,
    ctx: Ctx,
    project: str | None = None,
    status: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    limit: int | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    exclude_archived: str | None = None,
) -> dict[str, Any]:
    """Scale pages batches by offset; the native list pages by cursor, so skip `offset`."""
    size = page_limit(limit)
    created_after = scale_format.parse_time(start_time, "start_time")
    created_before = scale_format.parse_time(end_time, "end_time")
    with ctx.db.read() as session:
        project_row = role = None
        if project:
            project_row, role = project_by_name(session, project, actor)
        batch_policy.can_list(actor, project_row, role)
        project_id = project_row.id if project_row is not None else None
        wanted = offset + size + 1
        found: list[models.Batch] = []
        cursor = scale_queries.cursor_before(None, created_before)
        floor = scale_queries.id_after(created_after) if created_after else None
        while len(found) < wanted:
            page = batches.list_batches(
                session=session,
                mode=actor.mode,
                cursor=cursor,
                limit=min(wanted - len(found), ALL),
                project_id=project_id,
                status=status,
            )
            kept = [b for b in page.items if floor is None or b.id >= floor]
            found.extend(
                b for b in kept if scale_queries.created_within(b, created_after, created_before)
            )
            cursor = page.next_cursor
            if cursor is None or len(kept) < len(page.items):
                break
        docs = found[offset : offset + size]
        total = scale_queries.count_batches(
            session=session,
            mode=actor.mode,
            project_id=project_id,
            status=status,
            created_after=created_after,
            created_before=created_before,
        )
        names = _project_names(session, docs, actor)
        return {
            "docs": [scale_format.scale_batch(b, names[b.project_id]) for b in docs],
            "totalDocs": total,
            "limit": size,
            "offset": offset,
            "has_more": len(found) > offset + size,
        }


def _project_names(session: Session, items: list[models.Batch], actor: Actor) -> dict[str, str]:
    return {
        project_id: projects.get_project(
            session=session, project_id=project_id, mode=actor.mode
        ).name
        for project_id in {b.project_id for b in items}
    }


@router.post("/batches/{name:path}/finalize")
def finalize_batch(
    name: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    with ctx.db.write() as session:
        batch, project, role = batch_by_name(session, name, actor)
        batch_policy.can_finalize(actor, project, role)
        batches.finalize_batch(session=session, batch=batch, settings=ctx.settings, actor=actor)
        return scale_format.scale_batch(batch, project.name)


@router.get("/batches/{name:path}/status")
def batch_status(name: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        batch, project, role = batch_by_name(session, name, actor)
        batch_policy.can_read(actor, project, role)
        counts = batches.batch_counts(session=session, batch_ids=[batch.id])[batch.id]
        return scale_format.batch_status(batch.status, counts)


@router.post("/batches/{name:path}/setMetadata")
def set_batch_metadata(
    name: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    with ctx.db.write() as session:
        batch, project, role = batch_by_name(session, name, actor)
        batch_policy.can_update(actor, project, role)
        batches.set_batch_metadata(session=session, batch=batch, metadata=body)
        return scale_format.scale_batch(batch, project.name)


@router.get("/batches/{name:path}")
def get_batch(name: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        batch, project, role = batch_by_name(session, name, actor)
        batch_policy.can_read(actor, project, role)
        return scale_format.scale_batch(batch, project.name)


# --- teams ------------------------------------------------------------------------------


@router.get("/teams")
def list_teammates(actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    user_policy.can_list(actor)
    found: list[dict[str, Any]] = []
    cursor = None
    with ctx.db.read() as session:
        while True:
            page = users.list_users(session=session, cursor=cursor, limit=ALL)
            found.extend(scale_format.teammate(u) for u in page.items if u.is_active)
            cursor = page.next_cursor
            if cursor is None:
                return found


def _emails(body: dict[str, Any]) -> list[str]:
    emails = body.get("emails")
    if not isinstance(emails, list) or not emails or not all(isinstance(e, str) for e in emails):
        raise Invalid("emails must be a non-empty list of email addresses", field="emails")
    return [e.strip().lower() for e in emails]


@router.post("/teams/invite")
def invite_teammates(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    """New users get the role; people already on the team keep theirs (as on Scale)."""
    user_policy.can_create(actor)
    role = scale_format.native_role(body.get("team_role"))
    emails = _emails(body)
    with ctx.db.write() as session:
        invited = []
        for email in emails:
            try:
                user = users.get_user_by_email(session=session, email=email)
            except NotFound:
                user = users.create_user(
                    session=session, user_in=core_schemas.UserCreate(email=email, role=role)
                )
            invited.append(scale_format.teammate(user))
        return invited


@router.post("/teams/set_role")
def update_teammates_role(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    user_policy.can_set_role(actor)
    role = scale_format.native_role(body.get("team_role"))
    emails = _emails(body)
    with ctx.db.write() as session:
        changed = []
        for email in emails:
            user = users.get_user_by_email(session=session, email=email)
            users.set_role(session=session, user=user, role=role)
            changed.append(scale_format.teammate(user))
    ctx.key_cache.clear()  # a cached key would keep the old role for a few seconds
    return changed


# --- files ------------------------------------------------------------------------------


@router.post("/files/upload")
async def upload_file(request: Request, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """Multipart `file` plus Scale's optional form fields (`display_name`, `reference_id` …)."""
    blob_policy.can_upload(actor)
    async with request.form(max_files=1, max_fields=20) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("send the file as the multipart/form-data field `file`", field="file")
        extra = {k: v for k, v in form.items() if k != "file" and isinstance(v, str)}
        return await run_in_threadpool(_store_upload, ctx, actor, upload, extra)


def _store_upload(
    ctx: AppContext, actor: Actor, upload: UploadFile, extra: dict[str, Any]
) -> dict[str, Any]:
    blob = scale_files.store(
        ctx, actor, upload.file, filename=upload.filename, content_type=upload.content_type
    )
    return scale_format.scale_file(blob, extra)


@router.post("/files/import")
def import_file(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """Fetch `file_url` (through the outbound policy) and store it like an upload."""
    blob_policy.can_import_url(actor)
    url = body.get("file_url")
    if not isinstance(url, str) or not url.strip():
        raise Invalid("file_url is required", field="file_url")
    blob = scale_files.import_url(ctx, actor, url.strip())
    extra = {k: v for k, v in body.items() if k != "file_url"}
    return scale_format.scale_file(blob, extra)
