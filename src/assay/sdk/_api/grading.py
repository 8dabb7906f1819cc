from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import GradingResult


class GradingAPI(API):
    # Safe to repeat: verdicts are cached by question, so a retried batch makes no new call.
    grade = endpoint("POST", "/grading", returns=GradingResult, retry=True)
