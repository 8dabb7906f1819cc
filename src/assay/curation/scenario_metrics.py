"""Scenario tests' metric functions, registered by name (as hosted models' runners are).

A metric function is called with a `ScenarioSlice` — one model evaluation restricted to a
scenario test's slice — and the metric's arguments as keywords, and answers a float, or None
when the metric is undefined on the slice (recall without ground truth, precision without
predictions). Raising is that metric's error for that evaluation; the others stand.

- Built-ins: `map` (COCO AP over 0.5:0.95, or AP at `iou_threshold`; one class's with
  `label`), `recall`, `precision`, `f1`, `fp_per_item` (lower is better) at an
  `iou_threshold` with a `confidence_threshold`, and `iou` (the ground truth's mean IoU with
  its match at the evaluation's writeback threshold, a missed object counting 0).
- Plugins: `register_metric(name, fn, arguments={...}, higher_is_better=...)` from a plugin
  module in ASSAY_PLUGINS, or a package's entry point in the group `assay.scenario_metrics`
  naming a `MetricFunction` (or a plain callable taking no arguments).

A `ScenarioSlice` gives what a function needs: `results` (COCO's numbers of the slice's
items, `assay.metrics.detection.Results`), `counts(...)` (TP / FP / FN), `matches` (every
evaluated object's outcome — object_id, item_id, prediction, match, iou, label) and `labels`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
import polars as pl

from assay.core.errors import Invalid
from assay.metrics.detection import MatchState, Results
from assay.metrics.detection_counts import Counts, counts, threshold_index

ENTRY_POINTS = "assay.scenario_metrics"
COMPARISONS = (">=", ">", "<=", "<")


@dataclass(frozen=True)
class MetricFunction:
    name: str
    fn: Callable[..., float | None]
    # The keyword arguments it takes, with their defaults.
    arguments: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True
    description: str = ""

    @property
    def default_comparison(self) -> str:
        return ">=" if self.higher_is_better else "<="


_functions: dict[str, MetricFunction] = {}


def register_metric(
    name: str,
    fn: Callable[..., float | None],
    *,
    arguments: dict[str, Any] | None = None,
    higher_is_better: bool = True,
    description: str = "",
) -> MetricFunction:
    """Make `fn(scenario_slice, **arguments)` a metric scenario tests can name."""
    found = MetricFunction(name, fn, dict(arguments or {}), higher_is_better, description)
    _functions[name] = found
    return found


def _from_entry_point(point: Any) -> MetricFunction:
    loaded = point.load()
    if isinstance(loaded, MetricFunction):
        return loaded
    return MetricFunction(point.name, loaded)


def _entry_points() -> list[Any]:
    return list(importlib_metadata.entry_points(group=ENTRY_POINTS))


def get_metric(name: str, field_name: str = "function") -> MetricFunction:
    """The function registered under `name` (here, or by an installed entry point)."""
    if name not in _functions:
        for point in _entry_points():
            if point.name == name:
                _functions[name] = _from_entry_point(point)
    found = _functions.get(name)
    if found is None:
        raise Invalid(
            f"no metric function named {name!r} (known: {', '.join(sorted(_functions))})",
            field=field_name,
        )
    return found


def list_metrics() -> list[MetricFunction]:
    """Every metric function: the built-ins, the plugins' and the entry points'."""
    for point in _entry_points():
        if point.name not in _functions:
            _functions[point.name] = _from_entry_point(point)
    return [_functions[name] for name in sorted(_functions)]


def _number(value: Any, name: str, field_name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise Invalid(f"{name} must be a number from {low:g} to {high:g}", field=field_name)
    return float(value)


def checked_arguments(
    function: MetricFunction, arguments: dict[str, Any] | None, field_name: str = "arguments"
) -> dict[str, Any]:
    """The arguments a metric is stored with: only names the function takes, the common
    ones (`iou_threshold`, `confidence_threshold`, `label`) type-checked."""
    given = dict(arguments or {})
    for name, value in given.items():
        where = f"{field_name}.{name}"
        if name not in function.arguments:
            takes = ", ".join(function.arguments) or "no arguments"
            raise Invalid(f"{function.name} takes {takes}; not {name!r}", field=where)
        if value is None:
            continue
        if name in ("iou_threshold", "confidence_threshold"):
            given[name] = _number(value, name, where, 0.0, 1.0)
        elif name == "label" and (not isinstance(value, str) or not value):
            raise Invalid("label must be a label's name", field=where)
    return given


def check_comparison(comparison: str, field_name: str = "comparison") -> str:
    if comparison not in COMPARISONS:
        raise Invalid(f"comparison must be one of {', '.join(COMPARISONS)}", field=field_name)
    return comparison


def meets(value: float, comparison: str, target: float) -> bool:
    return {
        ">=": value >= target,
        ">": value > target,
        "<=": value <= target,
        "<": value < target,
    }[comparison]


# --- what a function is given ----------------------------------------------------------


class ScenarioSlice:
    """One model evaluation restricted to a scenario test's items (`seqs`), read from its
    stored state; what needs more (its Results, its matches) is computed on first use."""

    def __init__(
        self,
        *,
        state: MatchState,
        seqs: np.ndarray,
        item_ids: list[str],
        labels: list[str],
        writeback_iou: float,
        matches: Callable[[], pl.DataFrame],
    ) -> None:
        self.state = state
        self.seqs = np.asarray(seqs, np.int64)
        self.item_ids = item_ids
        self.labels = labels
        self.writeback_iou = writeback_iou
        self._matches = matches

    @cached_property
    def results(self) -> Results:
        """COCO's numbers of the slice's items alone (as COCOeval with imgIds set to them)."""
        return self.state.restricted_to(self.seqs)

    @cached_property
    def matches(self) -> pl.DataFrame:
        """Every evaluated object of the slice's items at the writeback threshold: object_id,
        item_id, prediction, match (tp / fp / fn / ignored), iou, matched_id, label."""
        frame = self._matches()
        return frame.filter(pl.col("item_id").is_in(self.item_ids))

    def category(self, label: str | None) -> int | None:
        """The label's index in the evaluation (-1: the evaluation never saw it)."""
        if label is None:
            return None
        return self.labels.index(label) if label in self.labels else -1

    def counts(
        self,
        iou_threshold: float = 0.5,
        confidence_threshold: float = 0.0,
        label: str | None = None,
    ) -> Counts:
        return counts(
            self.state,
            self.seqs,
            iou_threshold=iou_threshold,
            min_score=confidence_threshold or 0.0,
            category=self.category(label),
        )


def _defined(value: float) -> float | None:
    return None if value is None or value < 0 or not math.isfinite(value) else float(value)


# --- built-ins -------------------------------------------------------------------------


def mean_average_precision(
    s: ScenarioSlice, iou_threshold: float | None = None, label: str | None = None
) -> float | None:
    results = s.results
    if iou_threshold is not None:
        iou_threshold = float(
            s.state.params.iou_thresholds[threshold_index(s.state, iou_threshold)]
        )
    if label is not None:
        k = s.category(label)
        return None if k < 0 else _defined(results.per_class_ap(iou_threshold)[k])
    if iou_threshold is None:
        return _defined(results.stats[0])
    per_class = results.per_class_ap(iou_threshold)
    per_class = per_class[per_class > -1]
    return float(np.mean(per_class)) if len(per_class) else None


def recall(s: ScenarioSlice, **arguments: Any) -> float | None:
    return s.counts(**arguments).recall


def precision(s: ScenarioSlice, **arguments: Any) -> float | None:
    return s.counts(**arguments).precision


def f1(s: ScenarioSlice, **arguments: Any) -> float | None:
    return s.counts(**arguments).f1


def false_positives_per_item(s: ScenarioSlice, **arguments: Any) -> float | None:
    return s.counts(**arguments).fp / len(s.seqs) if len(s.seqs) else None


def mean_iou(s: ScenarioSlice, label: str | None = None) -> float | None:
    objects = s.matches.filter(~pl.col("prediction") & pl.col("match").is_in(["tp", "fn"]))
    if label is not None:
        objects = objects.filter(pl.col("label") == label)
    if objects.height == 0:
        return None
    return float(objects["iou"].fill_null(0.0).mean())


COUNTED = {"iou_threshold": 0.5, "confidence_threshold": 0.0, "label": None}
register_metric(
    "map",
    mean_average_precision,
    arguments={"iou_threshold": None, "label": None},
    description="COCO AP (mean over IoU 0.5:0.95 and classes); at one iou_threshold when "
    "given; one class's with label.",
)
register_metric(
    "recall",
    recall,
    arguments=COUNTED,
    description="TP / (TP + FN) at iou_threshold, predictions scoring at least "
    "confidence_threshold; one class's with label.",
)
register_metric(
    "precision",
    precision,
    arguments=COUNTED,
    description="TP / (TP + FP) at iou_threshold and confidence_threshold; one class's with label.",
)
register_metric(
    "f1",
    f1,
    arguments=COUNTED,
    description="2 TP / (2 TP + FP + FN) at iou_threshold and confidence_threshold.",
)
register_metric(
    "fp_per_item",
    false_positives_per_item,
    arguments=COUNTED,
    higher_is_better=False,
    description="False positives per item at iou_threshold and confidence_threshold.",
)
register_metric(
    "iou",
    mean_iou,
    arguments={"label": None},
    description="Mean IoU of the ground truth with its match at the evaluation's writeback "
    "threshold (a missed object counts 0); one class's with label.",
)
