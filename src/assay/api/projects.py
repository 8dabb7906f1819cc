"""Projects, their instructions (versioned) and members under /api/v1/projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core.auth import Actor
from assay.core.settings import Settings
from assay.labeling import models, projects, schemas
from assay.labeling.pipeline import callback_secret
from assay.labeling.policies import projects as policy

router = APIRouter(tags=["projects"], route_class=JsonRoute)


def load_project(
    session: Session, project_id: str, actor: Actor
) -> tuple[models.Project, str | None]:
    """The project in the caller's sandbox (404) and the caller's role in it."""
    project = projects.get_project(session=session, project_id=project_id, mode=actor.mode)
    role = projects.membership(session=session, project_id=project.id, user_id=actor.user_id)
    return project, role


def project_detail(
    project: models.Project, actor: Actor, role: str | None, settings: Settings
) -> schemas.ProjectDetail:
    detail = schemas.ProjectDetail.model_validate(project)
    detail.your_role = role
    if policy.can_read_secret(actor, role):
        detail.callback_secret = callback_secret(settings, project.id)
    return detail


@router.post(
    "/projects",
    response_model=schemas.ProjectDetail,
    status_code=201,
    operation_id="create_project",
)
def create_project(
    project_in: schemas.ProjectCreate, request: Request, actor: CurrentActor, db: Db, ctx: Ctx
) -> JSONResponse:
    """A project: task type, taxonomy, instructions and pipeline. Managers and admins."""
    policy.can_create(actor)

    def create(session: Session) -> schemas.ProjectDetail:
        project = projects.create_project(session=session, project_in=project_in, actor=actor)
        return project_detail(project, actor, None, ctx.settings)  # not a member yet

    return create_once(request, actor=actor, db=db, body=project_in, create=create)


@router.get("/projects", response_model=schemas.ProjectPage, operation_id="list_projects")
def list_projects(
    actor: CurrentActor,
    db: Db,
    page: Page,
    archived: Annotated[bool | None, Query(description="Only (un)archived projects")] = None,
) -> schemas.ProjectPage:
    """Newest first: every project for managers, the projects you are a member of otherwise."""
    with db.read() as session:
        result = projects.list_projects(
            session=session,
            mode=actor.mode,
            cursor=page.cursor,
            limit=page.limit,
            member_user_id=None if policy.sees_all(actor) else actor.user_id,
            archived=archived,
        )
        roles = projects.memberships(
            session=session, project_ids=[p.id for p in result.items], user_id=actor.user_id
        )
        items = [schemas.Project.model_validate(p) for p in result.items]
        for item in items:
            item.your_role = roles.get(item.id)
        return schemas.ProjectPage(items=items, next_cursor=result.next_cursor)


@router.get(
    "/projects/{project_id}", response_model=schemas.ProjectDetail, operation_id="get_project"
)
def get_project(project_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> schemas.ProjectDetail:
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_read(actor, project, role)
        return project_detail(project, actor, role, ctx.settings)


@router.patch(
    "/projects/{project_id}", response_model=schemas.ProjectDetail, operation_id="update_project"
)
def update_project(
    project_id: str, changes: schemas.ProjectUpdate, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.ProjectDetail:
    """Change the name, taxonomy, pipeline, default params or archived flag."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_update(actor, project, role)
        project = projects.update_project(
            session=session, project=project, project_in=changes, actor=actor
        )
        return project_detail(project, actor, role, ctx.settings)


@router.put(
    "/projects/{project_id}/instructions",
    response_model=schemas.InstructionVersion,
    operation_id="set_project_instructions",
)
def set_instructions(
    project_id: str, body: schemas.InstructionsUpdate, actor: CurrentActor, db: Db
) -> schemas.InstructionVersion:
    """Publish a new version of the instructions; earlier versions stay readable."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_set_instructions(actor, project, role)
        version = projects.set_instructions(
            session=session, project=project, body=body.body, actor=actor
        )
        return schemas.InstructionVersion.model_validate(version)


@router.get(
    "/projects/{project_id}/instructions",
    response_model=schemas.InstructionVersionPage,
    operation_id="list_project_instructions",
)
def list_instructions(
    project_id: str, actor: CurrentActor, db: Db, page: Page
) -> schemas.InstructionVersionPage:
    """Every version of the instructions, newest first."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_read_instructions(actor, project, role)
        result = projects.list_instruction_versions(
            session=session, project=project, cursor=page.cursor, limit=page.limit
        )
        return schemas.InstructionVersionPage(
            items=[schemas.InstructionVersion.model_validate(v) for v in result.items],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/projects/{project_id}/members",
    response_model=schemas.MemberPage,
    operation_id="list_project_members",
)
def list_members(project_id: str, actor: CurrentActor, db: Db, page: Page) -> schemas.MemberPage:
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_list_members(actor, project, role)
        result = projects.list_members(
            session=session, project=project, cursor=page.cursor, limit=page.limit
        )
        return schemas.MemberPage(
            items=[schemas.Member.model_validate(m) for m in result.items],
            next_cursor=result.next_cursor,
        )


@router.put(
    "/projects/{project_id}/members/{user_id}",
    response_model=schemas.Member,
    operation_id="set_project_member",
)
def set_member(
    project_id: str, user_id: str, member_in: schemas.MemberSet, actor: CurrentActor, db: Db
) -> schemas.Member:
    """Add a user to the project with a role (manager, reviewer, labeler), or change it."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_set_member(actor, project, role)
        member = projects.set_member(
            session=session, project=project, user_id=user_id, role=member_in.role
        )
        return schemas.Member.model_validate(member)


@router.delete(
    "/projects/{project_id}/members/{user_id}",
    status_code=204,
    operation_id="remove_project_member",
)
def remove_member(project_id: str, user_id: str, actor: CurrentActor, db: Db) -> Response:
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_remove_member(actor, project, role)
        projects.remove_member(session=session, project=project, user_id=user_id)
    return Response(status_code=204)
