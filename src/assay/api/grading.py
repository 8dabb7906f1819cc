"""/api/v1/grading: the grading service for RL loops (managers and admins)."""

from __future__ import annotations

from fastapi import APIRouter

from assay.api.deps import Ctx, CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.evaluation import grading_schemas as schemas
from assay.evaluation import grading_service, judge_records
from assay.evaluation.policies import judges as policy

router = APIRouter(tags=["grading"], route_class=JsonRoute)


@router.post("/grading", response_model=schemas.GradingResult, operation_id="grade")
def grade(
    request: schemas.GradingRequest, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.GradingResult:
    """Grade up to 1,000 (conversation, response, rubric) triples with a judge: per-criterion
    verdicts and the reward per triple. Identical questions are answered from the verdict
    cache, so a repeated batch makes no model call."""
    with db.read() as session:
        judge = judge_records.get_judge(session=session, judge_id=request.judge_id)
        policy.can_grade(actor, judge)
    # The judge calls are made outside the transaction: a slow provider holds no connection.
    return schemas.GradingResult.model_validate(
        grading_service.grade_triples(db=db, judge=judge, request=request, settings=ctx.settings)
    )
