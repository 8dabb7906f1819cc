"""Scenario tests under /api/v1/datasets/{id}/scenario-tests: create (idempotent with an
Idempotency-Key), list, read with history, add / change / remove metrics, set the baseline
model, delete; run a model against every test (an evaluation, as a job) and read the table
of an evaluation against them; upload an external metric's results. /api/v1/scenario-metrics
lists the metric functions, /api/v1/scenario-metrics/external the sandbox's external ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.datasets import load_dataset
from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.curation import (
    ml_models,
    models,
    scenario_metrics,
    scenario_results,
    scenario_uploads,
    scenarios,
)
from assay.curation import scenario_schemas as schemas
from assay.curation.policies import scenarios as policy

router = APIRouter(tags=["scenario tests"], route_class=JsonRoute)
TESTS = "/datasets/{dataset_id}/scenario-tests"


def _model(session: Session, model_id: str, actor: Actor, field: str) -> models.Model:
    try:
        return ml_models.get_model(session=session, model_id=model_id, mode=actor.mode)
    except NotFound as error:
        raise NotFound(error.message, field=field) from None


def test_view(session: Session, test: models.ScenarioTest) -> schemas.ScenarioTest:
    metrics = scenarios.metrics_of(session=session, test_ids=[test.id])[test.id]
    return schemas.ScenarioTest.model_validate(test).model_copy(
        update={"metrics": [schemas.ScenarioMetric.model_validate(m) for m in metrics]}
    )


@router.get(
    "/scenario-metrics",
    response_model=schemas.ScenarioMetricFunctionList,
    operation_id="list_scenario_metrics",
)
def list_metric_functions(actor: CurrentActor) -> schemas.ScenarioMetricFunctionList:
    """The metric functions scenario tests can use: the built-ins and the plugins'."""
    policy.can_list_functions(actor)
    return schemas.ScenarioMetricFunctionList(
        items=[
            schemas.ScenarioMetricFunction(
                name=f.name,
                arguments=f.arguments,
                higher_is_better=f.higher_is_better,
                description=f.description,
            )
            for f in scenario_metrics.list_metrics()
        ]
    )


@router.post(
    TESTS, response_model=schemas.ScenarioTest, status_code=201, operation_id="create_scenario_test"
)
def create_test(
    dataset_id: str,
    test_in: schemas.ScenarioTestCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
) -> JSONResponse:
    """A slice and the metrics a model must reach on it. With an Idempotency-Key, a retry
    returns the same test."""

    def create(session: Session) -> schemas.ScenarioTest:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        baseline = (
            _model(session, test_in.baseline_model_id, actor, "baseline_model_id")
            if test_in.baseline_model_id
            else None
        )
        found = scenarios.create_test(
            session=session,
            dataset=dataset,
            test_in=test_in,
            baseline=baseline,
            created_by=actor.user_id,
        )
        return test_view(session, found)

    return create_once(request, actor=actor, db=db, body=test_in, create=create)


@router.get(TESTS, response_model=schemas.ScenarioTestPage, operation_id="list_scenario_tests")
def list_tests(
    dataset_id: str, actor: CurrentActor, db: Db, page: Page
) -> schemas.ScenarioTestPage:
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        result = scenarios.list_tests(
            session=session, dataset=dataset, cursor=page.cursor, limit=page.limit
        )
        return schemas.ScenarioTestPage(
            items=[test_view(session, t) for t in result.items], next_cursor=result.next_cursor
        )


@router.post(
    f"{TESTS}/run",
    response_model=schemas.ScenarioRun,
    status_code=202,
    operation_id="run_scenario_tests",
)
def run_tests(
    dataset_id: str,
    run_in: schemas.ScenarioRunCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
) -> JSONResponse:
    """Evaluate a model on the whole dataset (a job; follow it at /jobs/{job_id}) and so on
    every scenario test; read the table at runs/{evaluation_id} when its status is done."""

    def create(session: Session) -> schemas.ScenarioRun:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        model = _model(session, run_in.model_id, actor, "model_id")
        evaluation = scenarios.start_run(session=session, dataset=dataset, model=model, actor=actor)
        return scenario_results.run_table(session=session, dataset=dataset, evaluation=evaluation)

    return create_once(request, actor=actor, db=db, body=run_in, create=create, status_code=202)


@router.get(
    f"{TESTS}/runs/{{evaluation_id}}",
    response_model=schemas.ScenarioRun,
    operation_id="get_scenario_run",
)
def get_run(
    dataset_id: str, evaluation_id: str, actor: CurrentActor, db: Db
) -> schemas.ScenarioRun:
    """One evaluation against every scenario test of the dataset: each metric's value,
    threshold, baseline and outcome, each test passed, failed or not evaluated."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        evaluation = scenarios.get_run(
            session=session, dataset=dataset, evaluation_id=evaluation_id
        )
        return scenario_results.run_table(session=session, dataset=dataset, evaluation=evaluation)


@router.post(
    f"{TESTS}/runs/{{evaluation_id}}",
    response_model=schemas.ScenarioRun,
    operation_id="rerun_scenario_tests",
)
def rerun_tests(
    dataset_id: str, evaluation_id: str, actor: CurrentActor, ctx: Ctx
) -> schemas.ScenarioRun:
    """Evaluate the scenario tests again from a finished evaluation's stored matches (tests
    or metrics added since, thresholds changed): nothing is matched again."""
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        scenarios.get_run(session=session, dataset=dataset, evaluation_id=evaluation_id)
    scenario_results.record_evaluation(
        db=ctx.db, evaluation_id=evaluation_id, settings=ctx.settings
    )
    return get_run(dataset_id, evaluation_id, actor, ctx.db)


@router.get(
    f"{TESTS}/{{scenario_test_id}}",
    response_model=schemas.ScenarioTestDetail,
    operation_id="get_scenario_test",
)
def get_test(
    dataset_id: str,
    scenario_test_id: str,
    actor: CurrentActor,
    db: Db,
    history: Annotated[
        int, Query(ge=0, le=10_000, description="History rows, newest first.")
    ] = 100,
) -> schemas.ScenarioTestDetail:
    """The test, its metrics and its history (a row per metric and evaluation)."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = scenarios.get_test(session=session, dataset=dataset, test_id=scenario_test_id)
        rows = scenarios.history(session=session, test=found, limit=history)
        return schemas.ScenarioTestDetail(
            **test_view(session, found).model_dump(),
            history=[schemas.ScenarioResult.model_validate(r) for r in rows],
        )


@router.delete(
    f"{TESTS}/{{scenario_test_id}}", status_code=204, operation_id="delete_scenario_test"
)
def delete_test(dataset_id: str, scenario_test_id: str, actor: CurrentActor, db: Db) -> Response:
    """The test goes with its metrics and history; the slice stays."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = scenarios.get_test(session=session, dataset=dataset, test_id=scenario_test_id)
        scenarios.delete_test(session=session, test=found)
    return Response(status_code=204)


@router.post(
    f"{TESTS}/{{scenario_test_id}}/metrics",
    response_model=schemas.ScenarioMetric,
    status_code=201,
    operation_id="add_scenario_metric",
)
def add_metric(
    dataset_id: str,
    scenario_test_id: str,
    metric_in: schemas.ScenarioMetricCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
) -> JSONResponse:
    def create(session: Session) -> schemas.ScenarioMetric:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = scenarios.get_test(session=session, dataset=dataset, test_id=scenario_test_id)
        metric = scenarios.add_metric(
            session=session, dataset=dataset, test=found, metric_in=metric_in
        )
        return schemas.ScenarioMetric.model_validate(metric)

    return create_once(request, actor=actor, db=db, body=metric_in, create=create)


@router.patch(
    f"{TESTS}/{{scenario_test_id}}/metrics/{{metric_id}}",
    response_model=schemas.ScenarioMetric,
    operation_id="update_scenario_metric",
)
def update_metric(
    dataset_id: str,
    scenario_test_id: str,
    metric_id: str,
    metric_update: schemas.ScenarioMetricUpdate,
    actor: CurrentActor,
    db: Db,
) -> schemas.ScenarioMetric:
    """Change a metric's threshold (null removes it), comparison or tolerance; the history
    keeps what applied then."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = scenarios.get_test(session=session, dataset=dataset, test_id=scenario_test_id)
        metric = scenarios.get_metric_of(session=session, test=found, metric_id=metric_id)
        changed = scenarios.update_metric(
            session=session, metric=metric, metric_update=metric_update
        )
        return schemas.ScenarioMetric.model_validate(changed)


@router.delete(
    f"{TESTS}/{{scenario_test_id}}/metrics/{{metric_id}}",
    status_code=204,
    operation_id="delete_scenario_metric",
)
def delete_metric(
    dataset_id: str, scenario_test_id: str, metric_id: str, actor: CurrentActor, db: Db
) -> Response:
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = scenarios.get_test(session=session, dataset=dataset, test_id=scenario_test_id)
        metric = scenarios.get_metric_of(session=session, test=found, metric_id=metric_id)
        scenarios.delete_metric(session=session, metric=metric)
    return Response(status_code=204)


@router.put(
    f"{TESTS}/{{scenario_test_id}}/baseline",
    response_model=schemas.ScenarioTest,
    operation_id="set_scenario_baseline",
)
def set_baseline(
    dataset_id: str,
    scenario_test_id: str,
    baseline_in: schemas.ScenarioBaseline,
    actor: CurrentActor,
    db: Db,
) -> schemas.ScenarioTest:
    """The model each metric must not fall below on the slice (less its tolerance); it
    must have a finished evaluation on the dataset. null removes the baseline."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = scenarios.get_test(session=session, dataset=dataset, test_id=scenario_test_id)
        model = (
            _model(session, baseline_in.model_id, actor, "model_id")
            if baseline_in.model_id
            else None
        )
        scenarios.set_baseline(session=session, dataset=dataset, test=found, model=model)
        return test_view(session, found)


@router.get(
    "/scenario-metrics/external",
    response_model=schemas.ExternalFunctionList,
    operation_id="list_external_scenario_metrics",
)
def list_external_functions(actor: CurrentActor, db: Db) -> schemas.ExternalFunctionList:
    """The sandbox's external metric functions (values uploaded, not computed)."""
    policy.can_list_functions(actor)
    with db.read() as session:
        found = scenario_uploads.list_functions(session=session, mode=actor.mode)
        return schemas.ExternalFunctionList(
            items=[schemas.ExternalFunction.model_validate(f) for f in found]
        )


@router.post(
    "/scenario-metrics/external",
    response_model=schemas.ExternalFunction,
    status_code=201,
    operation_id="create_external_scenario_metric",
)
def create_external_function(
    function_in: schemas.ExternalFunctionCreate, actor: CurrentActor, db: Db
) -> schemas.ExternalFunction:
    """A metric function whose values are uploaded; a metric names it by
    `external_function_id`."""
    policy.can_create_function(actor)
    with db.write() as session:
        found = scenario_uploads.create_function(
            session=session,
            mode=actor.mode,
            name=function_in.name,
            level=function_in.level,
            created_by=actor.user_id,
        )
        return schemas.ExternalFunction.model_validate(found)


@router.post(
    f"{TESTS}/{{scenario_test_id}}/metrics/{{metric_id}}/results",
    response_model=schemas.ScenarioResult,
    status_code=201,
    operation_id="upload_scenario_result",
)
def upload_result(
    dataset_id: str,
    scenario_test_id: str,
    metric_id: str,
    upload_in: schemas.ScenarioResultUpload,
    actor: CurrentActor,
    ctx: Ctx,
) -> schemas.ScenarioResult:
    """An external metric's values for a model, recorded in the test's history (the
    weighted mean, judged against the threshold and the baseline's latest upload)."""
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        test = scenarios.get_test(session=session, dataset=dataset, test_id=scenario_test_id)
        metric = scenarios.get_metric_of(session=session, test=test, metric_id=metric_id)
        model = _model(session, upload_in.model_id, actor, "model_id")
        result = scenario_uploads.upload_result(
            session=session,
            dataset=dataset,
            test=test,
            metric=metric,
            model=model,
            upload=scenario_uploads.UploadIn(
                scores=upload_in.scores,
                weights=upload_in.weights or dict.fromkeys(upload_in.scores, 1.0),
            ),
            settings=ctx.settings,
        )
        return schemas.ScenarioResult.model_validate(result)
