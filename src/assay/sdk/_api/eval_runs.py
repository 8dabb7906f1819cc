from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import EvalRun, EvalRunResultPage
from assay.sdk.models import Page


class EvalRunsAPI(API):
    create = endpoint("POST", "/eval-runs", returns=EvalRun, create=True)
    list = endpoint("GET", "/eval-runs", returns=Page[EvalRun])
    get = endpoint("GET", "/eval-runs/{run_id}", returns=EvalRun)
    cancel = endpoint("POST", "/eval-runs/{run_id}/cancel", returns=EvalRun)
    results = endpoint("GET", "/eval-runs/{run_id}/results", returns=EvalRunResultPage)
