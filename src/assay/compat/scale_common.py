"""What the Scale compat routers share: loading by Scale's names, and task views."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body
from sqlalchemy.orm import Session

from assay.api.projects import load_project
from assay.compat import scale_format, scale_queries, scale_taxonomy
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.settings import Settings
from assay.labeling import batches, models, projects, schemas, tasks
from assay.labeling.task_types import native_type

JsonObject = Annotated[dict[str, Any], Body()]
OptionalJsonObject = Annotated[dict[str, Any] | None, Body()]
MAX_PAGE = 100


def page_limit(limit: int | None, default: int = MAX_PAGE) -> int:
    """Scale pages hold 1 to 100 items."""
    if limit is None:
        return default
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be from 1 to {MAX_PAGE}, not {limit}", field="limit")
    return limit


def project_by_name(session: Session, name: str, actor: Actor) -> tuple[models.Project, str | None]:
    """The project named `name` in the caller's sandbox (404) and the caller's role in it."""
    project = projects.get_project_by_name(session=session, name=name, mode=actor.mode)
    role = projects.membership(session=session, project_id=project.id, user_id=actor.user_id)
    return project, role


def batch_by_name(
    session: Session, name: str, actor: Actor
) -> tuple[models.Batch, models.Project, str | None]:
    batch = batches.get_batch_by_name(session=session, name=name, mode=actor.mode)
    project, role = load_project(session, batch.project_id, actor)
    return batch, project, role


def load_task(
    session: Session, task_id: str, actor: Actor
) -> tuple[models.Task, models.Project, str | None]:
    task = tasks.get_task(session=session, task_id=task_id, mode=actor.mode)
    project, role = load_project(session, task.project_id, actor)
    return task, project, role


def project_or_404(session: Session, project_id: str | None, name: str | None, actor: Actor):
    """A project given by id or by name (v2), or (None, None) when neither is given."""
    if project_id:
        return load_project(session, project_id, actor)
    if name:
        return project_by_name(session, name, actor)
    return None, None


def check_project_type(project: models.Project, scale_type: str) -> None:
    """A task of `scale_type` may go in this project (400 naming `project` if not)."""
    if native_type(scale_type) != project.task_type:
        project_type = scale_format.scale_type_of(project.task_type, project.params)
        raise Invalid(
            f"project {project.name!r} is a {project_type} project; "
            f"create {project_type} tasks in it",
            field="project",
        )


def merge_task_labels(
    session: Session, project: models.Project, taxonomy: dict | None, actor: Actor
) -> None:
    """The labels a task's params name join its project's taxonomy (a Scale task carries
    its own label set)."""
    if taxonomy is None:
        return
    if scale_taxonomy.merge_taxonomy(project.taxonomy, taxonomy) == project.taxonomy:
        return
    # Locked and read again before the change: two tasks naming new labels at once would
    # otherwise each write the taxonomy they read, and one's labels would be lost.
    session.refresh(project, with_for_update=True)
    merged = scale_taxonomy.merge_taxonomy(project.taxonomy, taxonomy)
    if merged != project.taxonomy:
        projects.update_project(
            session=session,
            project=project,
            project_in=schemas.ProjectUpdate(taxonomy=merged),
            actor=actor,
        )


def create_scale_task(
    *,
    session: Session,
    project: models.Project,
    batch: models.Batch | None,
    scale_type: str,
    body: dict[str, Any],
    actor: Actor,
    settings: Settings,
) -> models.Task:
    """One task from a Scale create body, in a project of its type."""
    check_project_type(project, scale_type)
    task_in = scale_format.task_create(scale_type, body, project.params)
    merge_task_labels(session, project, task_in.taxonomy, actor)
    return tasks.create_task(
        session=session,
        project=project,
        batch=batch,
        task_in=schemas.TaskCreate(batch=batch.id if batch else None, **task_in.fields),
        actor=actor,
        settings=settings,
    )


class Names:
    """Project and batch names of the tasks of one response, each looked up once."""

    def __init__(self, session: Session, mode: str) -> None:
        self.session = session
        self.mode = mode
        self.projects: dict[str, models.Project] = {}
        self.batches: dict[str, str] = {}

    def project(self, project_id: str) -> models.Project:
        if project_id not in self.projects:
            self.projects[project_id] = projects.get_project(
                session=self.session, project_id=project_id, mode=self.mode
            )
        return self.projects[project_id]

    def batch(self, batch_id: str | None) -> str | None:
        if batch_id is None:
            return None
        if batch_id not in self.batches:
            try:
                batch = batches.get_batch(session=self.session, batch_id=batch_id, mode=self.mode)
                self.batches[batch_id] = batch.name
            except NotFound:
                self.batches[batch_id] = batch_id
        return self.batches[batch_id]


def task_views(session: Session, items: list[Any], actor: Actor) -> list[dict[str, Any]]:
    """Scale task objects for a page of tasks: names and audits in a few
    queries, not a few per task."""
    names = Names(session, actor.mode)
    audits = scale_queries.audit_events(session=session, task_ids=[t.id for t in items])
    views = []
    for task in items:
        project = names.project(task.project_id)
        views.append(
            scale_format.scale_task(
                task,
                project_name=project.name,
                batch_name=names.batch(task.batch_id),
                audits=[scale_format.audit(event) for event in audits.get(task.id, [])],
            )
        )
    return views


def task_view(session: Session, task: Any, actor: Actor) -> dict[str, Any]:
    return task_views(session, [task], actor)[0]
