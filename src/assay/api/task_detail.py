"""A task's detail for its managers: steps with people and durations, drafts, notes."""

from __future__ import annotations

from fastapi import APIRouter

from assay.api.deps import Ctx, CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.labeling import task_detail, tasks
from assay.labeling.policies import tasks as policy

router = APIRouter(tags=["tasks"], route_class=JsonRoute)


@router.get(
    "/tasks/{task_id}/detail",
    response_model=task_detail.TaskDetail,
    operation_id="get_task_detail",
)
def get_task_detail(task_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> task_detail.TaskDetail:
    """The task, who did each step and for how long, drafts in progress and notes on the
    instructions; blob attachments as signed media URLs for drawing it."""
    with db.read() as session:
        task = tasks.get_task(session=session, task_id=task_id, mode=actor.mode)
        project, role = load_project(session, task.project_id, actor)
        policy.can_read_history(actor, project, role)
        return task_detail.task_detail(session=session, task=task, settings=ctx.settings)
