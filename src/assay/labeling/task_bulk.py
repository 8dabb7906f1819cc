"""Actions on many tasks at once (the task table's selection): cancel, re-queue, set the
priority, move to another batch, make evaluation (gold) or training tasks.

One request is one transaction, all or nothing: the tasks are read in a few `IN` queries,
every one is checked before anything is written, and the first that does not fit is a 4xx
naming it (`task_ids[i]`, with its id). The changes are set-based UPDATEs and one INSERT of
history events, whatever the number of tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.schemas import Schema
from assay.core.settings import Settings
from assay.labeling import batches, models, quality_admin, workforce
from assay.labeling.pipeline import complete_batch_if_done
from assay.labeling.projects import project_rules
from assay.labeling.tasks import CHUNK, user_of

T = models.Task
MAX_TASKS = 10_000
ACTIONS = ("cancel", "requeue", "set_priority", "move", "make_gold")
_LEASE_CLEARED = {
    "lease_user_id": None,
    "lease_token": None,
    "lease_expires_at": None,
    "leased_at": None,
}


class TaskAction(Schema):
    """What to do with the tasks named; the fields after `task_ids` belong to one action."""

    action: Literal["cancel", "requeue", "set_priority", "move", "make_gold"]
    task_ids: list[str] = Field(min_length=1, max_length=MAX_TASKS)
    priority: int | None = Field(
        None, ge=-1_000_000, le=1_000_000, description="set_priority: the new priority."
    )
    batch_id: str | None = Field(None, max_length=24, description="move: the batch to move to.")
    kind: Literal["evaluation", "training"] = Field(
        "evaluation", description="make_gold: evaluation (gold) or training tasks."
    )
    clear_unique_id: bool = Field(False, description="cancel: free the unique ids.")


class TaskActionDone(Schema):
    action: str
    count: int
    task_ids: list[str] = Field(description="The tasks changed (make_gold: the new tasks).")


def _field(i: int) -> str:
    return f"task_ids[{i}]"


def load_tasks(
    *, session: Session, project: models.Project, task_ids: Sequence[str], mode: str
) -> list[models.Task]:
    """The project's real tasks named, in the order named; the first id that is not one (or
    is named twice) is a 4xx naming it."""
    wanted = list(dict.fromkeys(task_ids))
    if len(wanted) != len(task_ids):
        seen: set[str] = set()
        for i, task_id in enumerate(task_ids):
            if task_id in seen:
                raise Invalid(f"task {task_id} is named twice", field=_field(i))
            seen.add(task_id)
    found: dict[str, models.Task] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(
            (task.id, task)
            for task in session.scalars(
                select(T).where(T.id.in_(chunk), T.mode == mode, T.project_id == project.id)
            )
        )
    for i, task_id in enumerate(task_ids):
        task = found.get(task_id)
        if task is None:
            raise NotFound(f"no task {task_id} in this project", field=_field(i))
        if task.kind != "production":
            raise Invalid(
                f"task {task_id} is an {task.kind} task: manage it in the Quality tab",
                field=_field(i),
            )
    return [found[task_id] for task_id in wanted]


def _require(tasks: Sequence[models.Task], allowed: tuple[str, ...], doing: str) -> None:
    for i, task in enumerate(tasks):
        if task.status not in allowed:
            raise Conflict(
                f"task {task.id} is {task.status}; only {' or '.join(allowed)} tasks can be "
                f"{doing} (nothing was changed)",
                field=_field(i),
            )


def _update(session: Session, ids: Sequence[str], values: dict[str, Any]) -> None:
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(T).where(T.id.in_(ids[start : start + CHUNK])).values(values),
            execution_options={"synchronize_session": False},
        )


def _events(
    session: Session, tasks: Sequence[models.Task], actor: Actor, action: str, **fields: Any
) -> None:
    now = utcnow()
    rows = [
        {
            "task_id": task.id,
            "project_id": task.project_id,
            "stage": task.stage or "",
            "round": task.round,
            "user_id": user_of(actor),
            "action": action,
            "reason": fields.get("reason"),
            "created_at": now,
        }
        for task in tasks
    ]
    session.execute(insert(models.TaskEvent), rows)


def _complete_batches(
    session: Session, batch_ids: set[str | None], settings: Settings, actor: Actor
) -> None:
    for batch_id in sorted(b for b in batch_ids if b is not None):
        complete_batch_if_done(session=session, batch_id=batch_id, settings=settings, actor=actor)


def cancel_tasks(
    *,
    session: Session,
    tasks: Sequence[models.Task],
    actor: Actor,
    settings: Settings,
    clear_unique_id: bool = False,
) -> None:
    """Pending tasks leave the queue; their batches may complete."""
    _require(tasks, ("pending",), "canceled")
    _events(session, tasks, actor, "cancel")
    values: dict[str, Any] = {
        "status": "canceled",
        "completed_at": utcnow(),
        "stage": None,
        "assignee_id": None,
        "updated_at": utcnow(),
        **_LEASE_CLEARED,
    }
    if clear_unique_id:
        values["unique_id"] = None
    _update(session, [task.id for task in tasks], values)
    _complete_batches(session, {task.batch_id for task in tasks}, settings, actor)


def requeue_tasks(
    *, session: Session, project: models.Project, tasks: Sequence[models.Task], actor: Actor
) -> None:
    """Canceled or failed tasks go back to the first stage as pending (a completed batch
    opens again); pending ones lose their lease, so anyone may take them. Completed tasks
    keep their response: make a new task to label one again."""
    _require(tasks, ("pending", "canceled", "error"), "re-queued")
    first = project_rules(project).pipeline.stages[0].name
    batch_ids = {task.batch_id for task in tasks if task.batch_id is not None}
    coming_back = {task.batch_id for task in tasks if task.status != "pending"}
    staging = set()
    for batch_id in sorted(batch_ids):
        batch = session.get(models.Batch, batch_id, with_for_update=True)
        assert batch is not None
        if batch.status == "staging":
            staging.add(batch_id)
        elif batch.status == "completed" and batch_id in coming_back:
            batch.status, batch.completed_at = "in_progress", None
    now = utcnow()
    waiting = [task for task in tasks if task.status == "pending"]
    back = [task for task in tasks if task.status != "pending"]
    _events(session, tasks, actor, "requeue")
    _update(session, [t.id for t in waiting], {**_LEASE_CLEARED, "updated_at": now})
    for in_staging in (True, False):
        ids = [t.id for t in back if (t.batch_id in staging) == in_staging]
        _update(
            session,
            ids,
            {
                **_LEASE_CLEARED,
                "status": "pending",
                "stage": None if in_staging else first,
                "round": 0,
                "completed_at": None,
                "error": None,
                "assignee_id": None,
                "working_response": None,
                "labeled_by": None,
                "updated_at": now,
            },
        )


def set_priority(*, session: Session, tasks: Sequence[models.Task], priority: int) -> None:
    _update(session, [task.id for task in tasks], {"priority": priority, "updated_at": utcnow()})


def move_tasks(
    *,
    session: Session,
    project: models.Project,
    tasks: Sequence[models.Task],
    batch_id: str | None,
    actor: Actor,
    settings: Settings,
) -> None:
    """Pending tasks join another batch of the project: its place in the order, its groups
    and its state (a staging batch holds them out of the queue until it is finalized)."""
    if batch_id is None:
        raise Invalid("say which batch to move the tasks to", field="batch_id")
    target = batches.get_batch(session=session, batch_id=batch_id, mode=actor.mode)
    if target.project_id != project.id:
        raise Invalid(f"batch {target.name!r} belongs to another project", field="batch_id")
    if target.status in ("completed", "canceled"):
        raise Conflict(
            f"batch {target.name!r} is {target.status}; move the tasks to an open batch",
            field="batch_id",
        )
    _require(tasks, ("pending",), "moved")
    moving = [task for task in tasks if task.batch_id != target.id]
    if not moving:
        return
    first = project_rules(project).pipeline.stages[0].name
    _events(session, moving, actor, "move", reason=f"to batch {target.name}")
    common = {
        "batch_id": target.id,
        "batch_priority": target.priority,
        "restricted": workforce.batch_has_groups(session=session, batch_id=target.id),
        "updated_at": utcnow(),
    }
    if target.status == "staging":
        _update(
            session,
            [t.id for t in moving],
            {**common, **_LEASE_CLEARED, "stage": None, "paused_stage": None, "assignee_id": None},
        )
    elif target.status == "paused":
        # Out of the queue until the batch resumes, each keeping the stage it would go back to.
        _update(
            session,
            [t.id for t in moving],
            {
                **common,
                **_LEASE_CLEARED,
                "stage": None,
                "paused_stage": func.coalesce(T.stage, T.paused_stage, first),
            },
        )
    else:
        # A task leaving a paused batch goes back to the stage it was paused in.
        queued = [t.id for t in moving if t.stage is not None]
        _update(session, queued, {**common, "paused_stage": None})
        _update(
            session,
            [t.id for t in moving if t.stage is None],
            {**common, "stage": func.coalesce(T.paused_stage, first), "paused_stage": None},
        )
    _complete_batches(session, {task.batch_id for task in moving}, settings, actor)


def apply_action(
    *,
    session: Session,
    project: models.Project,
    action_in: TaskAction,
    actor: Actor,
    settings: Settings,
) -> TaskActionDone:
    """Check every task named, then apply the action to all of them (or raise, writing
    nothing: the caller's transaction is rolled back)."""
    if project.archived:
        raise Conflict("the project is archived; unarchive it to change its tasks", field="project")
    tasks = load_tasks(
        session=session, project=project, task_ids=action_in.task_ids, mode=actor.mode
    )
    changed = [task.id for task in tasks]
    action = action_in.action
    if action == "cancel":
        cancel_tasks(
            session=session,
            tasks=tasks,
            actor=actor,
            settings=settings,
            clear_unique_id=action_in.clear_unique_id,
        )
    elif action == "requeue":
        requeue_tasks(session=session, project=project, tasks=tasks, actor=actor)
    elif action == "set_priority":
        if action_in.priority is None:
            raise Invalid("give the new priority", field="priority")
        set_priority(session=session, tasks=tasks, priority=action_in.priority)
    elif action == "move":
        move_tasks(
            session=session,
            project=project,
            tasks=tasks,
            batch_id=action_in.batch_id,
            actor=actor,
            settings=settings,
        )
    else:
        created = quality_admin.make_quality_copies(
            session=session,
            tasks_in=tasks,
            kind=action_in.kind,
            actor=actor,
            settings=settings,
            path="task_ids",
        )
        changed = [task.id for task in created]
    session.flush()
    return TaskActionDone(action=action, count=len(changed), task_ids=changed)
