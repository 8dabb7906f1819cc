from __future__ import annotations

import builtins

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import DriftReport, Judge, JudgePrompt, JudgeWeights, ProbeReport
from assay.sdk.models import Page


class JudgesAPI(API):
    create = endpoint("POST", "/judges", returns=Judge, create=True)
    list = endpoint("GET", "/judges", returns=Page[Judge])
    get = endpoint("GET", "/judges/{judge_id}", returns=Judge)
    add_prompt = endpoint("POST", "/judges/{judge_id}/prompts", returns=JudgePrompt)
    prompts = endpoint("GET", "/judges/{judge_id}/prompts", returns=builtins.list[JudgePrompt])
    fit_weights = endpoint("POST", "/judges/{judge_id}/weights", returns=JudgeWeights)
    run_probes = endpoint("POST", "/judges/{judge_id}/probes", returns=ProbeReport)
    probe_reports = endpoint("GET", "/judges/{judge_id}/probes", returns=Page[ProbeReport])
    probe_report = endpoint("GET", "/judges/{judge_id}/probes/{report_id}", returns=ProbeReport)
    drift = endpoint("POST", "/judges/{judge_id}/drift", returns=DriftReport)
