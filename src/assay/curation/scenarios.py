"""Scenario tests (Scale's Validate): a slice of a dataset and the metrics a model must reach
on it, each against a threshold and, when the test has a baseline model, against that
model's value on the same slice (less the metric's tolerance).

This module keeps the tests, their metrics and their history, and starts a run (a model
evaluated on the whole dataset, as a job). Evaluating the tests from a finished evaluation —
at the end of every evaluation job — and the table of one evaluation against every test are
`scenario_results.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate
from assay.curation import models, slices
from assay.curation import scenario_schemas as schemas
from assay.curation.scenario_metrics import (
    check_comparison,
    checked_arguments,
    get_metric,
)

# --- tests and their metrics ------------------------------------------------------------


def _require_evaluated(
    session: Session, dataset: models.Dataset, model: models.Model, field: str
) -> None:
    done = session.scalar(
        select(models.Evaluation.id)
        .where(
            models.Evaluation.dataset_id == dataset.id,
            models.Evaluation.model_id == model.id,
            models.Evaluation.status == "done",
        )
        .limit(1)
    )
    if done is None:
        raise Invalid(
            f"model {model.id} has no finished evaluation on this dataset; evaluate it first",
            field=field,
        )


def _new_metric(
    session: Session,
    dataset: models.Dataset,
    test: models.ScenarioTest,
    metric_in: schemas.ScenarioMetricCreate,
    field: str,
) -> models.ScenarioMetric:
    if metric_in.external_function_id:
        external = session.get(models.ExternalFunction, metric_in.external_function_id)
        if external is None or external.mode != dataset.mode:
            raise NotFound(
                f"no external evaluation function {metric_in.external_function_id}",
                field=f"{field}.external_function_id",
            )
        return _external_metric(external, test, metric_in, field)
    function = get_metric(metric_in.function, f"{field}.function")
    return models.ScenarioMetric(
        scenario_test_id=test.id,
        function=function.name,
        arguments=checked_arguments(function, metric_in.arguments, f"{field}.arguments"),
        threshold=metric_in.threshold,
        comparison=check_comparison(
            metric_in.comparison or function.default_comparison, f"{field}.comparison"
        ),
        tolerance=metric_in.tolerance,
    )


def _external_metric(
    function: models.ExternalFunction,
    test: models.ScenarioTest,
    metric_in: schemas.ScenarioMetricCreate,
    field: str,
) -> models.ScenarioMetric:
    """A metric whose values are uploaded (`scenario_uploads.py`): it takes no arguments."""
    if metric_in.arguments:
        raise Invalid("an external function takes no arguments", field=f"{field}.arguments")
    return models.ScenarioMetric(
        scenario_test_id=test.id,
        function=function.name,
        arguments={},
        threshold=metric_in.threshold,
        comparison=check_comparison(metric_in.comparison or ">=", f"{field}.comparison"),
        tolerance=metric_in.tolerance,
        external_function_id=function.id,
    )


def create_test(
    *,
    session: Session,
    dataset: models.Dataset,
    test_in: schemas.ScenarioTestCreate,
    baseline: models.Model | None,
    created_by: str | None,
) -> models.ScenarioTest:
    """A test of a slice of the dataset with its metrics (a name is unique per dataset)."""
    slices.get_slice(session=session, dataset=dataset, slice_id=test_in.slice_id)
    if baseline is not None:
        _require_evaluated(session, dataset, baseline, "baseline_model_id")
    taken = session.scalar(
        select(models.ScenarioTest.id).where(
            models.ScenarioTest.dataset_id == dataset.id,
            models.ScenarioTest.name == test_in.name,
        )
    )
    if taken is not None:
        raise Conflict(f"a scenario test named {test_in.name!r} exists already", field="name")
    test = models.ScenarioTest(
        dataset_id=dataset.id,
        slice_id=test_in.slice_id,
        name=test_in.name,
        baseline_model_id=baseline.id if baseline else None,
        created_by=created_by,
    )
    session.add(test)
    session.flush()
    session.add_all(
        _new_metric(session, dataset, test, metric_in, f"metrics[{i}]")
        for i, metric_in in enumerate(test_in.metrics)
    )
    session.flush()
    return test


def get_test(*, session: Session, dataset: models.Dataset, test_id: str) -> models.ScenarioTest:
    found = session.get(models.ScenarioTest, test_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no scenario test {test_id} in this dataset", field="scenario_test_id")
    return found


def list_tests(
    *, session: Session, dataset: models.Dataset, cursor: str | None, limit: int
) -> PageResult[models.ScenarioTest]:
    statement = select(models.ScenarioTest).where(models.ScenarioTest.dataset_id == dataset.id)
    return paginate(session, statement, key=models.ScenarioTest.id, cursor=cursor, limit=limit)


def locate_test(
    *, session: Session, test_id: str, mode: str
) -> tuple[models.ScenarioTest, models.Dataset]:
    """A test by its id alone, with its dataset (of this sandbox, not being deleted)."""
    found = session.get(models.ScenarioTest, test_id)
    dataset = session.get(models.Dataset, found.dataset_id) if found else None
    if found is None or dataset is None or dataset.mode != mode or dataset.deleting:
        raise NotFound(f"no scenario test with id {test_id}", field="scenario_test_id")
    return found, dataset


def locate_result(
    *, session: Session, result_id: str, mode: str
) -> tuple[models.ScenarioResult, models.Dataset]:
    """A history row by its id alone, with its test's dataset."""
    found = session.get(models.ScenarioResult, result_id)
    if found is None:
        raise NotFound(f"no scenario test evaluation with id {result_id}", field="evaluation_id")
    try:
        _, dataset = locate_test(session=session, test_id=found.scenario_test_id, mode=mode)
    except NotFound:
        raise NotFound(
            f"no scenario test evaluation with id {result_id}", field="evaluation_id"
        ) from None
    return found, dataset


def tests_of(*, session: Session, dataset: models.Dataset) -> list[models.ScenarioTest]:
    """Every test of the dataset, oldest first."""
    return list(
        session.scalars(
            select(models.ScenarioTest)
            .where(models.ScenarioTest.dataset_id == dataset.id)
            .order_by(models.ScenarioTest.id)
        )
    )


def tests_of_mode(
    *, session: Session, mode: str, name: str | None = None
) -> list[models.ScenarioTest]:
    """Every test on the datasets of a sandbox (live or test), oldest first; those named
    `name` when given (names are unique per dataset only)."""
    statement = (
        select(models.ScenarioTest)
        .join(models.Dataset, models.Dataset.id == models.ScenarioTest.dataset_id)
        .where(models.Dataset.mode == mode, models.Dataset.deleting.is_(False))
    )
    if name is not None:
        statement = statement.where(models.ScenarioTest.name == name)
    return list(session.scalars(statement.order_by(models.ScenarioTest.id)))


def metrics_of(
    *, session: Session, test_ids: Sequence[str]
) -> dict[str, list[models.ScenarioMetric]]:
    """Each test's metrics, in the order they were added."""
    found: dict[str, list[models.ScenarioMetric]] = {test_id: [] for test_id in test_ids}
    if test_ids:
        for metric in session.scalars(
            select(models.ScenarioMetric)
            .where(models.ScenarioMetric.scenario_test_id.in_(list(test_ids)))
            .order_by(models.ScenarioMetric.id)
        ):
            found[metric.scenario_test_id].append(metric)
    return found


def get_metric_of(
    *, session: Session, test: models.ScenarioTest, metric_id: str
) -> models.ScenarioMetric:
    found = session.get(models.ScenarioMetric, metric_id)
    if found is None or found.scenario_test_id != test.id:
        raise NotFound(f"no metric {metric_id} in this scenario test", field="metric_id")
    return found


def add_metric(
    *,
    session: Session,
    dataset: models.Dataset,
    test: models.ScenarioTest,
    metric_in: schemas.ScenarioMetricCreate,
) -> models.ScenarioMetric:
    metric = _new_metric(session, dataset, test, metric_in, "")
    session.add(metric)
    session.flush()
    return metric


def update_metric(
    *,
    session: Session,
    metric: models.ScenarioMetric,
    metric_update: schemas.ScenarioMetricUpdate,
) -> models.ScenarioMetric:
    """Change what the update names (a threshold set to null is removed)."""
    given = metric_update.model_fields_set
    if "threshold" in given:
        metric.threshold = metric_update.threshold
    if "comparison" in given and metric_update.comparison is not None:
        metric.comparison = check_comparison(metric_update.comparison)
    if "tolerance" in given and metric_update.tolerance is not None:
        metric.tolerance = metric_update.tolerance
    session.flush()
    return metric


def delete_metric(*, session: Session, metric: models.ScenarioMetric) -> None:
    """The metric goes with its history."""
    session.delete(metric)
    session.flush()


def set_baseline(
    *,
    session: Session,
    dataset: models.Dataset,
    test: models.ScenarioTest,
    model: models.Model | None,
) -> models.ScenarioTest:
    """The model whose value on the slice each metric must not fall below (None: no
    baseline). It must have been evaluated on the dataset."""
    if model is not None:
        _require_evaluated(session, dataset, model, "model_id")
    test.baseline_model_id = model.id if model else None
    session.flush()
    return test


def delete_test(*, session: Session, test: models.ScenarioTest) -> None:
    """The test goes with its metrics and history; its slice stays."""
    session.delete(test)
    session.flush()


def history(
    *, session: Session, test: models.ScenarioTest, limit: int = 100
) -> list[models.ScenarioResult]:
    """The test's results, newest evaluation (or upload) first."""
    # Evaluation and result ids are both time-ordered: an upload (no evaluation) sorts by
    # its own id among the evaluations.
    when = func.coalesce(models.ScenarioResult.evaluation_id, models.ScenarioResult.id)
    return list(
        session.scalars(
            select(models.ScenarioResult)
            .where(models.ScenarioResult.scenario_test_id == test.id)
            .order_by(when.desc(), models.ScenarioResult.metric_id)
            .limit(limit)
        )
    )


# --- runs: one evaluation against every test -------------------------------------------


def start_run(
    *, session: Session, dataset: models.Dataset, model: models.Model, actor: Actor
) -> models.Evaluation:
    """Evaluate the model on the whole dataset (a job); its tests are recorded when done."""
    # Imported here: the evaluation job records its scenario tests (scenario_results) when
    # it finishes, and those read the tests here.
    from assay.curation import evaluations

    if not tests_of(session=session, dataset=dataset):
        raise Invalid("this dataset has no scenario tests; create one first", field="dataset_id")
    return evaluations.start_evaluation(session=session, dataset=dataset, model=model, actor=actor)


def get_run(*, session: Session, dataset: models.Dataset, evaluation_id: str) -> models.Evaluation:
    found = session.get(models.Evaluation, evaluation_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no evaluation {evaluation_id} in this dataset", field="evaluation_id")
    return found
