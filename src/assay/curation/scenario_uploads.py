"""External metric functions and their uploaded results (Scale Validate's external
evaluation functions).

An external function belongs to a sandbox (live or test) and has a level: its values are
per item, per scene or per track. A scenario test's metric may name one
(`ScenarioMetric.external_function_id`); such a metric is never computed from an
evaluation. Its values are uploaded for one model: a score and a weight (0 to 1) per entity
of the test, and the weighted mean as the overall value. An upload is recorded as one more
result in the test's history (no evaluation behind it), judged against the metric's
threshold and the baseline model's latest uploaded value like any other result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.settings import Settings
from assay.curation import models, scenarios
from assay.curation.items import existing_items
from assay.curation.scenario_metrics import list_metrics
from assay.curation.scenario_results import announce_if_regressed, judged, slice_members

LEVELS = ("item", "scene", "track")
# The relative difference allowed between the overall value sent and the weighted mean.
_SLACK = 1e-6


def create_function(
    *, session: Session, mode: str, name: str, level: str, created_by: str | None
) -> models.ExternalFunction:
    """A new external function of the sandbox; its name is unique there and is not a
    registered metric function's."""
    if not name or len(name) > 255 or any(c.isspace() for c in name):
        raise Invalid("name: 1 to 255 characters, no spaces", field="name")
    if level not in LEVELS:
        raise Invalid(f"level must be one of {', '.join(LEVELS)}", field="level")
    taken = session.scalar(
        select(models.ExternalFunction.id).where(
            models.ExternalFunction.mode == mode, models.ExternalFunction.name == name
        )
    )
    if taken is not None or name in {f.name for f in list_metrics()}:
        raise Conflict(f"an evaluation function named {name!r} exists already", field="name")
    found = models.ExternalFunction(mode=mode, name=name, level=level, created_by=created_by)
    session.add(found)
    session.flush()
    return found


def list_functions(*, session: Session, mode: str) -> list[models.ExternalFunction]:
    return list(
        session.scalars(
            select(models.ExternalFunction)
            .where(models.ExternalFunction.mode == mode)
            .order_by(models.ExternalFunction.id)
        )
    )


def get_function(
    *, session: Session, mode: str, function_id: str, field: str = "function_id"
) -> models.ExternalFunction:
    found = session.get(models.ExternalFunction, function_id)
    if found is None or found.mode != mode:
        raise NotFound(f"no external evaluation function {function_id}", field=field)
    return found


@dataclass(frozen=True)
class UploadIn:
    """Scores and weights by the entities' reference ids, the level they are of (None: the
    function's) and the overall value the uploader computed (checked against the weighted
    mean)."""

    scores: Mapping[str, float]
    weights: Mapping[str, float]
    level: str | None = None
    overall: float | None = None
    # What the request calls scores, weights and the overall value (errors name them).
    names: tuple[str, str, str] = ("scores", "weights", "overall")


def _number(value: object, low: float, high: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid("must be a finite number", field=field)
    if not low <= value <= high:
        raise Invalid(f"must be from {low:g} to {high:g}", field=field)
    return float(value)


def _entities(
    session: Session,
    dataset: models.Dataset,
    test: models.ScenarioTest,
    level: str,
    references: list[str],
    field: str,
) -> list[str]:
    """The ids the references name at that level (items of the test's slice, scenes of the
    dataset, tracks of the dataset's scenes); Invalid naming the first unknown one."""
    if level == "item":
        found = existing_items(session, dataset.id, references)
        members = set(slice_members(session, dataset, session.get(models.Slice, test.slice_id))[0])
        known = {r: i for r, i in found.items() if i in members}
        what = "item of the scenario test's slice"
    elif level == "scene":
        known = dict(
            session.execute(
                select(models.Scene.reference_id, models.Scene.id).where(
                    models.Scene.dataset_id == dataset.id,
                    models.Scene.reference_id.in_(references),
                )
            ).tuples()
        )
        what = "scene in this dataset"
    else:
        declared = session.scalars(
            select(models.Scene.tracks).where(models.Scene.dataset_id == dataset.id)
        )
        known = {t["reference_id"]: t["reference_id"] for tracks in declared for t in tracks}
        what = "track declared by a scene of this dataset"
    for reference in references:
        if reference not in known:
            raise Invalid(
                f"no {what} with reference_id {reference!r}",
                field=f"{field}.{reference}",
            )
    return [known[r] for r in references]


def metric_of(
    *,
    session: Session,
    test: models.ScenarioTest,
    function: models.ExternalFunction,
    field: str = "function_id",
) -> models.ScenarioMetric:
    """The test's metric naming the external function (its first, should there be two)."""
    for metric in scenarios.metrics_of(session=session, test_ids=[test.id])[test.id]:
        if metric.external_function_id == function.id:
            return metric
    raise Invalid(
        f"scenario test {test.name!r} has no metric of the function {function.name!r}",
        field=field,
    )


def upload_result(
    *,
    session: Session,
    dataset: models.Dataset,
    test: models.ScenarioTest,
    metric: models.ScenarioMetric,
    model: models.Model,
    upload: UploadIn,
    settings: Settings | None = None,
) -> models.ScenarioResult:
    """Record an upload of an external metric's values for the model as one result of the
    test (judged against its threshold and baseline); a failure after a pass fires
    `scenario_test.regressed`, as an evaluation's does."""
    function = session.get(models.ExternalFunction, metric.external_function_id or "")
    if function is None or metric.scenario_test_id != test.id:
        raise Invalid(
            "only a metric of an external function takes uploaded results", field="metric_id"
        )
    if upload.level is not None and upload.level != function.level:
        raise Invalid(
            f"{function.name} takes {function.level} results, not {upload.level}", field="level"
        )
    references = list(upload.scores)
    scores_at, weights_at, overall_at = upload.names
    if not references:
        raise Invalid("at least one result is needed", field=scores_at)
    if set(upload.weights) != set(references):
        raise Invalid("a weight for each result and no other", field=weights_at)
    scores = [_number(upload.scores[r], -1e12, 1e12, f"{scores_at}.{r}") for r in references]
    weights = [_number(upload.weights[r], 0.0, 1.0, f"{weights_at}.{r}") for r in references]
    total = sum(weights)
    value = sum(s * w for s, w in zip(scores, weights, strict=True)) / total if total else None
    if upload.overall is not None and (
        value is None or not math.isclose(upload.overall, value, rel_tol=_SLACK, abs_tol=_SLACK)
    ):
        raise Invalid(
            f"{overall_at} is not the weighted mean of the results ({value})",
            field=overall_at,
        )
    ids = _entities(session, dataset, test, function.level, references, scores_at)
    baseline_value = None
    if test.baseline_model_id:
        baseline = latest_upload(session=session, metric=metric, model_id=test.baseline_model_id)
        baseline_value = baseline.value if baseline else None
    result = models.ScenarioResult(
        scenario_test_id=test.id,
        metric_id=metric.id,
        evaluation_id=None,
        model_id=model.id,
        value=value,
        threshold=metric.threshold,
        comparison=metric.comparison,
        baseline_model_id=test.baseline_model_id,
        baseline_value=baseline_value,
        passed=judged(metric, value, baseline_value),
        error=None,
        uploaded={"level": function.level, "ids": ids, "scores": scores, "weights": weights},
    )
    session.add(result)
    session.flush()
    if result.passed is False:
        announce_if_regressed(session, dataset, metric, result, settings)
    return result


def latest_upload(
    *, session: Session, metric: models.ScenarioMetric, model_id: str
) -> models.ScenarioResult | None:
    return session.scalar(
        select(models.ScenarioResult)
        .where(
            models.ScenarioResult.metric_id == metric.id,
            models.ScenarioResult.model_id == model_id,
            models.ScenarioResult.evaluation_id.is_(None),
        )
        .order_by(models.ScenarioResult.id.desc())
        .limit(1)
    )
