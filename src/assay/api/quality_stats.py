"""Workforce quality numbers under /api/v1/projects/{id}/quality: the project's overview per
labeler and one labeler's dashboard over time (charts of the quality pages)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from assay.api.deps import Ctx, CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.labeling import quality_stats
from assay.labeling.policies import quality_stats as policy
from assay.labeling.quality_feedback import Feedback
from assay.labeling.quality_stats_schemas import LabelerDashboard, ProjectQuality

router = APIRouter(tags=["quality"], route_class=JsonRoute)


@router.get(
    "/projects/{project_id}/quality/overview",
    response_model=ProjectQuality,
    operation_id="get_project_quality",
)
def get_project_quality(
    project_id: str,
    actor: CurrentActor,
    db: Db,
    since: Annotated[
        dt.datetime | None, Query(description="Only work from this time on (ISO 8601, with zone)")
    ] = None,
) -> ProjectQuality:
    """Per labeler: submissions, tasks per active hour, time per task, evaluation accuracy,
    review pass rate, audits and standing; project totals; evaluation tasks' pass rates.
    The project's managers and reviewers, global managers and admins."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_read_overview(actor, project, role)
        return quality_stats.project_quality(session=session, project_id=project.id, since=since)


@router.get(
    "/projects/{project_id}/quality/labelers/{user_id}",
    response_model=LabelerDashboard,
    operation_id="get_labeler_dashboard",
)
def get_labeler_dashboard(
    project_id: str,
    user_id: str,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=366, description="How far back (hourly up to 2)")] = 30,
) -> LabelerDashboard:
    """One labeler's work over time. Their own for labelers (evaluation results late and in
    groups); anyone's, exact, for managers and the project's reviewers."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_read_dashboard(actor, project, role, user_id)
        return quality_stats.labeler_dashboard(
            session=session,
            project_id=project.id,
            user_id=user_id,
            days=days,
            feedback=None if policy.oversees(actor, role) else Feedback.from_settings(ctx.settings),
        )
