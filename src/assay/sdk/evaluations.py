"""`client.evaluations`: a model's predictions evaluated against a dataset's ground truth
(the COCO protocol — pycocotools' numbers), as a job: metrics for the Models page, every
object's outcome written back (queryable: `prediction.match = fp`), a slice re-evaluated
from the stored matches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from assay.sdk._api.evaluations import EvaluationsAPI
from assay.sdk._http import HTTP
from assay.sdk.jobs import Jobs
from assay.sdk.models import (
    Evaluation,
    EvaluationBrief,
    EvaluationComparison,
    EvaluationMatch,
    EvaluationSliceMetrics,
)
from assay.sdk.query import Expr


class Evaluations:
    def __init__(self, http: HTTP) -> None:
        self._api = EvaluationsAPI(http)
        self._jobs = Jobs(http)

    def start(
        self,
        dataset_id: str,
        model_id: str,
        *,
        slice_id: str | None = None,
        query: str | Expr | None = None,
        name: str | None = None,
        iou_threshold: float | None = None,
        iou_thresholds: list[float] | None = None,
        max_detections: list[int] | None = None,
        task: str = "detection",
        top_k: list[int] | None = None,
        iou_type: str | None = None,
        class_agnostic: bool | None = None,
        allowed_label_matches: Sequence[tuple[str, str]] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Evaluation:
        """Queue the evaluation (of the slice's or the query's items, or all); `wait` for it.
        `iou_type` "segm" compares polygons and masks as pixels, "keypoints" by OKS;
        `task="classification"` compares each item's category with the model's,
        `task="spans"` text spans (`params={"mode": "partial", "min_iou": 0.5}`). `params`
        passes any other parameter of the API's. `allowed_label_matches`: (ground-truth label,
        prediction label) pairs that may match, one way — `[("car", "vehicle")]` lets a
        "vehicle" prediction be a "car" object's true positive (counted for "car")."""
        params = dict(params or {})
        if class_agnostic is not None:
            params["class_agnostic"] = class_agnostic
        if allowed_label_matches is not None:
            params["allowed_label_matches"] = [
                {"ground_truth_label": truth, "model_prediction_label": predicted}
                for truth, predicted in allowed_label_matches
            ]
        if iou_type is not None:
            params["iou_type"] = iou_type
        if top_k is not None:
            params["top_k"] = top_k
        if iou_threshold is not None:
            params["iou_threshold"] = iou_threshold
        if iou_thresholds is not None:
            params["iou_thresholds"] = iou_thresholds
        if max_detections is not None:
            params["max_detections"] = max_detections
        body: dict[str, Any] = {"model_id": model_id, "slice_id": slice_id, "name": name}
        body["task"] = task
        body["query"] = query.to_json() if isinstance(query, Expr) else query
        if params:
            body["params"] = params
        return self._api.start(dataset_id=dataset_id, json=body)

    def wait(self, evaluation: Evaluation, *, timeout: float | None = None) -> Evaluation:
        """The evaluation once its job finished (raises `JobFailed` if it failed)."""
        if evaluation.job_id:
            self._jobs.wait(evaluation.job_id, timeout=timeout)
        return self.get(evaluation.dataset_id, evaluation.id)

    def evaluate(self, dataset_id: str, model_id: str, **options: Any) -> Evaluation:
        """`start`, then `wait`: the finished evaluation with its metrics."""
        return self.wait(self.start(dataset_id, model_id, **options))

    def list(self, dataset_id: str, *, model_id: str | None = None) -> list[EvaluationBrief]:
        params = {"model_id": model_id} if model_id else None
        return self._api.list(dataset_id=dataset_id, params=params).items

    def get(self, dataset_id: str, evaluation_id: str) -> Evaluation:
        return self._api.get(dataset_id=dataset_id, evaluation_id=evaluation_id)

    def of_slice(
        self, dataset_id: str, evaluation_id: str, slice_id: str
    ) -> EvaluationSliceMetrics:
        """The evaluation restricted to a slice, from the stored matches (nothing re-matched)."""
        return self._api.of_slice(
            dataset_id=dataset_id, evaluation_id=evaluation_id, slice_id=slice_id
        )

    def compare(
        self, dataset_id: str, base_id: str, new_id: str, *, limit: int = 50
    ) -> EvaluationComparison:
        """Two evaluations side by side: summary and per-class deltas (new - base) and the
        items where the new model does worse, worst first."""
        return self._api.compare(
            dataset_id=dataset_id, params={"base": base_id, "new": new_id, "limit": limit}
        )

    def matches(
        self,
        dataset_id: str,
        evaluation_id: str,
        *,
        match: str | None = None,
        item_id: str | None = None,
    ) -> Iterator[EvaluationMatch]:
        """Every evaluated object's outcome (tp / fp / fn / ignored), a page at a time."""
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            for key, value in (("match", match), ("item_id", item_id), ("cursor", cursor)):
                if value is not None:
                    params[key] = value
            page = self._api.matches(
                dataset_id=dataset_id, evaluation_id=evaluation_id, params=params
            )
            yield from page.items
            cursor = page.next_cursor
            if not cursor:
                return
