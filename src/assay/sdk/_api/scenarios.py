from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import (
    Page,
    ScenarioMetric,
    ScenarioMetricFunction,
    ScenarioRun,
    ScenarioTest,
    ScenarioTestDetail,
)

TESTS = "/datasets/{dataset_id}/scenario-tests"
TEST = TESTS + "/{scenario_test_id}"


class ScenariosAPI(API):
    functions = endpoint("GET", "/scenario-metrics", returns=Page[ScenarioMetricFunction])
    create = endpoint("POST", TESTS, returns=ScenarioTest, create=True)
    list = endpoint("GET", TESTS, returns=Page[ScenarioTest])
    get = endpoint("GET", TEST, returns=ScenarioTestDetail)
    delete = endpoint("DELETE", TEST)
    add_metric = endpoint("POST", TEST + "/metrics", returns=ScenarioMetric, create=True)
    update_metric = endpoint("PATCH", TEST + "/metrics/{metric_id}", returns=ScenarioMetric)
    delete_metric = endpoint("DELETE", TEST + "/metrics/{metric_id}")
    set_baseline = endpoint("PUT", TEST + "/baseline", returns=ScenarioTest)
    run = endpoint("POST", TESTS + "/run", returns=ScenarioRun, create=True)
    get_run = endpoint("GET", TESTS + "/runs/{evaluation_id}", returns=ScenarioRun)
    rerun = endpoint("POST", TESTS + "/runs/{evaluation_id}", returns=ScenarioRun)
