"""A custom scenario metric, registered as a plugin registers one (ASSAY_PLUGINS names this
module, or a test imports it): the share of the slice's objects the model missed."""

from __future__ import annotations

from typing import Any

from assay.curation.scenario_metrics import register_metric


def missed_share(s: Any, label: str | None = None) -> float | None:
    objects = s.matches.filter(~s.matches["prediction"])
    if label is not None:
        objects = objects.filter(objects["label"] == label)
    return (objects["match"] == "fn").mean() if objects.height else None


register_metric(
    "missed_share",
    missed_share,
    arguments={"label": None},
    higher_is_better=False,
    description="The share of the slice's objects the model missed (a test plugin).",
)
