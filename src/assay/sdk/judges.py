"""`client.judges`: rubric judges as records (managers and admins) — a model of a provider
with a versioned prompt, a panel, or a cascade — their prompt versions, learned weights,
reward-hacking probe reports and verifier drift."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from assay.sdk._api.judges import JudgesAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.eval_models import DriftReport, Judge, JudgePrompt, JudgeWeights, ProbeReport
from assay.sdk.jobs import Jobs


class Judges:
    def __init__(self, http: HTTP) -> None:
        self._api = JudgesAPI(http)
        self._jobs = Jobs(http)

    def create(
        self,
        *,
        name: str,
        provider_id: str | None = None,
        model: str | None = None,
        mode: Literal["explicit", "implicit"] = "explicit",
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        prompt: dict[str, str] | None = None,
        panel: dict[str, Any] | None = None,
        cascade: dict[str, Any] | None = None,
    ) -> Judge:
        """A single judge (`provider_id` + `model`, optional `prompt` texts), a `panel`
        (`{"rule": "majority", "members": [ids]}`) or a `cascade` (`{"cheap": id, "strong":
        id, "samples": 2, "min_confidence": 0.7}`). Safe to retry."""
        body = {
            "name": name,
            "provider_id": provider_id,
            "model": model,
            "mode": mode,
            "max_tokens": max_tokens,
            "seed": seed,
            "prompt": prompt,
            "panel": panel,
            "cascade": cascade,
        }
        body = {k: v for k, v in body.items() if v is not None}
        body["temperature"] = temperature
        return self._api.create(json=body)

    def list(self, *, page_size: int | None = None) -> Iterator[Judge]:
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor, "limit": page_size}))

    def get(self, judge_id: str) -> Judge:
        """The judge with its version, its flag and its latest probe report."""
        return self._api.get(judge_id=judge_id)

    def add_prompt(self, judge_id: str, *, name: str, **texts: str) -> JudgePrompt:
        """A new prompt version (`system`, `criterion`, `rubric`; the rest as the built-in)."""
        return self._api.add_prompt(judge_id=judge_id, json={"name": name, **texts})

    def prompts(self, judge_id: str) -> list[JudgePrompt]:
        return self._api.prompts(judge_id=judge_id)

    def fit_weights(
        self, judge_id: str, pairs: list[dict[str, Any]], *, l2: float = 0.1
    ) -> JudgeWeights:
        """Criterion weights from human preference pairs (`{"met_a", "met_b", "preferred"}`)."""
        return self._api.fit_weights(judge_id=judge_id, json={"pairs": pairs, "l2": l2})

    def probe(
        self,
        judge_id: str,
        cases: list[dict[str, Any]],
        *,
        tolerance: float = 0.05,
        max_edits: int = 3,
        rewording: bool = True,
        wait: bool = True,
        timeout: float | None = None,
    ) -> ProbeReport:
        """Run the probe suite on `cases` (`{"conversation", "rubric", "reference"}`); with
        `wait`, the finished report (raises `JobFailed` if the job failed)."""
        body = {"cases": cases, "tolerance": tolerance, "max_edits": max_edits}
        report = self._api.run_probes(judge_id=judge_id, json={**body, "rewording": rewording})
        if not wait:
            return report
        if report.job_id:
            self._jobs.wait(report.job_id, timeout=timeout, poll=0.2)
        return self._api.probe_report(judge_id=judge_id, report_id=report.id)

    def probe_reports(self, judge_id: str) -> Iterator[ProbeReport]:
        return iterate(
            lambda cursor: self._api.probe_reports(judge_id=judge_id, params={"cursor": cursor})
        )

    def drift(
        self,
        judge_id: str,
        checkpoints: list[dict[str, Any]],
        *,
        min_rise: float = 0.01,
        min_fall: float = 0.01,
    ) -> DriftReport:
        """Flags where `rubric_score` rises while `independent_score` falls."""
        body = {"checkpoints": checkpoints, "min_rise": min_rise, "min_fall": min_fall}
        return self._api.drift(judge_id=judge_id, json=body)
