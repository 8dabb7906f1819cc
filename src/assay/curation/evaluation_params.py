"""An evaluation's parameters checked, with their defaults filled in, per task: a 422
naming `params.<name>` for anything wrong (`evaluations.start_evaluation`)."""

from __future__ import annotations

from typing import Any

from assay.core.errors import Invalid
from assay.curation import evaluation_label_matches, evaluation_segmentation, evaluation_spans

IOU_TYPES = ("bbox", "segm", "keypoints")


def _classification(params: dict[str, Any]) -> dict[str, Any]:
    unknown = set(params) - {"top_k"}
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(f"unknown parameter {name!r} for classification", field=f"params.{name}")
    top_k = params.setdefault("top_k", [1, 5])
    if not isinstance(top_k, list) or not all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in top_k
    ):
        raise Invalid("top_k: a list of positive integers", field="params.top_k")
    return params


def checked(params: dict[str, Any] | None, task: str = "detection") -> dict[str, Any]:
    params = dict(params or {})
    if task == "classification":
        return _classification(params)
    if task == "spans":
        return evaluation_spans.checked_params(params, lambda m, f: Invalid(m, field=f))
    if task == "segmentation":
        return evaluation_segmentation.checked_params(params, lambda m, f: Invalid(m, field=f))
    if task != "detection":
        raise Invalid("task must be detection, classification, segmentation or spans", field="task")
    known = {
        "iou_type", "iou_threshold", "iou_thresholds", "max_detections", "class_agnostic",
        "keypoint_sigmas", "allowed_label_matches",
    }  # fmt: skip
    unknown = set(params) - known
    if unknown:
        raise Invalid(
            f"unknown parameter {sorted(unknown)[0]!r}", field=f"params.{sorted(unknown)[0]}"
        )
    iou_type = params.setdefault("iou_type", "bbox")
    if iou_type not in IOU_TYPES:
        raise Invalid(f"iou_type must be one of {', '.join(IOU_TYPES)}", field="params.iou_type")
    thresholds = params.setdefault("iou_thresholds", [round(0.5 + 0.05 * i, 2) for i in range(10)])
    if (
        not isinstance(thresholds, list)
        or not thresholds
        or not all(isinstance(t, int | float) and 0 <= t <= 1 for t in thresholds)
    ):
        raise Invalid(
            "iou_thresholds: a list of numbers between 0 and 1", field="params.iou_thresholds"
        )
    threshold = params.setdefault("iou_threshold", 0.5)
    if not isinstance(threshold, int | float) or not any(
        abs(threshold - t) < 1e-9 for t in thresholds
    ):
        raise Invalid(
            "iou_threshold (the one matches are written back at) must be one of iou_thresholds",
            field="params.iou_threshold",
        )
    if not isinstance(params.setdefault("class_agnostic", False), bool):
        raise Invalid("class_agnostic must be true or false", field="params.class_agnostic")
    evaluation_label_matches.checked(params)
    if "keypoint_sigmas" in params and iou_type != "keypoints":
        raise Invalid("keypoint_sigmas is for iou_type keypoints", field="params.keypoint_sigmas")
    sigmas = params.setdefault("keypoint_sigmas", {}) if iou_type == "keypoints" else None
    if sigmas is not None and (
        not isinstance(sigmas, dict)
        or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            for v in sigmas.values()
        )
    ):
        raise Invalid("keypoint_sigmas: {keypoint name: sigma > 0}", field="params.keypoint_sigmas")
    default_max = [20] if iou_type == "keypoints" else [1, 10, 100]
    max_det = params.setdefault("max_detections", default_max)
    if (
        not isinstance(max_det, list)
        or not max_det
        or not all(isinstance(m, int) and m >= 1 for m in max_det)
    ):
        raise Invalid("max_detections: a list of positive integers", field="params.max_detections")
    return params
