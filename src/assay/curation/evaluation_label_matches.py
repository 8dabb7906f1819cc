"""Allowed label matches of a detection evaluation (Nucleus's `allowed_label_matches`): pairs
`{"ground_truth_label", "model_prediction_label"}` that may match although their labels
differ, one way — `{"ground_truth_label": "car", "model_prediction_label": "vehicle"}` lets
a "vehicle" prediction be a "car" object's true positive, not a "car" prediction a
"vehicle" object's. With labels only (`class_agnostic` false).

Matching stays COCO's greedy matching per item, by score across the labels, each prediction
taking the best IoU among the free objects of its label or a label paired with it; the
written outcomes (TP / FP / FN, IoU, matched id) carry these matches, and a cross-label
true positive counts for the ground-truth object's label in the per-class numbers (AP,
TP, recall) — `assay.metrics.detection_labels`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assay.core.errors import Invalid
from assay.curation import models
from assay.curation.query.frames import GT
from assay.curation.snapshots import SNAPSHOTS

FIELD = "allowed_label_matches"
SIDES = ("ground_truth_label", "model_prediction_label")


def checked(params: dict[str, Any]) -> None:
    """The pairs' shape, in place (an empty list is no pairs, and dropped)."""
    pairs = params.get(FIELD)
    if pairs is None or pairs == []:
        params.pop(FIELD, None)
        return
    field = f"params.{FIELD}"
    if not isinstance(pairs, list):
        raise Invalid(f"{FIELD}: a list of {{{', '.join(SIDES)}}}", field=field)
    if params.get("class_agnostic", False):
        raise Invalid(f"{FIELD} needs class_agnostic false", field="params.class_agnostic")
    for i, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            raise Invalid(f"{FIELD}[{i}]: an object of {', '.join(SIDES)}", field=f"{field}[{i}]")
        extra = sorted(set(pair) - set(SIDES))
        if extra:
            raise Invalid(f"unknown key {extra[0]!r}", field=f"{field}[{i}].{extra[0]}")
        for side in SIDES:
            if not isinstance(pair.get(side), str) or not pair[side]:
                raise Invalid(f"{side}: a label", field=f"{field}[{i}].{side}")


def check_known(*, session: Session, dataset: models.Dataset, params: dict[str, Any]) -> None:
    """Every paired label is one the dataset knows: on its ground truth or any model's
    predictions, or in its taxonomies."""
    pairs = params.get(FIELD) or []
    if not pairs:
        return
    frames = SNAPSHOTS.get(session, dataset).frames
    known = set(frames.labels_of(GT)) | set(frames.labels_of(None))
    for taxonomy in (dataset.taxonomies or {}).values():
        known.update(str(label) for label in (taxonomy or {}).get("labels", []))
    for i, pair in enumerate(pairs):
        for side in SIDES:
            if pair[side] not in known:
                raise Invalid(
                    f"{side} {pair[side]!r}: no such label in the dataset",
                    field=f"params.{FIELD}[{i}].{side}",
                )


def category_pairs(params: dict[str, Any], labels: list[str]) -> tuple[tuple[int, int], ...]:
    """The pairs as (ground-truth, prediction) category indices into the evaluation's
    labels; pairs of a label the evaluated items do not have match nothing, and drop."""
    at = {label: k for k, label in enumerate(labels)}
    return tuple(
        (at[pair[SIDES[0]]], at[pair[SIDES[1]]])
        for pair in params.get(FIELD) or []
        if pair[SIDES[0]] in at and pair[SIDES[1]] in at
    )
