"""`client.scenarios`: scenario tests (Scale's Validate) — a dataset's slice and the metrics
a model must reach on it, each against a threshold or a baseline model; every evaluation of
a model on the dataset is checked against them and kept in their history.

    test = client.scenarios.create(dataset_id, "night", slice_id, [
        {"function": "map", "threshold": 0.5},
        {"function": "recall", "arguments": {"iou_threshold": 0.5}, "threshold": 0.8},
    ], baseline_model_id=production.id)
    table = client.scenarios.run_and_wait(dataset_id, candidate.id)
    assert table.passed, [t.name for t in table.failed]
"""

from __future__ import annotations

from typing import Any

from assay.sdk._api.scenarios import ScenariosAPI
from assay.sdk._http import HTTP
from assay.sdk.jobs import Jobs
from assay.sdk.models import (
    ScenarioMetric,
    ScenarioMetricFunction,
    ScenarioRun,
    ScenarioTest,
    ScenarioTestDetail,
)


def _metric(
    function: str,
    arguments: dict[str, Any] | None,
    threshold: float | None,
    comparison: str | None,
    tolerance: float | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"function": function, "arguments": arguments or {}}
    for key, value in (
        ("threshold", threshold),
        ("comparison", comparison),
        ("tolerance", tolerance),
    ):
        if value is not None:
            body[key] = value
    return body


class Scenarios:
    def __init__(self, http: HTTP) -> None:
        self._api = ScenariosAPI(http)
        self._jobs = Jobs(http)

    def functions(self) -> list[ScenarioMetricFunction]:
        """The metric functions tests can use (built-ins and the server's plugins)."""
        return self._api.functions().items

    def create(
        self,
        dataset_id: str,
        name: str,
        slice_id: str,
        metrics: list[dict[str, Any]],
        *,
        baseline_model_id: str | None = None,
    ) -> ScenarioTest:
        """A test of a slice: `metrics` are `{"function", "arguments", "threshold",
        "comparison", "tolerance"}` (only `function` is required)."""
        body: dict[str, Any] = {"name": name, "slice_id": slice_id, "metrics": metrics}
        if baseline_model_id is not None:
            body["baseline_model_id"] = baseline_model_id
        return self._api.create(dataset_id=dataset_id, json=body)

    def list(self, dataset_id: str) -> list[ScenarioTest]:
        tests: list[ScenarioTest] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self._api.list(dataset_id=dataset_id, params=params)
            tests += page.items
            cursor = page.next_cursor
            if not cursor:
                return tests

    def get(self, dataset_id: str, test_id: str, *, history: int = 100) -> ScenarioTestDetail:
        """The test with its metrics and its latest `history` results, newest first."""
        return self._api.get(
            dataset_id=dataset_id, scenario_test_id=test_id, params={"history": history}
        )

    def delete(self, dataset_id: str, test_id: str) -> None:
        self._api.delete(dataset_id=dataset_id, scenario_test_id=test_id)

    def add_metric(
        self,
        dataset_id: str,
        test_id: str,
        function: str,
        *,
        arguments: dict[str, Any] | None = None,
        threshold: float | None = None,
        comparison: str | None = None,
        tolerance: float | None = None,
    ) -> ScenarioMetric:
        return self._api.add_metric(
            dataset_id=dataset_id,
            scenario_test_id=test_id,
            json=_metric(function, arguments, threshold, comparison, tolerance),
        )

    def update_metric(
        self, dataset_id: str, test_id: str, metric_id: str, **changes: Any
    ) -> ScenarioMetric:
        """Change `threshold` (None removes it), `comparison` or `tolerance`."""
        return self._api.update_metric(
            dataset_id=dataset_id, scenario_test_id=test_id, metric_id=metric_id, json=changes
        )

    def delete_metric(self, dataset_id: str, test_id: str, metric_id: str) -> None:
        self._api.delete_metric(
            dataset_id=dataset_id, scenario_test_id=test_id, metric_id=metric_id
        )

    def set_baseline(self, dataset_id: str, test_id: str, model_id: str | None) -> ScenarioTest:
        """The model each metric must not fall below (None removes the baseline)."""
        return self._api.set_baseline(
            dataset_id=dataset_id, scenario_test_id=test_id, json={"model_id": model_id}
        )

    def run(self, dataset_id: str, model_id: str) -> ScenarioRun:
        """Start evaluating the model against every test of the dataset; `wait` for it."""
        return self._api.run(dataset_id=dataset_id, json={"model_id": model_id})

    def wait(self, run: ScenarioRun, *, timeout: float | None = None) -> ScenarioRun:
        """The run's table once its evaluation finished (raises `JobFailed` if it failed)."""
        if run.job_id:
            self._jobs.wait(run.job_id, timeout=timeout)
        return self.table(run.dataset_id, run.evaluation_id)

    def run_and_wait(
        self, dataset_id: str, model_id: str, *, timeout: float | None = None
    ) -> ScenarioRun:
        return self.wait(self.run(dataset_id, model_id), timeout=timeout)

    def table(self, dataset_id: str, evaluation_id: str) -> ScenarioRun:
        """An evaluation against every test of its dataset."""
        return self._api.get_run(dataset_id=dataset_id, evaluation_id=evaluation_id)

    def record(self, dataset_id: str, evaluation_id: str) -> ScenarioRun:
        """Check a finished evaluation against the tests again from its stored matches
        (tests or metrics added since it ran)."""
        return self._api.rerun(dataset_id=dataset_id, evaluation_id=evaluation_id)
