"""Judge calibrations under /api/v1/calibrations: send a sample of judge verdicts to humans
as rubric_grading tasks, list and read them, and report the judge's agreement with the
humans (balanced F1, Cohen's κ, bias) per category and per judge version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.evaluation import calibration
from assay.evaluation import calibration_schemas as schemas
from assay.evaluation.policies import calibration as policy
from assay.labeling.policies import projects as project_policy

router = APIRouter(tags=["calibrations"], route_class=JsonRoute)


@router.post(
    "/calibrations",
    response_model=schemas.Calibration,
    status_code=201,
    operation_id="create_calibration",
)
def create_calibration(
    calibration_in: schemas.CalibrationCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
) -> JSONResponse:
    """One rubric_grading task per (conversation, response) of the sampled verdicts, in a
    new batch of the project; the judge's verdicts stay here, never in the tasks."""

    def create(session: Session) -> schemas.Calibration:
        policy.can_create(actor)
        project, role = load_project(session, calibration_in.project_id, actor)
        project_policy.require_manager(actor, project, role, "sending work to a project")
        found = calibration.create_calibration(
            session=session,
            project=project,
            calibration_in=calibration_in,
            actor=actor,
            settings=ctx.settings,
        )
        return schemas.Calibration.model_validate(found)

    return create_once(request, actor=actor, db=db, body=calibration_in, create=create)


@router.get(
    "/calibrations", response_model=schemas.CalibrationPage, operation_id="list_calibrations"
)
def list_calibrations(actor: CurrentActor, db: Db, page: Page) -> schemas.CalibrationPage:
    with db.read() as session:
        policy.can_list(actor)
        result = calibration.list_calibrations(
            session=session, mode=actor.mode, cursor=page.cursor, limit=page.limit
        )
        return schemas.CalibrationPage(
            items=[schemas.Calibration.model_validate(c) for c in result.items],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/calibrations/{calibration_id}",
    response_model=schemas.Calibration,
    operation_id="get_calibration",
)
def get_calibration(calibration_id: str, actor: CurrentActor, db: Db) -> schemas.Calibration:
    with db.read() as session:
        policy.can_read(actor, calibration_id)
        found = calibration.get_calibration(
            session=session, calibration_id=calibration_id, mode=actor.mode
        )
        return schemas.Calibration.model_validate(found)


@router.get(
    "/calibrations/{calibration_id}/report",
    response_model=schemas.CalibrationReport,
    operation_id="judge_agreement_report",
)
def judge_agreement_report(calibration_id: str, actor: CurrentActor, db: Db) -> Response:
    """Agreement over the tasks the humans have completed so far."""
    with db.read() as session:
        policy.can_read(actor, calibration_id)
        found = calibration.get_calibration(
            session=session, calibration_id=calibration_id, mode=actor.mode
        )
        report = calibration.calibration_report(session=session, calibration=found)
    # Serialized here, once: FastAPI would validate the built report again against the
    # response model (about as long as building it, for thousands of disagreements).
    return Response(report.model_dump_json(), media_type="application/json")
