from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import HumanEvaluation, HumanEvaluationResults
from assay.sdk.models import Page


class HumanEvaluationsAPI(API):
    create = endpoint("POST", "/human-evaluations", returns=HumanEvaluation, create=True)
    list = endpoint("GET", "/human-evaluations", returns=Page[HumanEvaluation])
    get = endpoint("GET", "/human-evaluations/{human_evaluation_id}", returns=HumanEvaluation)
    results = endpoint(
        "GET",
        "/human-evaluations/{human_evaluation_id}/results",
        returns=HumanEvaluationResults,
    )
