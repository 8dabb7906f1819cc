"""Issue 17 acceptance 3: a scenario test fails on a worse model and passes on its baseline,
`assay scenarios run` exits nonzero for the worse one and zero for the good ones, and the
regression's webhook is delivered signed to a receiver — against a real `assay serve` whose
workers run the evaluations, with a custom metric loaded as a plugin (ASSAY_PLUGINS)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

import assay
from assay.core.webhooks import verify_signature
from tests.support.receiver import Receiver
from tests.support.scenario_data import scenario_data
from tests.support.servers import LiveServer, env_for

pytestmark = pytest.mark.live
pytest.importorskip("pycocotools")
PLUGINS = {"ASSAY_PLUGINS": '["tests.support.scenario_metrics"]'}


@pytest.fixture
def server(settings, dialect, tmp_path) -> Iterator[LiveServer]:
    if dialect != "sqlite":
        pytest.skip("the API's scenario tests cover PostgreSQL; this one, processes and CLI")
    live = LiveServer(settings, tmp_path / "serve.log", **PLUGINS)
    try:
        yield live
    finally:
        live.stop()


def scenarios_run(settings, model: str, dataset: str) -> subprocess.CompletedProcess:
    """`assay scenarios run` in its own process, on the server's database."""
    args = ["scenarios", "run", "--model", model, "--dataset", dataset, "--interval", "0.1"]
    return subprocess.run(
        [sys.executable, "-m", "assay", *args],
        env={**env_for(settings), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_regression_fails_the_cli_and_fires_its_webhook(server, settings, accounts):
    data = scenario_data()
    with assay.Client(server.url, accounts.make("manager").key) as client, Receiver() as receiver:
        hook = client.webhooks.create(url=receiver.url, events=["scenario_test.regressed"])
        dataset = client.datasets.create("streets")
        client.datasets.append(dataset.id, data["items"])
        baseline = client.models.create("baseline", reference_id="detector-v1")
        candidate = client.models.create("candidate", reference_id="detector-v2")
        for model in (baseline, candidate):
            client.models.upload_predictions(dataset.id, model.id, data["good"])
        chosen = client.slices.create(dataset.id, "every third", reference_ids=data["slice"])
        client.evaluations.evaluate(dataset.id, baseline.id)
        test = client.scenarios.create(
            dataset.id,
            "every third image",
            chosen.id,
            [
                {"function": "map"},
                {"function": "recall", "arguments": {"iou_threshold": 0.5}, "threshold": 0.5},
                {"function": "missed_share", "threshold": 0.6},
            ],
            baseline_model_id=baseline.id,
        )

        # The baseline by name, the candidate as good as it through the SDK: both pass.
        passed = scenarios_run(settings, "baseline", dataset.id)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert "all 1 scenario tests passed" in passed.stdout
        assert passed.stdout.count("PASS") == 3 and "FAIL" not in passed.stdout
        good = client.scenarios.run_and_wait(dataset.id, candidate.id)
        assert good.passed is True and good.failed == []

        # Its worse version, by reference id: exits 1, every metric failing.
        client.models.upload_predictions(dataset.id, candidate.id, data["worse"])
        failed = scenarios_run(settings, "detector-v2", dataset.id)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert failed.stdout.count("FAIL") == 3
        assert "1 of 1 scenario tests did not pass: every third image" in failed.stderr
        assert "recall(iou_threshold=0.5)" in failed.stdout and ">= 0.5" in failed.stdout
        assert "baseline 0." in failed.stdout

        deliveries = receiver.wait_for(3, timeout=60)
        for delivery in deliveries:
            assert delivery.headers["assay-event"] == "scenario_test.regressed"
            assert verify_signature(hook.secret, delivery.headers["assay-signature"], delivery.body)
        events = {
            e["data"]["metric"]["function"]: e["data"]
            for e in (json.loads(d.body) for d in deliveries)
        }
        assert set(events) == {"map", "recall", "missed_share"}
        assert {e["scenario_test"]["id"] for e in events.values()} == {test.id}
        assert {e["model"]["reference_id"] for e in events.values()} == {"detector-v2"}
        assert {e["previous_evaluation_id"] for e in events.values()} == {good.evaluation_id}
        assert events["recall"]["value"] < 0.5 <= events["recall"]["previous_value"]

        history = client.scenarios.get(dataset.id, test.id).history
        assert [r.passed for r in history[:3]] == [False, False, False]
        assert len(history) == 9  # three evaluations after the test was made, three metrics
