"""Scenario tests evaluated from stored evaluations, never by matching again.

When an evaluation of a model on a dataset finishes, `record_evaluation` (called at the end
of the evaluation job) restricts its `MatchState` to each test's slice, computes each metric
(`scenario_metrics.py`), and records a history row per metric — its value, the threshold
and the baseline's value as they were, pass or fail. A metric that passed for the model's
previous evaluation and fails now is a regression: a `scenario_test.regressed` webhook
event goes out with the row, in the same transaction. A test is evaluated only by an
evaluation that covers all of its slice's items (a whole-dataset one does).

`run_table` answers one evaluation against every test of its dataset; `item_results` one
recorded metric item by item.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Callable
from functools import cache, partial
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.core import webhooks
from assay.core.auth import SYSTEM
from assay.core.db import Database
from assay.core.settings import Settings
from assay.curation import models, scenarios
from assay.curation import scenario_schemas as schemas
from assay.curation.items import _chunks
from assay.curation.query import run_query
from assay.curation.scenario_metrics import MetricFunction, ScenarioSlice, get_metric, meets
from assay.curation.snapshots import SNAPSHOTS
from assay.metrics.detection import MatchState
from assay.metrics.detection_counts import subset

REGRESSED_EVENT = "scenario_test.regressed"
ITEMS = models.Item.__table__
MEMBERS = models.SliceItem.__table__
# Per-item results (Nucleus's item evaluations) are computed on demand, this many at most.
MAX_ITEM_RESULTS = 10_000
_EPSILON = 1e-12

# --- evaluating tests from a stored evaluation -----------------------------------------


def slice_members(
    session: Session, dataset: models.Dataset, found: models.Slice
) -> tuple[list[str], np.ndarray]:
    """The slice's item ids and their seqs (a dynamic slice's query run now)."""
    if found.kind == "dynamic":
        snapshot = SNAPSHOTS.get(session, dataset)
        rows = run_query(snapshot.frames, found.query, "items").positions
        ids = snapshot.items["item_id"].to_numpy()[rows]
        return [str(i) for i in ids], snapshot.items["seq"].to_numpy()[rows].astype(np.int64)
    pairs = session.execute(
        select(ITEMS.c.id, ITEMS.c.seq)
        .join(MEMBERS, MEMBERS.c.item_id == ITEMS.c.id)
        .where(MEMBERS.c.slice_id == found.id)
        .order_by(ITEMS.c.id)
    ).all()
    return [p[0] for p in pairs], np.asarray([p[1] for p in pairs], np.int64)


class _Evaluated:
    """One stored evaluation opened for scenario tests: its state parsed once, its matches
    (with each object's label) read on first use."""

    def __init__(
        self, session: Session, dataset: models.Dataset, evaluation: models.Evaluation
    ) -> None:
        self.evaluation = evaluation
        self.state = MatchState.from_bytes(evaluation.state)
        metrics = evaluation.metrics or {}
        self.labels = list(metrics.get("labels", []))
        self.writeback_iou = float(metrics.get("iou_threshold", 0.5))

        @cache
        def matches() -> pl.DataFrame:
            frame = pl.read_parquet(io.BytesIO(evaluation.matches))
            objects = SNAPSHOTS.get(session, dataset).objects
            if "label" not in objects.columns:
                return frame.with_columns(pl.lit(None, pl.Utf8).alias("label"))
            return frame.join(objects.select("object_id", "label"), on="object_id", how="left")

        self.matches = matches

    def covers(self, seqs: np.ndarray) -> bool:
        return bool(np.isin(seqs, self.state.image_ids).all())

    def on(
        self,
        item_ids: list[str],
        seqs: np.ndarray,
        state: MatchState | None = None,
        matches: Callable[[], pl.DataFrame] | None = None,
    ) -> ScenarioSlice:
        return ScenarioSlice(
            state=state or self.state,
            seqs=seqs,
            item_ids=item_ids,
            labels=self.labels,
            writeback_iou=self.writeback_iou,
            matches=matches or self.matches,
        )


def _arguments(function: MetricFunction, stored: dict[str, Any]) -> dict[str, Any]:
    merged = dict(function.arguments)
    merged.update({k: v for k, v in stored.items() if v is not None})
    return merged


def metric_value(
    metric: models.ScenarioMetric, scenario_slice: ScenarioSlice
) -> tuple[float | None, str | None]:
    """(value, error) of a metric on a slice."""
    try:
        function = get_metric(metric.function)
        value = function.fn(scenario_slice, **_arguments(function, metric.arguments or {}))
        if value is None:
            return None, None
        value = float(value)
        if not math.isfinite(value):
            return None, f"{metric.function} answered {value}"
        return value, None
    except Exception as error:  # a plugin's bug is that metric's error, not the evaluation's
        return None, f"{type(error).__name__}: {getattr(error, 'message', None) or error}"


def judged(
    metric: models.ScenarioMetric, value: float | None, baseline_value: float | None
) -> bool | None:
    """Pass / fail of a value: it meets the threshold (if any) and is not worse than the
    baseline's value less the tolerance (if any); None when nothing applies or no value."""
    if value is None:
        return None
    checks = []
    if metric.threshold is not None:
        checks.append(meets(value, metric.comparison, metric.threshold))
    if baseline_value is not None:
        slack = metric.tolerance + _EPSILON
        if metric.comparison in (">=", ">"):
            checks.append(value >= baseline_value - slack)
        else:
            checks.append(value <= baseline_value + slack)
    return all(checks) if checks else None


def _baseline_finder(
    session: Session, dataset: models.Dataset
) -> Callable[[str, np.ndarray], _Evaluated | None]:
    opened: dict[str, _Evaluated] = {}

    def find(model_id: str, seqs: np.ndarray) -> _Evaluated | None:
        """The baseline model's latest done evaluation covering the slice."""
        for evaluation in session.scalars(
            select(models.Evaluation)
            .where(
                models.Evaluation.dataset_id == dataset.id,
                models.Evaluation.model_id == model_id,
                models.Evaluation.status == "done",
            )
            .order_by(models.Evaluation.id.desc())
        ):
            if evaluation.id not in opened:
                opened[evaluation.id] = _Evaluated(session, dataset, evaluation)
            if opened[evaluation.id].covers(seqs):
                return opened[evaluation.id]
        return None

    return find


def _results_of(
    session: Session, dataset: models.Dataset, evaluation: models.Evaluation
) -> list[dict[str, Any]]:
    """The history rows an evaluation gives every test of its dataset it covers."""
    tests = scenarios.tests_of(session=session, dataset=dataset)
    if not tests or evaluation.status != "done" or evaluation.state is None:
        return []
    metrics = scenarios.metrics_of(session=session, test_ids=[t.id for t in tests])
    evaluated = _Evaluated(session, dataset, evaluation)
    baseline_of = _baseline_finder(session, dataset)
    rows = []
    for test in tests:
        found = session.get(models.Slice, test.slice_id)
        item_ids, seqs = slice_members(session, dataset, found)
        if not metrics[test.id] or not evaluated.covers(seqs):
            continue
        here = evaluated.on(item_ids, seqs)
        baseline = baseline_of(test.baseline_model_id, seqs) if test.baseline_model_id else None
        there = baseline.on(item_ids, seqs) if baseline else None
        for metric in metrics[test.id]:
            if metric.external_function_id:
                continue  # its values are uploaded (`scenario_uploads.py`)
            value, error = metric_value(metric, here)
            baseline_value = metric_value(metric, there)[0] if there else None
            if test.baseline_model_id and there is None and error is None:
                error = "the baseline model has no finished evaluation covering the slice"
            rows.append(
                {
                    "scenario_test_id": test.id,
                    "metric_id": metric.id,
                    "evaluation_id": evaluation.id,
                    "model_id": evaluation.model_id,
                    "value": value,
                    "threshold": metric.threshold,
                    "comparison": metric.comparison,
                    "baseline_model_id": test.baseline_model_id,
                    "baseline_value": baseline_value,
                    "passed": judged(metric, value, baseline_value),
                    "error": error,
                }
            )
    return rows


def record_evaluation(*, db: Database, evaluation_id: str, settings: Settings | None = None) -> int:
    """Evaluate every scenario test of a finished evaluation's dataset for its model, from
    the evaluation's stored state, and record the results (again: they replace the earlier
    ones of that evaluation); a metric that passed for the model's previous evaluation and
    fails now fires `scenario_test.regressed`. Returns how many results were recorded."""
    with db.read() as session:
        evaluation = session.get(models.Evaluation, evaluation_id)
        if evaluation is None:
            return 0
        dataset = session.get(models.Dataset, evaluation.dataset_id)
        rows = _results_of(session, dataset, evaluation) if dataset else []
    if not rows:
        return 0
    with db.write() as session:
        evaluation = session.get(models.Evaluation, evaluation_id)
        dataset = session.get(models.Dataset, evaluation.dataset_id) if evaluation else None
        if evaluation is None or dataset is None:
            return 0
        return _store(session, dataset, evaluation, rows, settings)


def _store(
    session: Session,
    dataset: models.Dataset,
    evaluation: models.Evaluation,
    rows: list[dict[str, Any]],
    settings: Settings | None,
) -> int:
    metrics = {
        m.id: m
        for m in session.scalars(
            select(models.ScenarioMetric).where(
                models.ScenarioMetric.id.in_([r["metric_id"] for r in rows])
            )
        )
    }
    existing = {
        r.metric_id: r
        for r in session.scalars(
            select(models.ScenarioResult).where(
                models.ScenarioResult.evaluation_id == evaluation.id
            )
        )
    }
    stored = 0
    for row in rows:
        metric = metrics.get(row["metric_id"])
        if metric is None:
            continue  # deleted meanwhile
        result = existing.get(metric.id)
        was_failing = result is not None and result.passed is False
        if result is None:
            result = models.ScenarioResult(**row)
            session.add(result)
        else:
            for key, value in row.items():
                setattr(result, key, value)
        stored += 1
        if result.passed is False and not was_failing:
            announce_if_regressed(session, dataset, metric, result, settings)
    session.flush()
    return stored


def announce_if_regressed(
    session: Session,
    dataset: models.Dataset,
    metric: models.ScenarioMetric,
    result: models.ScenarioResult,
    settings: Settings | None,
) -> None:
    """`scenario_test.regressed` when the metric passed for the model's previous result (an
    evaluation's or an upload's: their ids are time-ordered) and the new one failed."""
    when = func.coalesce(models.ScenarioResult.evaluation_id, models.ScenarioResult.id)
    previous = session.scalar(
        select(models.ScenarioResult)
        .where(
            models.ScenarioResult.metric_id == metric.id,
            models.ScenarioResult.model_id == result.model_id,
            when < (result.evaluation_id or result.id),
        )
        .order_by(when.desc())
        .limit(1)
    )
    if previous is None or previous.passed is not True:
        return
    test = session.get(models.ScenarioTest, metric.scenario_test_id)
    model = session.get(models.Model, result.model_id)
    payload = {
        "scenario_test": {
            "id": test.id,
            "name": test.name,
            "dataset_id": test.dataset_id,
            "slice_id": test.slice_id,
        },
        "metric": {
            "id": metric.id,
            "function": metric.function,
            "arguments": metric.arguments,
            "threshold": metric.threshold,
            "comparison": metric.comparison,
            "tolerance": metric.tolerance,
        },
        "model": {"id": model.id, "name": model.name, "reference_id": model.reference_id},
        "evaluation_id": result.evaluation_id,
        "value": result.value,
        "baseline_model_id": result.baseline_model_id,
        "baseline_value": result.baseline_value,
        "previous_evaluation_id": previous.evaluation_id,
        "previous_value": previous.value,
    }
    # Events go to the dataset's own sandbox (live or test), whoever ran the evaluation.
    actor = dataclasses.replace(SYSTEM, mode=dataset.mode)
    webhooks.emit(
        session=session, event=REGRESSED_EVENT, payload=payload, actor=actor, settings=settings
    )


# --- the table of one evaluation against every test ------------------------------------


def _outcome(
    metric: models.ScenarioMetric, result: models.ScenarioResult | None
) -> schemas.ScenarioMetricOutcome:
    if result is None:
        status = "not_evaluated"
    elif result.error is not None and result.value is None:
        status = "error"
    elif result.passed is None:
        status = "undefined" if result.value is None else "no_criterion"
    else:
        status = "passed" if result.passed else "failed"
    source = result or metric
    return schemas.ScenarioMetricOutcome(
        metric_id=metric.id,
        function=metric.function,
        arguments=metric.arguments or {},
        status=status,
        passed=result.passed if result else None,
        value=result.value if result else None,
        threshold=source.threshold,
        comparison=source.comparison,
        tolerance=metric.tolerance,
        baseline_model_id=result.baseline_model_id if result else None,
        baseline_value=result.baseline_value if result else None,
        error=result.error if result else None,
    )


def run_table(
    *, session: Session, dataset: models.Dataset, evaluation: models.Evaluation
) -> schemas.ScenarioRun:
    """The evaluation against every test of its dataset: each metric's outcome, each test
    passed, failed (a metric failed or errored) or not evaluated (the evaluation did not
    cover its slice, or the metric came later)."""
    tests = scenarios.tests_of(session=session, dataset=dataset)
    metrics = scenarios.metrics_of(session=session, test_ids=[t.id for t in tests])
    results = {
        r.metric_id: r
        for r in session.scalars(
            select(models.ScenarioResult).where(
                models.ScenarioResult.evaluation_id == evaluation.id
            )
        )
    }
    outcomes = []
    for test in tests:
        rows = [
            _outcome(m, results.get(m.id)) for m in metrics[test.id] if not m.external_function_id
        ]
        statuses = {row.status for row in rows}
        if "not_evaluated" in statuses or not rows:
            status = "not_evaluated"
        elif statuses & {"failed", "error"}:
            status = "failed"
        else:
            status = "passed"
        outcomes.append(
            schemas.ScenarioTestOutcome(
                scenario_test_id=test.id,
                name=test.name,
                slice_id=test.slice_id,
                status=status,
                passed=None if status == "not_evaluated" else status == "passed",
                metrics=rows,
            )
        )
    done = evaluation.status == "done"
    return schemas.ScenarioRun(
        evaluation_id=evaluation.id,
        dataset_id=dataset.id,
        model_id=evaluation.model_id,
        job_id=evaluation.job_id,
        status=evaluation.status,
        passed=all(t.status == "passed" for t in outcomes) if done else None,
        tests=outcomes,
    )


def item_results(
    *, session: Session, result: models.ScenarioResult
) -> list[tuple[str, float | None, bool | None]]:
    """A recorded result item by item — (item id, value, passed against the threshold) —
    each item's own evaluation from the stored state (the first MAX_ITEM_RESULTS items), or
    an uploaded result's item scores."""
    metric = session.get(models.ScenarioMetric, result.metric_id)
    if result.evaluation_id is None:
        return _uploaded_items(session, metric, result)
    test = session.get(models.ScenarioTest, result.scenario_test_id)
    evaluation = session.get(models.Evaluation, result.evaluation_id)
    dataset = session.get(models.Dataset, test.dataset_id)
    found = session.get(models.Slice, test.slice_id)
    item_ids, seqs = slice_members(session, dataset, found)
    item_ids, seqs = item_ids[:MAX_ITEM_RESULTS], seqs[:MAX_ITEM_RESULTS]
    evaluated = _Evaluated(session, dataset, evaluation)
    # Each item is evaluated over what its slice holds, not the whole evaluation's.
    part = subset(evaluated.state, seqs)

    @cache
    def by_item() -> dict[str, pl.DataFrame]:
        frame = evaluated.matches().filter(pl.col("item_id").is_in(item_ids))
        return {key[0]: rows for key, rows in frame.partition_by("item_id", as_dict=True).items()}

    def matches_of(item_id: str) -> pl.DataFrame:
        return by_item().get(item_id, evaluated.matches().head(0))

    answers = []
    for item_id, seq in zip(item_ids, seqs, strict=True):
        own = partial(matches_of, item_id)
        value, _ = metric_value(metric, evaluated.on([item_id], np.asarray([seq]), part, own))
        passed = None
        if value is not None and metric.threshold is not None:
            passed = meets(value, metric.comparison, metric.threshold)
        answers.append((item_id, value, passed))
    return answers


def _uploaded_items(
    session: Session, metric: models.ScenarioMetric, result: models.ScenarioResult
) -> list[tuple[str, float | None, bool | None]]:
    """An uploaded item-level result's scores, of the items still there (other levels have
    no items)."""
    uploaded = result.uploaded or {}
    if uploaded.get("level") != "item":
        return []
    ids, scores = uploaded["ids"][:MAX_ITEM_RESULTS], uploaded["scores"][:MAX_ITEM_RESULTS]
    kept = set()
    for chunk in _chunks(ids):
        kept.update(session.scalars(select(ITEMS.c.id).where(ITEMS.c.id.in_(chunk))))
    return [
        (
            item_id,
            score,
            meets(score, metric.comparison, metric.threshold)
            if metric.threshold is not None
            else None,
        )
        for item_id, score in zip(ids, scores, strict=True)
        if item_id in kept
    ]
