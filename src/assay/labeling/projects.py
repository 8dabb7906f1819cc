"""Projects: task type, taxonomy, instructions (versioned), pipeline, and their members.

Every read and write is scoped to the caller's key mode: test-key projects live in a sandbox
apart from live ones, and a name is unique within its sandbox.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.core import blob_refs
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate
from assay.labeling import instructions, models, schemas
from assay.labeling.pipeline import Pipeline, parse_pipeline
from assay.labeling.quality_config import QualityConfig, parse_quality
from assay.labeling.task_types import native_type
from assay.labeling.taxonomy import Taxonomy, parse_taxonomy, taxonomy_json

# The `blob_refs` scopes of a project's blobs: those its tasks show (readable by whoever may
# see the project) and its exports (every answer: readable by the project's managers).
PROJECT_SCOPE = "project"
PROJECT_MANAGERS_SCOPE = "project_manager"

# --- parsed rules, cached per project version ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Rules:
    """A project's taxonomy and pipeline, parsed once per version of the project row."""

    taxonomy: Taxonomy
    pipeline: Pipeline
    quality: QualityConfig


_RULES_CACHE_SIZE = 512
_rules_cache: OrderedDict[tuple[str, dt.datetime], Rules] = OrderedDict()
_rules_lock = threading.Lock()


def project_rules(project: models.Project) -> Rules:
    """Parsed taxonomy and pipeline; a submit does not re-parse them (keyed on updated_at)."""
    return cached_rules(
        project.id,
        project.updated_at,
        lambda: (project.taxonomy, project.task_type, project.pipeline, project.quality),
    )


def cached_rules(
    project_id: str,
    updated_at: dt.datetime,
    load: Callable[[], tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]],
) -> Rules:
    """The rules of this version of the project; `load` gives (taxonomy, task type, pipeline,
    quality) on a miss, so the hot path reads the JSON columns only when the project changed."""
    key = (project_id, updated_at)
    with _rules_lock:
        cached = _rules_cache.get(key)
        if cached is not None:
            _rules_cache.move_to_end(key)
            return cached
    taxonomy, task_type, pipeline, quality = load()
    rules = Rules(
        parse_taxonomy(taxonomy, task_type), parse_pipeline(pipeline), parse_quality(quality)
    )
    with _rules_lock:
        _rules_cache[key] = rules
        while len(_rules_cache) > _RULES_CACHE_SIZE:
            _rules_cache.popitem(last=False)
    return rules


# --- projects ---------------------------------------------------------------------------


def _created_by(actor: Actor) -> str | None:
    return actor.user_id if actor.via != "system" else None


def _task_type(name: str) -> str:
    try:
        return native_type(name)
    except Invalid as exc:
        raise Invalid(exc.message, field="task_type") from None


def _name_taken(session: Session, name: str, mode: str, project_id: str | None = None) -> None:
    existing = session.scalar(
        select(models.Project.id).where(models.Project.mode == mode, models.Project.name == name)
    )
    if existing is not None and existing != project_id:
        raise Conflict(f"a project named {name!r} already exists ({existing})", field="name")


def _flush(session: Session, name: str) -> None:
    """Flush in a savepoint so a concurrent create of the same name becomes a Conflict."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a project named {name!r} already exists", field="name") from exc


def create_project(
    *, session: Session, project_in: schemas.ProjectCreate, actor: Actor
) -> models.Project:
    task_type = _task_type(project_in.task_type)
    taxonomy = parse_taxonomy(project_in.taxonomy, task_type)
    pipeline = parse_pipeline(project_in.pipeline)
    quality = parse_quality(project_in.quality)
    _name_taken(session, project_in.name, actor.mode)
    body = project_in.instructions
    if body is None:
        body = instructions.outline(taxonomy, task_type, project_in.name)
    project = models.Project(
        name=project_in.name,
        mode=actor.mode,
        task_type=task_type,
        taxonomy=taxonomy_json(taxonomy),
        instructions=body,
        instructions_version=1,
        pipeline=pipeline.model_dump(mode="json"),
        quality=quality.model_dump(mode="json"),
        params=dict(project_in.params),
        created_by=_created_by(actor),
    )
    try:
        # Added inside the savepoint: `begin_nested()` flushes what is pending before its
        # SAVEPOINT, so an insert added earlier would fail outside it, taking the
        # transaction down instead of becoming a Conflict.
        with session.begin_nested():
            session.add(project)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a project named {project_in.name!r} already exists", field="name") from exc
    session.add(
        models.InstructionVersion(
            project_id=project.id, version=1, body=body, created_by=_created_by(actor)
        )
    )
    session.flush()
    return project


def get_or_create_project(
    *,
    session: Session,
    project_in: schemas.ProjectCreate,
    actor: Actor,
    may_create: Callable[[], None] = lambda: None,
) -> models.Project:
    """The project named `project_in.name` in the caller's sandbox, created from `project_in`
    (after `may_create()`, a policy check that raises) when there is none. Two first calls at
    once make one project: the unique name decides, and the loser reads the winner's."""
    try:
        return get_project_by_name(session=session, name=project_in.name, mode=actor.mode)
    except NotFound:
        pass
    may_create()
    try:
        return create_project(session=session, project_in=project_in, actor=actor)
    except Conflict:
        return get_project_by_name(session=session, name=project_in.name, mode=actor.mode)


def get_project(*, session: Session, project_id: str, mode: str) -> models.Project:
    project = session.get(models.Project, project_id)
    if project is None or project.mode != mode:
        raise NotFound(f"no project with id {project_id}", field="project_id")
    return project


def get_project_by_name(*, session: Session, name: str, mode: str) -> models.Project:
    project = session.scalar(
        select(models.Project).where(models.Project.mode == mode, models.Project.name == name)
    )
    if project is None:
        raise NotFound(f"no project named {name!r}", field="project")
    return project


def list_projects(
    *,
    session: Session,
    mode: str,
    cursor: str | None,
    limit: int,
    member_user_id: str | None = None,
    archived: bool | None = None,
) -> PageResult[models.Project]:
    """Newest first; with `member_user_id`, only the projects that user is a member of."""
    stmt = select(models.Project).where(models.Project.mode == mode)
    if member_user_id is not None:
        stmt = stmt.join(
            models.ProjectMember,
            (models.ProjectMember.project_id == models.Project.id)
            & (models.ProjectMember.user_id == member_user_id),
        )
    if archived is not None:
        stmt = stmt.where(models.Project.archived.is_(archived))
    return paginate(session, stmt, key=models.Project.id, cursor=cursor, limit=limit)


def _check_pipeline_change(session: Session, project: models.Project, pipeline: Pipeline) -> None:
    """Refuse a pipeline that drops a stage where pending tasks still wait."""
    names = [stage.name for stage in pipeline.stages]
    stranded = session.scalar(
        select(models.Task.stage)
        .where(
            models.Task.project_id == project.id,
            models.Task.status == "pending",
            models.Task.stage.is_not(None),
            models.Task.stage.not_in(names),
        )
        .limit(1)
    )
    if stranded is not None:
        raise Conflict(
            f"tasks are waiting in stage {stranded!r}, which this pipeline drops; "
            "keep the stage until they are done",
            field="pipeline.stages",
        )


def update_project(
    *,
    session: Session,
    project: models.Project,
    project_in: schemas.ProjectUpdate,
    actor: Actor,
) -> models.Project:
    """Change what is given: name, taxonomy, pipeline, params, quality, archived."""
    changes: dict[str, Any] = project_in.model_dump(exclude_unset=True)
    if changes.get("name") is not None and changes["name"] != project.name:
        _name_taken(session, changes["name"], project.mode, project.id)
        project.name = changes["name"]
    if changes.get("taxonomy") is not None:
        project.taxonomy = taxonomy_json(parse_taxonomy(changes["taxonomy"], project.task_type))
    if changes.get("pipeline") is not None:
        pipeline = parse_pipeline(changes["pipeline"])
        _check_pipeline_change(session, project, pipeline)
        project.pipeline = pipeline.model_dump(mode="json")
    if changes.get("params") is not None:
        project.params = dict(changes["params"])
    if changes.get("quality") is not None:
        project.quality = parse_quality(changes["quality"]).model_dump(mode="json")
    if changes.get("archived") is not None:
        project.archived = bool(changes["archived"])
    project.updated_at = utcnow()
    _flush(session, project.name)
    return project


# --- instructions -----------------------------------------------------------------------


def set_instructions(
    *, session: Session, project: models.Project, body: str, actor: Actor
) -> models.InstructionVersion:
    """A new version of the instructions; earlier versions stay readable."""
    project.instructions_version += 1
    project.instructions = body
    project.updated_at = utcnow()
    version = models.InstructionVersion(
        project_id=project.id,
        version=project.instructions_version,
        body=body,
        created_by=_created_by(actor),
    )
    session.add(version)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "the instructions were changed at the same time; try again", field="body"
        ) from exc
    return version


def list_instruction_versions(
    *, session: Session, project: models.Project, cursor: str | None, limit: int
) -> PageResult[models.InstructionVersion]:
    """Newest version first."""
    stmt = select(models.InstructionVersion).where(
        models.InstructionVersion.project_id == project.id
    )
    return paginate(session, stmt, key=models.InstructionVersion.id, cursor=cursor, limit=limit)


# --- members ----------------------------------------------------------------------------


def membership(*, session: Session, project_id: str, user_id: str) -> str | None:
    """The user's role in the project, or None when not a member."""
    return session.scalar(
        select(models.ProjectMember.role).where(
            models.ProjectMember.project_id == project_id,
            models.ProjectMember.user_id == user_id,
        )
    )


def memberships(*, session: Session, project_ids: list[str], user_id: str) -> dict[str, str]:
    """The user's role in each of these projects they are a member of (one query)."""
    if not project_ids:
        return {}
    rows = session.execute(
        select(models.ProjectMember.project_id, models.ProjectMember.role).where(
            models.ProjectMember.user_id == user_id,
            models.ProjectMember.project_id.in_(project_ids),
        )
    )
    return {project_id: role for project_id, role in rows}


def visible_projects(
    session: Session, actor: Actor, project_ids: Sequence[str], *, managed: bool = False
) -> set[str]:
    """The projects among `project_ids` the actor may see (with `managed`: manage): every
    one of their key's mode for global managers; for everyone else those they are members of
    (with the project role manager)."""
    stmt = select(models.Project.id).where(
        models.Project.id.in_(project_ids), models.Project.mode == actor.mode
    )
    if not actor.at_least("manager"):
        member = (models.ProjectMember.project_id == models.Project.id) & (
            models.ProjectMember.user_id == actor.user_id
        )
        if managed:
            member &= models.ProjectMember.role == "manager"
        stmt = stmt.join(models.ProjectMember, member)
    return set(session.scalars(stmt))


blob_refs.register_reader_check(PROJECT_SCOPE, visible_projects)
blob_refs.register_reader_check(
    PROJECT_MANAGERS_SCOPE,
    lambda session, actor, ids: visible_projects(session, actor, ids, managed=True),
)


def set_member(
    *, session: Session, project: models.Project, user_id: str, role: str
) -> models.ProjectMember:
    """Add the user to the project, or change their role in it."""
    if role not in models.PROJECT_ROLES:
        raise Invalid(f"role must be one of {', '.join(models.PROJECT_ROLES)}", field="role")
    user = session.get(core_models.User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    member = session.get(models.ProjectMember, (project.id, user_id))
    if member is None:
        member = models.ProjectMember(project_id=project.id, user_id=user_id, role=role)
        session.add(member)
    else:
        member.role = role
    session.flush()
    return member


def remove_member(*, session: Session, project: models.Project, user_id: str) -> None:
    member = session.get(models.ProjectMember, (project.id, user_id))
    if member is None:
        raise NotFound(f"user {user_id} is not a member of this project", field="user_id")
    session.delete(member)
    session.flush()


def list_members(
    *, session: Session, project: models.Project, cursor: str | None, limit: int
) -> PageResult[models.ProjectMember]:
    """Oldest user first."""
    stmt = select(models.ProjectMember).where(models.ProjectMember.project_id == project.id)
    return paginate(
        session,
        stmt,
        key=models.ProjectMember.user_id,
        cursor=cursor,
        limit=limit,
        newest_first=False,
    )
