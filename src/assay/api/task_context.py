"""The labeling page's context under /api/v1: a held task's place in its batch and the
worker's day, why a stage has nothing for the caller, their previous task, and a project's
work by stage. Separate, light calls the UI makes after a task is shown — the queue's `next`
and `submit` stay as they are."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response

from assay.api.deps import Ctx, CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.core.db import utcnow
from assay.labeling import task_context, tasks
from assay.labeling.policies import queue as queue_policy
from assay.labeling.policies import tasks as task_policy
from assay.labeling.projects import project_rules
from assay.labeling.task_context_schemas import (
    PreviousTask,
    ProjectProgress,
    QueueSummary,
    TaskContext,
)

router = APIRouter(tags=["queue"], route_class=JsonRoute)

Since = Annotated[
    dt.datetime | None,
    Query(description="Count your work from here (your local midnight); default UTC midnight."),
]


def _since(since: dt.datetime | None) -> dt.datetime:
    if since is None:
        return dt.datetime.combine(utcnow().date(), dt.time(), tzinfo=dt.UTC)
    return since if since.tzinfo else since.replace(tzinfo=dt.UTC)


@router.get("/tasks/{task_id}/context", response_model=TaskContext, operation_id="get_task_context")
def get_task_context(task_id: str, actor: CurrentActor, db: Db, since: Since = None) -> TaskContext:
    """The task you are working on: its file name, its place in the batch ("task 7 of 19"),
    your work today; in review stages also who labeled it, how long they took, the round and
    what to compare with. 409 unless you hold a live lease on the task."""
    with db.read() as session:
        task = tasks.get_task(session=session, task_id=task_id, mode=actor.mode)
        project, role = load_project(session, task.project_id, actor)
        pipeline = project_rules(project).pipeline
        queue_policy.can_work(actor, project, role, "label")
        return task_context.task_context(
            session=session,
            task=task,
            user_id=actor.user_id,
            pipeline=pipeline,
            since=_since(since),
        )


@router.get(
    "/projects/{project_id}/queue/summary",
    response_model=QueueSummary,
    operation_id="get_queue_summary",
)
def get_queue_summary(
    project_id: str,
    actor: CurrentActor,
    db: Db,
    stage: Annotated[str | None, Query(description="Stage name; default the first")] = None,
    since: Since = None,
) -> QueueSummary:
    """A stage's queue from your side: waiting, leased, waiting tasks you labeled (which you
    cannot review) and your work today."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        pipeline = project_rules(project).pipeline
        chosen = pipeline.stage(stage) if stage else pipeline.stages[0]
        queue_policy.can_work(actor, project, role, chosen.kind)
        return task_context.queue_summary(
            session=session,
            project=project,
            stage=chosen.name,
            kind=chosen.kind,
            user_id=actor.user_id,
            since=_since(since),
        )


@router.get(
    "/projects/{project_id}/queue/previous",
    response_model=PreviousTask,
    responses={204: {"description": "You have submitted nothing in this project"}},
    operation_id="get_previous_task",
)
def get_previous_task(project_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> object:
    """Your last submitted task in the project with your response, to look at again. It is
    read-only: the task has moved on in the pipeline (to review, or completed)."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        queue_policy.can_work(actor, project, role, "label")
        previous = task_context.previous_task(
            session=session,
            project=project,
            user_id=actor.user_id,
            secret=ctx.settings.secret_key.get_secret_value(),
            ttl_seconds=ctx.settings.media_url_ttl_seconds,
        )
    return Response(status_code=204) if previous is None else previous


@router.get(
    "/projects/{project_id}/progress",
    response_model=ProjectProgress,
    operation_id="get_project_progress",
)
def get_project_progress(project_id: str, actor: CurrentActor, db: Db) -> ProjectProgress:
    """Per stage, the tasks waiting and in progress; task statuses; completions per day.
    Managers of the project."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        task_policy.can_list(actor, project, role)
        return task_context.project_progress(
            session=session, project=project, pipeline=project_rules(project).pipeline
        )
