from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import (
    Evaluation,
    EvaluationBrief,
    EvaluationComparison,
    EvaluationMatch,
    EvaluationSliceMetrics,
    Page,
)


class EvaluationsAPI(API):
    start = endpoint("POST", "/datasets/{dataset_id}/evaluations", returns=Evaluation, create=True)
    list = endpoint("GET", "/datasets/{dataset_id}/evaluations", returns=Page[EvaluationBrief])
    get = endpoint("GET", "/datasets/{dataset_id}/evaluations/{evaluation_id}", returns=Evaluation)
    of_slice = endpoint(
        "GET",
        "/datasets/{dataset_id}/evaluations/{evaluation_id}/slices/{slice_id}",
        returns=EvaluationSliceMetrics,
    )
    matches = endpoint(
        "GET",
        "/datasets/{dataset_id}/evaluations/{evaluation_id}/matches",
        returns=Page[EvaluationMatch],
    )
    compare = endpoint(
        "GET", "/datasets/{dataset_id}/evaluations/compare", returns=EvaluationComparison
    )
