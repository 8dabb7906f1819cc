"""`client.calibrations`: check a judge against humans. A sample of the judge's verdicts
goes to a rubric_grading project; once the tasks are done, `report` gives the judge's
agreement with the humans per category and judge version (balanced F1, κ, bias)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.sdk._api.calibrations import CalibrationsAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.eval_models import Calibration, JudgeAgreementReport


class Calibrations:
    def __init__(self, http: HTTP) -> None:
        self._api = CalibrationsAPI(http)

    def create(
        self,
        name: str,
        *,
        project_id: str,
        verdicts: list[dict[str, Any]],
        finalize: bool = True,
    ) -> Calibration:
        """Each verdict: `messages` (or `prompt`), `response`, `criterion` (its text),
        `category`, `judge_met`, `judge_version`, optional `criterion_id` and `source`.
        Safe to retry."""
        body = {"name": name, "project_id": project_id, "verdicts": verdicts, "finalize": finalize}
        return self._api.create(json=body)

    def list(self) -> Iterator[Calibration]:
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor}))

    def get(self, calibration_id: str) -> Calibration:
        return self._api.get(calibration_id=calibration_id)

    def report(self, calibration_id: str) -> JudgeAgreementReport:
        """Agreement over the tasks the humans have completed so far."""
        return self._api.report(calibration_id=calibration_id)
