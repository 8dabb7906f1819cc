"""/api/v1/eval-runs: model runs over evaluation sets, their progress and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core.auth import Actor
from assay.evaluation import eval_sets, models, providers, runs
from assay.evaluation import run_schemas as schemas
from assay.evaluation.policies import runs as policy

router = APIRouter(tags=["eval-runs"], route_class=JsonRoute)


def _load(session: Session, actor: Actor, run_id: str) -> tuple[models.EvalRun, models.EvalSet]:
    """The run and its set, if the actor may read them (404 otherwise)."""
    run = runs.get_run(session=session, run_id=run_id, mode=actor.mode)
    eval_set = session.get(models.EvalSet, run.set_id)
    owner = eval_set is not None and eval_sets.is_owner(
        session=session, eval_set=eval_set, user_id=actor.user_id
    )
    policy.can_read(actor, run, owner=owner)
    assert eval_set is not None
    return run, eval_set


@router.post(
    "/eval-runs", response_model=schemas.Run, status_code=201, operation_id="create_eval_run"
)
def create_eval_run(
    run_in: schemas.RunCreate, request: Request, actor: CurrentActor, db: Db
) -> JSONResponse:
    """Start a run (its job is enqueued). With an Idempotency-Key, a retried request starts
    it once."""

    def create(session: Session) -> schemas.Run:
        eval_set = eval_sets.get_eval_set(session=session, set_id=run_in.set_id, mode=actor.mode)
        provider = providers.get_provider(session=session, provider_id=run_in.provider_id)
        owner = eval_sets.is_owner(session=session, eval_set=eval_set, user_id=actor.user_id)
        policy.can_create(actor, eval_set, provider, owner=owner)
        run = runs.create_run(
            session=session, actor=actor, eval_set=eval_set, provider=provider, run_in=run_in
        )
        return schemas.Run.model_validate(run)

    return create_once(request, actor=actor, db=db, body=run_in, create=create)


@router.get("/eval-runs", response_model=schemas.RunPage, operation_id="list_eval_runs")
def list_eval_runs(
    actor: CurrentActor,
    db: Db,
    page: Page,
    set_id: Annotated[str | None, Query(max_length=24)] = None,
) -> schemas.RunPage:
    policy.can_list(actor)
    with db.read() as session:
        result = runs.list_runs(
            session=session, actor=actor, cursor=page.cursor, limit=page.limit, set_id=set_id
        )
        return schemas.RunPage(
            items=[schemas.Run.model_validate(r) for r in result.items],
            next_cursor=result.next_cursor,
        )


@router.get("/eval-runs/{run_id}", response_model=schemas.Run, operation_id="get_eval_run")
def get_eval_run(run_id: str, actor: CurrentActor, db: Db) -> schemas.Run:
    with db.read() as session:
        run, _set = _load(session, actor, run_id)
        return schemas.Run.model_validate(run)


@router.post(
    "/eval-runs/{run_id}/cancel", response_model=schemas.Run, operation_id="cancel_eval_run"
)
def cancel_eval_run(run_id: str, actor: CurrentActor, db: Db) -> schemas.Run:
    with db.write() as session:
        run, _set = _load(session, actor, run_id)
        policy.can_cancel(actor, run, owner=True)
        return schemas.Run.model_validate(runs.cancel_run(session=session, run=run))


@router.get(
    "/eval-runs/{run_id}/results",
    response_model=schemas.RunResultPage,
    operation_id="list_eval_run_results",
)
def list_eval_run_results(
    run_id: str,
    actor: CurrentActor,
    db: Db,
    page: Page,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    errors_only: bool = False,
) -> schemas.RunResultPage:
    """The per-item results table (response, scores, verdicts), one page, and the summary.
    Every page read is logged in the set's read log."""
    with db.write() as session:
        run, eval_set = _load(session, actor, run_id)
        result = runs.read_results(
            session=session,
            actor=actor,
            run=run,
            eval_set=eval_set,
            cursor=page.cursor,
            limit=page.limit,
            tag=tag,
            min_score=min_score,
            max_score=max_score,
            errors_only=errors_only,
        )
        return schemas.RunResultPage(
            items=[schemas.RunResult.model_validate(r) for r in result.items],
            next_cursor=result.next_cursor,
            summary=run.summary,
        )
