"""Nucleus's Validate (`client.validate`, docs/nucleus-wire.md §3.11) on the curation pillar's
scenario tests (`curation/scenarios.py`).

A Nucleus scenario test (`ut_` + its id) is a scenario test of the dataset its slice belongs
to; Nucleus's tests are the account's, so names are looked up across the key's sandbox (a
name taken in two datasets is a 409). Evaluation functions (`ef_` + a name) are Assay's
metric functions: Nucleus's public box functions map onto them (`bbox_map` → `map`,
`bbox_recall` → `recall`, `bbox_precision` → `precision`, `bbox_iou` → `iou`), and every
function of Assay's (plugins' too) is listed under its own name. Boxes are always matched
within their label (COCO): `enforce_label_match` is accepted and has no effect; filters are
not served (400). A threshold compares as its metric says (`threshold_comparison`).
A model's evaluation on the tests is an evaluation of the model on each dataset the tests
are on (`testEvaluation` jobs); their results are the tests' history
(`eval_history/details`), each row an evaluation of one metric, item by item on request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import MediaUrls, body_list, job_json, not_found
from assay.compat.nucleus_items import _secret
from assay.compat.nucleus_models import load_model
from assay.compat.nucleus_slices import SLICE, _load, _members
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core import jobs
from assay.core.auth import Actor
from assay.core.errors import Conflict, Invalid
from assay.curation import evaluations as curation_evaluations
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

router = APIRouter(route_class=ScaleRoute)
EVAL_FUNCTION, SCENARIO_TEST = "ef_", "ut_"
# Nucleus's public functions: (Assay's function, the client's arguments carried over, those
# accepted without effect). Filters must be null; anything else is a 400 naming it.
NUCLEUS_FUNCTIONS: dict[str, tuple[str, set[str], set[str]]] = {
    "bbox_map": ("map", {"iou_threshold"}, set()),
    "bbox_recall": ("recall", {"iou_threshold", "confidence_threshold"}, {"enforce_label_match"}),
    "bbox_precision": (
        "precision",
        {"iou_threshold", "confidence_threshold"},
        {"enforce_label_match"},
    ),
    # Mean IoU at the evaluation's writeback threshold: the client's iou_threshold (0.0 by
    # default) has no effect; a confidence floor is not served.
    "bbox_iou": ("iou", set(), {"enforce_label_match", "iou_threshold"}),
}
NUCLEUS_NAME = {native: name for name, (native, _, _) in NUCLEUS_FUNCTIONS.items()}
FILTERS = ("annotation_filters", "prediction_filters")
COMPARISONS = {
    ">=": "greater_than_equal_to",
    ">": "greater_than",
    "<=": "less_than_equal_to",
    "<": "less_than",
}


def _function_id(metric: models.ScenarioMetric) -> str:
    if metric.external_function_id:
        return EVAL_FUNCTION + metric.external_function_id
    return EVAL_FUNCTION + NUCLEUS_NAME.get(metric.function, metric.function)


def _entry(name: str) -> dict[str, Any]:
    return {
        "id": EVAL_FUNCTION + name,
        "name": name,
        "is_public": True,
        "user_id": "assay",
        "is_external_function": False,
        "serialized_fn": None,
        "raw_source": None,
    }


def _external_entry(function: models.ExternalFunction) -> dict[str, Any]:
    return {
        **_entry(function.name),
        "id": EVAL_FUNCTION + function.id,
        "is_public": False,
        "user_id": function.created_by or "assay",
        "is_external_function": True,
    }


def _metric_of(
    session: Any, actor: Actor, function_id: Any, arguments: Any, field: str
) -> schemas.ScenarioMetricCreate:
    """An evaluation function's metric: an external function of the sandbox, else
    `_metric_in`'s."""
    if isinstance(function_id, str) and function_id.startswith(EVAL_FUNCTION):
        found = session.get(models.ExternalFunction, function_id[len(EVAL_FUNCTION) :])
        if found is not None and found.mode == actor.mode:
            if arguments:
                raise Invalid(
                    "an external function takes no arguments", field=f"{field}.eval_func_arguments"
                )
            return schemas.ScenarioMetricCreate(function=found.name, external_function_id=found.id)
    return _metric_in(function_id, arguments, field)


def _metric_in(function_id: Any, arguments: Any, field: str) -> schemas.ScenarioMetricCreate:
    """A Nucleus evaluation function (and its arguments) as one of Assay's metrics."""
    if not isinstance(function_id, str) or not function_id.startswith(EVAL_FUNCTION):
        raise Invalid("an evaluation function's id starts with ef_", field=f"{field}.id")
    if arguments is not None and not isinstance(arguments, dict):
        raise Invalid("eval_func_arguments must be an object", field=f"{field}.eval_func_arguments")
    name, given = function_id[len(EVAL_FUNCTION) :], dict(arguments or {})
    if name not in NUCLEUS_FUNCTIONS:
        scenario_metrics.get_metric(name, f"{field}.id")
        return schemas.ScenarioMetricCreate(function=name, arguments=given)
    native, kept, ignored = NUCLEUS_FUNCTIONS[name]
    carried = {}
    for key, value in given.items():
        where = f"{field}.eval_func_arguments.{key}"
        if key in FILTERS:
            if value:
                raise Invalid(
                    f"{key} are not served; use a slice of the items instead", field=where
                )
        elif key in kept:
            carried[key] = value
        elif key == "confidence_threshold" and not value:
            continue
        elif key not in ignored:
            raise Invalid(f"{name} takes no argument {key!r} here", field=where)
    return schemas.ScenarioMetricCreate(function=native, arguments=carried)


def _load_test(
    session: Any, test_id: str, actor: Actor, *, write: bool = False
) -> tuple[models.ScenarioTest, models.Dataset]:
    test, dataset = scenarios.locate_test(
        session=session, test_id=fmt.assay_id(SCENARIO_TEST, test_id), mode=actor.mode
    )
    (policy.can_write if write else policy.can_read)(actor, dataset)
    return test, dataset


def _named(session: Any, name: Any, actor: Actor, field: str) -> models.ScenarioTest:
    if not isinstance(name, str) or not name:
        raise Invalid(f"{field} is required", field=field)
    found = scenarios.tests_of_mode(session=session, mode=actor.mode, name=name)
    if not found:
        raise not_found("scenario test named", name, field)
    if len(found) > 1:
        raise Conflict(
            f"{len(found)} scenario tests are named {name!r} (in different datasets); "
            "name them apart",
            field=field,
        )
    _load_test(session, found[0].id, actor, write=True)
    return found[0]


def _test_json(test: models.ScenarioTest) -> dict[str, Any]:
    return {
        "id": fmt.nucleus_id(SCENARIO_TEST, test.id),
        "name": test.name,
        "slice_id": fmt.nucleus_id(SLICE, test.slice_id),
        "dataset_id": fmt.nucleus_id(fmt.DATASET, test.dataset_id),
        "baseline_model_id": (
            fmt.nucleus_id(fmt.MODEL, test.baseline_model_id) if test.baseline_model_id else None
        ),
    }


def _metric_json(metric: models.ScenarioMetric) -> dict[str, Any]:
    return {
        "scenario_test_id": fmt.nucleus_id(SCENARIO_TEST, metric.scenario_test_id),
        "eval_function_id": _function_id(metric),
        "threshold": metric.threshold,
        "eval_func_arguments": metric.arguments or {},
        "threshold_comparison": COMPARISONS[metric.comparison],
    }


def _passes(result: models.ScenarioResult) -> bool:
    """Nucleus's `pass`: nothing failed (no threshold to meet, or an undefined value, pass)."""
    return result.passed is not False and not (result.error and result.value is None)


# --- evaluation functions ---------------------------------------------------------------


@router.get("/validate/eval_fn")
def eval_functions(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    policy.can_list_functions(actor)
    names = [*NUCLEUS_FUNCTIONS, *(f.name for f in scenario_metrics.list_metrics())]
    with ctx.db.read() as session:
        external = scenario_uploads.list_functions(session=session, mode=actor.mode)
        return {
            "eval_functions": [
                *(_entry(name) for name in names),
                *(_external_entry(f) for f in external),
            ]
        }


@router.post("/validate/eval_fn")
def create_eval_function(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """An external function (values uploaded); functions of serialized code are not served."""
    policy.can_create_function(actor)
    if body.get("is_external_function") is not True or body.get("serialized_fn"):
        raise Invalid(
            "only external functions (is_external_function: true) are served",
            field="is_external_function",
        )
    name, level = body.get("name"), body.get("level") or "item"
    if not isinstance(name, str) or not isinstance(level, str):
        raise Invalid("name and level are strings", field="name")
    with ctx.db.write() as session:
        found = scenario_uploads.create_function(
            session=session, mode=actor.mode, name=name, level=level, created_by=actor.user_id
        )
        return {"eval_fn": _external_entry(found)}


# --- scenario tests ---------------------------------------------------------------------


@router.post("/validate/scenario_test")
def create_scenario_test(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise Invalid("name: 1 to 200 characters", field="name")
    functions = body_list(body, "evaluation_functions", required=True)
    if not functions:
        raise Invalid("a scenario test needs an evaluation function", field="evaluation_functions")
    with ctx.db.write() as session:
        metrics = []
        for i, entry in enumerate(functions):
            where = f"evaluation_functions[{i}]"
            if not isinstance(entry, dict):
                raise Invalid("an evaluation function is an object", field=where)
            metrics.append(
                _metric_of(session, actor, entry.get("id"), entry.get("eval_func_arguments"), where)
            )
        found, dataset = _load(session, str(body.get("slice_id") or ""), actor, write=True)
        test = scenarios.create_test(
            session=session,
            dataset=dataset,
            test_in=schemas.ScenarioTestCreate(name=name, slice_id=found.id, metrics=metrics),
            baseline=None,
            created_by=actor.user_id,
        )
        return {"scenario_test_id": fmt.nucleus_id(SCENARIO_TEST, test.id)}


@router.get("/validate/scenario_test/details")
def scenario_tests(actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    policy.can_list_functions(actor)
    with ctx.db.read() as session:
        return [_test_json(t) for t in scenarios.tests_of_mode(session=session, mode=actor.mode)]


@router.get("/validate/scenario_test/{test_id}")
def get_scenario_test(test_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        return {"unit_test": _test_json(_load_test(session, test_id, actor)[0])}


@router.get("/validate/scenario_test/{test_id}/info")
def scenario_test_info(test_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        return _test_json(_load_test(session, test_id, actor)[0])


@router.delete("/validate/scenario_test/{test_id}")
def delete_scenario_test(
    test_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    with ctx.db.write() as session:
        test, _ = _load_test(session, test_id, actor, write=True)
        scenarios.delete_test(session=session, test=test)
        return {"success": True}


@router.get("/validate/scenario_test/{test_id}/items")
def scenario_test_items(
    test_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        test, dataset = _load_test(session, test_id, actor)
        found = session.get(models.Slice, test.slice_id)
        return {
            "dataset_items": [
                fmt.item_out(item, urls(item)) for item in _members(session, found, dataset)
            ]
        }


@router.post("/validate/scenario_test/{test_id}/set_baseline_model/{model_id}")
def set_baseline_model(
    test_id: str,
    model_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    with ctx.db.write() as session:
        test, dataset = _load_test(session, test_id, actor, write=True)
        model = load_model(session, model_id, actor)
        scenarios.set_baseline(session=session, dataset=dataset, test=test, model=model)
        return {"baseline_model_id": fmt.nucleus_id(fmt.MODEL, model.id)}


# --- metrics ----------------------------------------------------------------------------


@router.post("/validate/scenario_test_eval_function")
def add_eval_function(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.write() as session:
        metric_in = _metric_of(session, actor, body.get("eval_function_id"), {}, "eval_function_id")
        test = _named(session, body.get("scenario_test_name"), actor, "scenario_test_name")
        dataset = session.get(models.Dataset, test.dataset_id)
        metric = scenarios.add_metric(
            session=session, dataset=dataset, test=test, metric_in=metric_in
        )
        return _metric_json(metric)


@router.get("/validate/scenario_test/{test_id}/metrics")
def eval_functions_of(test_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        test, _ = _load_test(session, test_id, actor)
        metrics = scenarios.metrics_of(session=session, test_ids=[test.id])[test.id]
        return {"scenario_test_metrics": [_metric_json(m) for m in metrics]}


@router.post("/validate/metric/set_threshold/{test_id}/{function_id}")
def set_threshold(
    test_id: str, function_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """Every metric of the test with that function gets the threshold (null removes it)."""
    threshold = body.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float)
    ):
        raise Invalid("threshold must be a number or null", field="threshold")
    with ctx.db.write() as session:
        test, _ = _load_test(session, test_id, actor, write=True)
        chosen = [
            m
            for m in scenarios.metrics_of(session=session, test_ids=[test.id])[test.id]
            if _function_id(m) == function_id
        ]
        if not chosen:
            raise not_found("evaluation function of this scenario test", function_id, "function_id")
        for metric in chosen:
            scenarios.update_metric(
                session=session,
                metric=metric,
                metric_update=schemas.ScenarioMetricUpdate(threshold=threshold),
            )
        return {"threshold": threshold}


# --- evaluations ------------------------------------------------------------------------


@router.post("/validate/{model_id}/evaluate")
def evaluate_model(
    model_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """An evaluation of the model on each dataset the named tests (all, when none are
    named) are on; the answer is the first dataset's job, the others are in `jobs/`."""
    names = body_list(body or {}, "test_names")
    with ctx.db.write() as session:
        model = load_model(session, model_id, actor)
        if names:
            tests = [_named(session, n, actor, f"test_names[{i}]") for i, n in enumerate(names)]
        else:
            tests = scenarios.tests_of_mode(session=session, mode=actor.mode)
        if not tests:
            raise Invalid(
                "there are no scenario tests to evaluate the model on", field="test_names"
            )
        one_per_dataset = {t.dataset_id: t.id for t in tests}
        started = []
        for test_id in one_per_dataset.values():
            _, dataset = _load_test(session, test_id, actor, write=True)
            started.append(
                scenarios.start_run(session=session, dataset=dataset, model=model, actor=actor)
            )
        session.flush()
        return job_json(jobs.get_job(session=session, job_id=started[0].job_id))


@router.get("/validate/scenario_test/{test_id}/eval_history/details")
def eval_history(test_id: str, actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.db.read() as session:
        test, _ = _load_test(session, test_id, actor)
        metrics = {
            m.id: m for m in scenarios.metrics_of(session=session, test_ids=[test.id])[test.id]
        }
        return [
            {
                "id": row.id,
                "scenario_test_id": fmt.nucleus_id(SCENARIO_TEST, test.id),
                "eval_function_id": _function_id(metrics[row.metric_id]),
                "model_id": fmt.nucleus_id(fmt.MODEL, row.model_id),
                "status": "errored" if row.error and row.value is None else "completed",
                "result": row.value,
                "pass": _passes(row),
            }
            for row in scenarios.history(session=session, test=test, limit=10_000)
        ]


@router.get("/validate/eval/{evaluation_id}/info")
def item_evaluations(evaluation_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        result, dataset = scenarios.locate_result(
            session=session, result_id=evaluation_id, mode=actor.mode
        )
        policy.can_read(actor, dataset)
        metric = session.get(models.ScenarioMetric, result.metric_id)
        return {
            "scenario_test_item_evaluations": [
                {
                    "evaluation_id": result.id,
                    "scenario_test_id": fmt.nucleus_id(SCENARIO_TEST, result.scenario_test_id),
                    "eval_function_id": _function_id(metric),
                    "dataset_item_id": fmt.nucleus_id(fmt.ITEM, item_id),
                    "result": value,
                    "pass": passed is not False,
                }
                for item_id, value, passed in scenario_results.item_results(
                    session=session, result=result
                )
            ]
        }


@router.post("/validate/{model_id}/metrics")
def model_metrics(
    model_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> list[dict[str, Any]]:
    """The model's metrics computed anew: an evaluation of it on each dataset of the sandbox
    it has predictions on (each records the dataset's scenario tests); their jobs."""
    with ctx.db.write() as session:
        model = load_model(session, model_id, actor)
        datasets = [
            d
            for d in (
                session.get(models.Dataset, i)
                for i in ml_models.datasets_of(session=session, model=model)
            )
            if d is not None and d.mode == actor.mode and not d.deleting
        ]
        if not datasets:
            raise Invalid("the model has no predictions on any dataset", field="model_id")
        started = []
        for dataset in datasets:
            policy.can_write(actor, dataset)
            started.append(
                curation_evaluations.start_evaluation(
                    session=session, dataset=dataset, model=model, actor=actor
                )
            )
        session.flush()
        return [job_json(jobs.get_job(session=session, job_id=e.job_id)) for e in started]


@router.post("/validate/scenario_test/upload_results")
def upload_results(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """An external function's results for a model, recorded in the test's history."""
    scores, weights = body.get("result_per_ref_id"), body.get("weight_per_ref_id")
    if not isinstance(scores, dict):
        raise Invalid("result_per_ref_id maps reference ids to scores", field="result_per_ref_id")
    if not isinstance(weights, dict):
        raise Invalid("weight_per_ref_id maps reference ids to weights", field="weight_per_ref_id")
    overall = body.get("overall_metric")
    if overall is not None and (isinstance(overall, bool) or not isinstance(overall, int | float)):
        raise Invalid("overall_metric must be a number", field="overall_metric")
    function_id = body.get("eval_function_id")
    if not isinstance(function_id, str) or not function_id.startswith(EVAL_FUNCTION):
        raise Invalid("an evaluation function's id starts with ef_", field="eval_function_id")
    with ctx.db.write() as session:
        test, dataset = _load_test(session, str(body.get("unit_test_id") or ""), actor, write=True)
        model = load_model(session, str(body.get("model_id") or ""), actor)
        function = scenario_uploads.get_function(
            session=session,
            mode=actor.mode,
            function_id=function_id[len(EVAL_FUNCTION) :],
            field="eval_function_id",
        )
        result = scenario_uploads.upload_result(
            session=session,
            dataset=dataset,
            test=test,
            metric=scenario_uploads.metric_of(
                session=session, test=test, function=function, field="eval_function_id"
            ),
            model=model,
            upload=scenario_uploads.UploadIn(
                level=str(body["level"]) if body.get("level") is not None else None,
                scores=scores,
                weights=weights,
                overall=overall,
                names=("result_per_ref_id", "weight_per_ref_id", "overall_metric"),
            ),
            settings=ctx.settings,
        )
        return {
            "evaluation_id": result.id,
            "scenario_test_id": fmt.nucleus_id(SCENARIO_TEST, test.id),
            "eval_function_id": function_id,
            "model_id": fmt.nucleus_id(fmt.MODEL, model.id),
            "result": result.value,
            "pass": _passes(result),
        }
