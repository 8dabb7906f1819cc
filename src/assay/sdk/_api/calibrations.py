from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import Calibration, JudgeAgreementReport
from assay.sdk.models import Page


class CalibrationsAPI(API):
    create = endpoint("POST", "/calibrations", returns=Calibration, create=True)
    list = endpoint("GET", "/calibrations", returns=Page[Calibration])
    get = endpoint("GET", "/calibrations/{calibration_id}", returns=Calibration)
    report = endpoint("GET", "/calibrations/{calibration_id}/report", returns=JudgeAgreementReport)
