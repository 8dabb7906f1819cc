"""`client.eval_runs`: run a model on an evaluation set's version — scorers, a rubric judge,
samples per item — follow its progress and read its results (each page read is logged in
the set's read log)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from assay.sdk._api.eval_runs import EvalRunsAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.eval_models import EvalRun, EvalRunResult

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


class EvalRuns:
    def __init__(self, http: HTTP) -> None:
        self._api = EvalRunsAPI(http)

    def create(
        self,
        *,
        set_id: str,
        provider_id: str,
        model: str,
        set_version: int | None = None,
        scorers: list[dict[str, Any]] | None = None,
        judge: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        name: str = "",
    ) -> EvalRun:
        """Start a run. `scorers`: `[{"name": "exact_match", "options": {}}]`; `judge`:
        `{"provider_id", "model", "mode": "explicit"}` or a `panel`; `params`: temperature,
        max_tokens, system_prompt, samples, concurrency, seed, recorded. Safe to retry."""
        body: dict[str, Any] = {
            "set_id": set_id,
            "provider_id": provider_id,
            "model": model,
            "set_version": set_version,
            "scorers": scorers or [],
            "judge": judge,
            "params": params or {},
            "name": name,
        }
        return self._api.create(json={k: v for k, v in body.items() if v is not None})

    def list(self, *, set_id: str | None = None) -> Iterator[EvalRun]:
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor, "set_id": set_id}))

    def get(self, run_id: str) -> EvalRun:
        return self._api.get(run_id=run_id)

    def cancel(self, run_id: str) -> EvalRun:
        return self._api.cancel(run_id=run_id)

    def wait(self, run_id: str, *, timeout: float = 3600, interval: float = 0.5) -> EvalRun:
        """The run once it has ended (succeeded, failed or cancelled)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(run_id)
            if run.status in TERMINAL or time.monotonic() > deadline:
                return run
            time.sleep(interval)

    def results(
        self,
        run_id: str,
        *,
        tag: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        errors_only: bool = False,
        page_size: int | None = None,
    ) -> Iterator[EvalRunResult]:
        """Every result row (response, scores, verdicts) in item order, filtered."""
        params = {
            "tag": tag,
            "min_score": min_score,
            "max_score": max_score,
            "errors_only": errors_only or None,
            "limit": page_size,
        }
        return iterate(
            lambda cursor: self._api.results(run_id=run_id, params={"cursor": cursor, **params})
        )
