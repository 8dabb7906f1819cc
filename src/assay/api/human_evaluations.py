"""Human evaluations under /api/v1/human-evaluations: send model responses to raters chosen
by profile for rubric grading or pairwise comparison, and read their verdicts back."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.evaluation import human_evaluation_schemas as schemas
from assay.evaluation import human_evaluations
from assay.evaluation.policies import human_evaluations as policy
from assay.labeling.policies import projects as project_policy

router = APIRouter(tags=["human_evaluations"], route_class=JsonRoute)


@router.post(
    "/human-evaluations",
    response_model=schemas.HumanEvaluation,
    status_code=201,
    operation_id="create_human_evaluation",
)
def create_human_evaluation(
    evaluation_in: schemas.HumanEvaluationCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
) -> JSONResponse:
    """A batch of one task per item, served only to raters whose profile matches."""

    def create(session: Session) -> schemas.HumanEvaluation:
        policy.can_create(actor)
        project, role = load_project(session, evaluation_in.project_id, actor)
        project_policy.require_manager(actor, project, role, "sending work to a project")
        found = human_evaluations.create_human_evaluation(
            session=session,
            project=project,
            evaluation_in=evaluation_in,
            actor=actor,
            settings=ctx.settings,
        )
        return schemas.HumanEvaluation.model_validate(found)

    return create_once(request, actor=actor, db=db, body=evaluation_in, create=create)


@router.get(
    "/human-evaluations",
    response_model=schemas.HumanEvaluationPage,
    operation_id="list_human_evaluations",
)
def list_human_evaluations(actor: CurrentActor, db: Db, page: Page) -> schemas.HumanEvaluationPage:
    with db.read() as session:
        policy.can_list(actor)
        result = human_evaluations.list_human_evaluations(
            session=session, mode=actor.mode, cursor=page.cursor, limit=page.limit
        )
        return schemas.HumanEvaluationPage(
            items=[schemas.HumanEvaluation.model_validate(e) for e in result.items],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/human-evaluations/{human_evaluation_id}",
    response_model=schemas.HumanEvaluation,
    operation_id="get_human_evaluation",
)
def get_human_evaluation(
    human_evaluation_id: str, actor: CurrentActor, db: Db
) -> schemas.HumanEvaluation:
    with db.read() as session:
        policy.can_read(actor, human_evaluation_id)
        found = human_evaluations.get_human_evaluation(
            session=session, human_evaluation_id=human_evaluation_id, mode=actor.mode
        )
        return schemas.HumanEvaluation.model_validate(found)


@router.get(
    "/human-evaluations/{human_evaluation_id}/results",
    response_model=schemas.HumanEvaluationResults,
    operation_id="human_evaluation_results",
)
def human_evaluation_results(
    human_evaluation_id: str, actor: CurrentActor, db: Db
) -> schemas.HumanEvaluationResults:
    """Each item's verdicts and rubric score, or the raters' preference, once completed."""
    with db.read() as session:
        policy.can_read(actor, human_evaluation_id)
        found = human_evaluations.get_human_evaluation(
            session=session, human_evaluation_id=human_evaluation_id, mode=actor.mode
        )
        return human_evaluations.human_evaluation_results(session=session, evaluation=found)
