"""/api/v1/judges: judges as records (managers and admins) — create, list, read, new prompt
versions, learned weights, probe reports (a job) and verifier drift."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.evaluation import judge_records, probe_reports
from assay.evaluation import judge_schemas as schemas
from assay.evaluation.policies import judges as policy

router = APIRouter(tags=["judges"], route_class=JsonRoute)


@router.post("/judges", response_model=schemas.Judge, status_code=201, operation_id="create_judge")
def create_judge(
    judge_in: schemas.JudgeCreate, request: Request, actor: CurrentActor, db: Db
) -> JSONResponse:
    """Add a judge. With an Idempotency-Key, a retried request adds it once."""
    policy.can_create(actor)

    def create(session: Session) -> schemas.Judge:
        judge = judge_records.create_judge(session=session, judge_in=judge_in, actor=actor)
        return schemas.Judge.model_validate(
            judge_records.describe_judge(session=session, judge=judge)
        )

    return create_once(request, actor=actor, db=db, body=judge_in, create=create)


@router.get("/judges", response_model=schemas.JudgePage, operation_id="list_judges")
def list_judges(actor: CurrentActor, db: Db, page: Page) -> schemas.JudgePage:
    policy.can_list(actor)
    with db.read() as session:
        result = judge_records.list_judges(
            session=session, mode=actor.mode, cursor=page.cursor, limit=page.limit
        )
        return schemas.JudgePage(
            items=[
                schemas.Judge.model_validate(judge_records.describe_judge(session=session, judge=j))
                for j in result.items
            ],
            next_cursor=result.next_cursor,
        )


@router.get("/judges/{judge_id}", response_model=schemas.Judge, operation_id="get_judge")
def get_judge(judge_id: str, actor: CurrentActor, db: Db) -> schemas.Judge:
    """The judge with its current version, its flag and its latest probe report."""
    with db.read() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_read(actor, judge)
        return schemas.Judge.model_validate(
            judge_records.describe_judge(session=session, judge=judge)
        )


@router.post(
    "/judges/{judge_id}/prompts",
    response_model=schemas.JudgePrompt,
    status_code=201,
    operation_id="add_judge_prompt",
)
def add_judge_prompt(
    judge_id: str, prompt_in: schemas.JudgePromptCreate, actor: CurrentActor, db: Db
) -> schemas.JudgePrompt:
    """A new prompt version (the same texts as the current one return the current one)."""
    with db.write() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_update(actor, judge)
        return schemas.JudgePrompt.model_validate(
            judge_records.add_prompt_version(session=session, judge=judge, prompt_in=prompt_in)
        )


@router.get(
    "/judges/{judge_id}/prompts",
    response_model=list[schemas.JudgePrompt],
    operation_id="list_judge_prompts",
)
def list_judge_prompts(judge_id: str, actor: CurrentActor, db: Db) -> list[schemas.JudgePrompt]:
    with db.read() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_read(actor, judge)
        return [
            schemas.JudgePrompt.model_validate(p)
            for p in judge_records.list_prompt_versions(session=session, judge=judge)
        ]


@router.post(
    "/judges/{judge_id}/weights", response_model=schemas.Weights, operation_id="fit_judge_weights"
)
def fit_judge_weights(
    judge_id: str, fit_in: schemas.WeightsFit, actor: CurrentActor, db: Db
) -> schemas.Weights:
    """Fit criterion weights to human preference pairs; the grading service then returns a
    learned reward next to the fixed-points one."""
    with db.write() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_update(actor, judge)
        fitted = judge_records.fit_judge_weights(session=session, judge=judge, fit_in=fit_in)
        return schemas.Weights.model_validate(fitted.weights)


@router.post(
    "/judges/{judge_id}/probes",
    response_model=schemas.ProbeReport,
    status_code=202,
    operation_id="run_judge_probes",
)
def run_judge_probes(
    judge_id: str, run_in: schemas.ProbeRunCreate, actor: CurrentActor, db: Db
) -> schemas.ProbeReport:
    """Run the reward-hacking probe suite against the judge (a job); the report follows."""
    with db.write() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_probe(actor, judge)
        report = probe_reports.request_probe_report(
            session=session, judge=judge, run_in=run_in, actor=actor
        )
        return schemas.ProbeReport.model_validate(probe_reports.describe_report(report))


@router.get(
    "/judges/{judge_id}/probes",
    response_model=schemas.ProbeReportPage,
    operation_id="list_judge_probe_reports",
)
def list_judge_probe_reports(
    judge_id: str, actor: CurrentActor, db: Db, page: Page
) -> schemas.ProbeReportPage:
    with db.read() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_read(actor, judge)
        result = probe_reports.list_probe_reports(
            session=session, judge=judge, cursor=page.cursor, limit=page.limit
        )
        return schemas.ProbeReportPage(
            items=[
                schemas.ProbeReport.model_validate(probe_reports.describe_report(r))
                for r in result.items
            ],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/judges/{judge_id}/probes/{report_id}",
    response_model=schemas.ProbeReport,
    operation_id="get_judge_probe_report",
)
def get_judge_probe_report(
    judge_id: str, report_id: str, actor: CurrentActor, db: Db
) -> schemas.ProbeReport:
    with db.read() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_read(actor, judge)
        report = probe_reports.get_probe_report(session=session, judge=judge, report_id=report_id)
        return schemas.ProbeReport.model_validate(probe_reports.describe_report(report))


@router.post(
    "/judges/{judge_id}/drift", response_model=schemas.DriftReport, operation_id="check_judge_drift"
)
def check_judge_drift(
    judge_id: str, drift_in: schemas.DriftCheck, actor: CurrentActor, db: Db
) -> schemas.DriftReport:
    """Verifier drift over a policy's checkpoints: where the judge's rubric score rises while
    an independent check (a pairwise judge, human spot checks) falls."""
    with db.read() as session:
        judge = judge_records.get_judge(session=session, judge_id=judge_id)
        policy.can_read(actor, judge)
    return schemas.DriftReport.model_validate(probe_reports.check_drift(drift_in=drift_in))
