"""Wire schemas of scenario tests: tests and their metrics, their history, and the table of
one model evaluation against every test of a dataset (a run). Pydantic only: the SDK reuses
them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from assay.core.schemas import Page, Schema
from assay.curation.schemas import Name

Comparison = Literal[">=", ">", "<=", "<"]


class ScenarioMetricCreate(Schema):
    function: str = Field(
        min_length=1,
        max_length=100,
        description="A metric function's name: map, recall, precision, f1, fp_per_item, iou, "
        "or a plugin's (GET /scenario-metrics lists them).",
    )
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="The function's arguments, e.g. iou_threshold, confidence_threshold, label.",
    )
    threshold: float | None = Field(None, description="Pass when value <comparison> threshold.")
    comparison: Comparison | None = Field(
        None, description="Default: >= (<= for a lower-is-better function)."
    )
    tolerance: float = Field(
        0.0, ge=0, le=1e9, description="How far worse than the baseline model's value may be."
    )
    external_function_id: str | None = Field(
        None,
        max_length=24,
        description="An external function (values uploaded, not computed); `function` is "
        "then ignored.",
    )


class ScenarioMetricUpdate(Schema):
    threshold: float | None = Field(None, description="null removes the threshold.")
    comparison: Comparison | None = None
    tolerance: float | None = Field(None, ge=0, le=1e9)


class ScenarioMetric(Schema):
    id: str
    scenario_test_id: str
    function: str
    arguments: dict[str, Any]
    threshold: float | None
    comparison: str
    tolerance: float
    external_function_id: str | None = None
    created_at: dt.datetime


class ScenarioTestCreate(Schema):
    name: Name
    slice_id: str = Field(min_length=1, max_length=64)
    metrics: list[ScenarioMetricCreate] = Field(min_length=1, max_length=100)
    baseline_model_id: str | None = Field(
        None,
        max_length=64,
        description="A model evaluated on the dataset; its value on the slice is the floor "
        "(less each metric's tolerance).",
    )


class ScenarioTest(Schema):
    id: str
    dataset_id: str
    slice_id: str
    name: str
    baseline_model_id: str | None
    created_by: str | None
    created_at: dt.datetime
    metrics: list[ScenarioMetric] = []


class ScenarioTestPage(Page[ScenarioTest]):
    pass


class ScenarioResult(Schema):
    """One metric's value for one model evaluation."""

    id: str
    scenario_test_id: str
    metric_id: str
    evaluation_id: str | None = Field(description="null for an uploaded result.")
    model_id: str
    value: float | None
    threshold: float | None
    comparison: str
    baseline_model_id: str | None
    baseline_value: float | None
    passed: bool | None = Field(
        description="null: nothing to meet (no threshold, no baseline) or no value on the "
        "slice (e.g. recall without ground truth)."
    )
    error: str | None
    created_at: dt.datetime


class ScenarioTestDetail(ScenarioTest):
    history: list[ScenarioResult] = Field(description="Newest first.")


class ScenarioBaseline(Schema):
    model_id: str | None = Field(None, max_length=64, description="null removes the baseline.")


class ScenarioRunCreate(Schema):
    model_id: str = Field(min_length=1, max_length=64, description="The model to evaluate.")


class ScenarioMetricOutcome(Schema):
    metric_id: str
    function: str
    arguments: dict[str, Any]
    status: Literal["passed", "failed", "no_criterion", "undefined", "error", "not_evaluated"]
    passed: bool | None
    value: float | None = None
    threshold: float | None = None
    comparison: str
    tolerance: float
    baseline_model_id: str | None = None
    baseline_value: float | None = None
    error: str | None = None


class ScenarioTestOutcome(Schema):
    scenario_test_id: str
    name: str
    slice_id: str
    status: Literal["passed", "failed", "not_evaluated"]
    passed: bool | None
    metrics: list[ScenarioMetricOutcome]


class ScenarioRun(Schema):
    """One evaluation of a model against every scenario test of the dataset."""

    evaluation_id: str
    dataset_id: str
    model_id: str
    job_id: str | None
    status: str = Field(description="The evaluation's: queued, running, done or failed.")
    passed: bool | None = Field(
        description="null until the evaluation is done; then true when every test passed."
    )
    tests: list[ScenarioTestOutcome]


class ScenarioMetricFunction(Schema):
    name: str
    arguments: dict[str, Any] = Field(description="The arguments it takes, with defaults.")
    higher_is_better: bool
    description: str


class ScenarioMetricFunctionList(Schema):
    items: list[ScenarioMetricFunction]


class ExternalFunctionCreate(Schema):
    name: str = Field(min_length=1, max_length=255, pattern=r"^\S+$")
    level: Literal["item", "scene", "track"] = Field(
        "item", description="What its values are of: items, scenes or tracks."
    )


class ExternalFunction(Schema):
    """A metric function of the sandbox whose values are computed elsewhere and uploaded."""

    id: str
    name: str
    level: str
    created_by: str | None
    created_at: dt.datetime


class ExternalFunctionList(Schema):
    items: list[ExternalFunction]


class ScenarioResultUpload(Schema):
    """An external metric's values for a model: a score and a weight (0 to 1) per entity
    (an item of the test's slice, a scene, or a track a scene declares) by reference id."""

    model_id: str = Field(min_length=1, max_length=64)
    scores: dict[str, float] = Field(min_length=1, max_length=1_000_000)
    weights: dict[str, float] | None = Field(None, description="Default: 1 for each score.")
