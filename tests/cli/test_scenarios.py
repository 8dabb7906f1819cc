"""`assay scenarios` in process: the list of a dataset's tests, and `run`'s refusals (an
unknown model, a dataset without tests) exit nonzero saying why. A run that evaluates, passes
and fails is tests/e2e/test_scenarios.py, against a real server."""

from __future__ import annotations

import json

from assay.curation import datasets, ml_models, scenarios, slices
from assay.curation.scenario_schemas import ScenarioMetricCreate, ScenarioTestCreate


def test_list_and_refusals(cli, db):
    with db.write() as session:
        dataset = datasets.create_dataset(session=session, mode="live", name="d", created_by=None)
        empty = datasets.create_dataset(session=session, mode="live", name="e", created_by=None)
        ml_models.create_model(
            session=session, mode="live", name="det", reference_id="det-1", created_by=None
        )
        chosen = slices.create_slice(
            session=session, dataset=dataset, name="all", created_by=None, reference_ids=[]
        )
        scenarios.create_test(
            session=session,
            dataset=dataset,
            test_in=ScenarioTestCreate(
                name="night",
                slice_id=chosen.id,
                metrics=[
                    ScenarioMetricCreate(function="map", threshold=0.5),
                    ScenarioMetricCreate(function="recall", arguments={"iou_threshold": 0.75}),
                ],
            ),
            baseline=None,
            created_by=None,
        )
        dataset_id, empty_id = dataset.id, empty.id
    listed = cli("scenarios", "list", "--dataset", "d")
    assert listed.exit_code == 0, listed.output
    assert "night" in listed.stdout and "map() >= 0.5" in listed.stdout
    assert "recall(iou_threshold=0.75)" in listed.stdout
    rows = json.loads(cli("scenarios", "list", "--dataset", dataset_id, "--json").stdout)
    assert [len(r["metrics"]) for r in rows] == [2]

    unknown = cli("scenarios", "run", "--model", "nope", "--dataset", dataset_id)
    assert unknown.exit_code == 1
    assert "no model with id, reference id or name 'nope'" in unknown.stderr
    untested = cli("scenarios", "run", "--model", "det", "--dataset", empty_id)
    assert untested.exit_code == 1 and "no scenario tests" in untested.stderr
    assert "no scenario tests in this dataset" in cli("scenarios", "list", "--dataset", "e").stdout
