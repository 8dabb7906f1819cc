"""Actions on many tasks at once, under /api/v1/projects/{id}/tasks/actions (managers)."""

from __future__ import annotations

from fastapi import APIRouter

from assay.api.deps import Ctx, CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.labeling import task_bulk
from assay.labeling.policies import tasks as policy

router = APIRouter(tags=["tasks"], route_class=JsonRoute)


@router.post(
    "/projects/{project_id}/tasks/actions",
    response_model=task_bulk.TaskActionDone,
    operation_id="apply_task_action",
)
def apply_task_action(
    project_id: str, action_in: task_bulk.TaskAction, actor: CurrentActor, db: Db, ctx: Ctx
) -> task_bulk.TaskActionDone:
    """Cancel, re-queue, set the priority of, move or make gold of up to 10,000 tasks in one
    transaction: all or nothing; a task that does not fit is a 4xx naming it
    (`task_ids[i]`) and nothing changes."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_update(actor, project, role)
        return task_bulk.apply_action(
            session=session,
            project=project,
            action_in=action_in,
            actor=actor,
            settings=ctx.settings,
        )
