"""`Dataset.calculate_evaluation_metrics(model)` through the official client: an evaluation
of the model's predictions (class-agnostic, Nucleus's default) whose job the client follows,
after which the server knows every prediction's outcome."""

from __future__ import annotations

import httpx
import pytest

from assay.compat import nucleus_format as fmt
from tests.conftest import Account

pytestmark = pytest.mark.live


def test_calculate_evaluation_metrics_evaluates_the_model(
    nucleus, manager: Account, server
) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxAnnotation, BoxPrediction
from nucleus.job import AsyncJob
ds = client.create_dataset("evaluated")
ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}")
           for n in range(3)]).sleep_until_complete(verbose_std_out=False)
ds.annotate([BoxAnnotation(label="car", x=10, y=10, width=20, height=20, reference_id=f"img-{n}",
                           annotation_id=f"gt-{n}") for n in range(3)])
model = client.create_model(name="det", reference_id="det-eval")
ds.upload_predictions(model, [
    BoxPrediction(label="truck", x=11, y=11, width=20, height=20, reference_id="img-0",
                  annotation_id="p0", confidence=0.9),      # another label: class-agnostic TP
    BoxPrediction(label="car", x=100, y=100, width=5, height=5, reference_id="img-1",
                  annotation_id="p1", confidence=0.8),      # nowhere near: FP
])
answer = ds.calculate_evaluation_metrics(model)
job = AsyncJob.from_json(answer, client)
job.sleep_until_complete(verbose_std_out=False)
run_id = [r for r in ds.info().model_run_ids if model.id[4:] in r][0]
def matches(query, mode):
    return sorted(
        [m.confusion_category.value, m.model_prediction_id, m.ground_truth_annotation_id,
         m.model_prediction_label, m.ground_truth_annotation_label, m.iou, m.dataset_item_id,
         m.model_run_id == run_id]
        for m in ds.query_objects(query, mode, run_id))
result = {"evaluation_id": answer["evaluation_id"], "status": job.status(), "dataset": ds.id,
          "item_ids": {i.reference_id: i.dataset_item_id for i in ds.items},
          "iou": matches("", "iou"), "fp": matches("", "false_positive"),
          "fn": matches("", "false_negative"),
          "confident": matches("prediction.confidence > 0.85", "iou"), "model": model.id}
# The matches' ids are the objects' internal ids: a slice of the false positives.
fps = [m.model_prediction_id for m in ds.query_objects("", "false_positive", run_id)]
fp_slice = ds.create_slice_by_ids("fps", prediction_ids=fps)
result["fp_slice"] = [o.annotation_id for o in fp_slice.items]
""",
    )
    assert got["status"]["status"] == "Completed", got
    # Dataset.query_objects' matching modes: Nucleus's EvaluationMatch rows of the run's
    # latest evaluation (the client infers each row's confusion category).
    # Their ids are the objects' internal ids (docs/nucleus-wire.md §1, "Object ids").
    item = got["item_ids"]
    model = got["model"].removeprefix("prj_")

    def gt(n: int) -> str:
        return f"ann_{item[f'img-{n}'].removeprefix('di_')}_gt-{n}"

    def pred(n: int) -> str:
        return f"pred_{item[f'img-{n}'].removeprefix('di_')}_{model}_p{n}"

    p0_iou = _iou((11, 11, 20, 20), (10, 10, 20, 20))
    tp = ["true_positive", pred(0), gt(0), "truck", "car", p0_iou, item["img-0"], True]
    fp = ["false_positive", pred(1), None, "car", None, 0.0, item["img-1"], True]
    fns = [
        ["false_negative", None, gt(n), None, "car", 0.0, item[f"img-{n}"], True] for n in (1, 2)
    ]
    *misses, matched = got["iou"]
    assert matched[:5] == tp[:5] and matched[5] == pytest.approx(p0_iou) and matched[6:] == tp[6:]
    assert misses == [*fns, fp]
    assert got["fp"] == [fp]
    assert got["fn"] == fns
    assert [m[1] for m in got["confident"]] == [pred(0)]
    assert got["fp_slice"] == ["p1"]
    dataset_id = fmt.assay_id(fmt.DATASET, got["dataset"])
    with httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {manager.key}"}
    ) as http:
        evaluation = http.get(f"/datasets/{dataset_id}/evaluations/{got['evaluation_id']}").json()
        assert evaluation["params"]["class_agnostic"] is True
        assert evaluation["metrics"]["totals"] == {"tp": 1, "fp": 1, "fn": 2}
        fps = http.post(
            f"/datasets/{dataset_id}/query",
            json={"query": "prediction.match = fp", "view": "objects"},
        ).json()
        assert fps["count"] == 1 and fps["items"][0]["label"] == "car"


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Two boxes' (x, y, width, height) intersection over union."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def test_allowed_label_matches_pair_labels_one_way(nucleus, manager: Account, server) -> None:
    """`allowed_label_matches` (with `class_agnostic` false): a "truck" prediction over a car
    is a true positive with the pair (car <- truck), through calculate_evaluation_metrics and
    ModelRun.commit alike; a car prediction over a truck stays a false positive (one way);
    bad pairs are a 400 naming the option."""
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxAnnotation, BoxPrediction
from nucleus.job import AsyncJob
ds = client.create_dataset("paired")
ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}")
           for n in range(2)]).sleep_until_complete(verbose_std_out=False)
ds.annotate([BoxAnnotation(label="car", x=10, y=10, width=20, height=20, reference_id="img-0",
                           annotation_id="gt-0"),
             BoxAnnotation(label="truck", x=10, y=10, width=20, height=20, reference_id="img-1",
                           annotation_id="gt-1")])
model = client.create_model(name="det", reference_id="det-pairs")
ds.upload_predictions(model, [
    BoxPrediction(label="truck", x=11, y=11, width=20, height=20, reference_id="img-0",
                  annotation_id="p0", confidence=0.9),      # over the car: TP with the pair
    BoxPrediction(label="car", x=11, y=11, width=20, height=20, reference_id="img-1",
                  annotation_id="p1", confidence=0.8),      # over the truck: the other way
])
run_id = [r for r in ds.info().model_run_ids if model.id[4:] in r][0]
pairs = [{"ground_truth_label": "car", "model_prediction_label": "truck"}]
def matches():
    return sorted(
        [m.confusion_category.value, m.model_prediction_label, m.ground_truth_annotation_label]
        for m in ds.query_objects("", "iou", run_id))
def refusal(options):
    try:
        ds.calculate_evaluation_metrics(model, options=options)
    except Exception as error:
        return str(error)
answer = ds.calculate_evaluation_metrics(
    model, options={"class_agnostic": False, "allowed_label_matches": pairs})
AsyncJob.from_json(answer, client).sleep_until_complete(verbose_std_out=False)
result = {"dataset": ds.id, "evaluated": answer["evaluation_id"], "paired": matches()}
# ModelRun.commit with the payload: the same matching (class_agnostic assumed false).
run = client.get_model_run(run_id, ds.id)
committed = run.commit({"allowed_label_matches": pairs})
result["committed"] = committed
client.get_job(committed["job_id"]).sleep_until_complete(verbose_std_out=False)
result["after_commit"] = matches()
result["refusals"] = [
    refusal({"class_agnostic": False, "allowed_label_matches": [
        {"ground_truth_label": "bus", "model_prediction_label": "truck"}]}),
    refusal({"allowed_label_matches": [pairs[0], {"ground_truth_label": "car"}]}),
    refusal({"allowed_label_matches": "car"}),
    refusal({"class_agnostic": True, "allowed_label_matches": pairs}),
]
""",
    )
    paired = [
        ["false_negative", None, "truck"],
        ["false_positive", "car", None],
        ["true_positive", "truck", "car"],
    ]
    assert got["paired"] == paired
    assert got["committed"]["model_run_id"] and got["committed"]["evaluation_id"]
    assert got["after_commit"] == paired
    unknown, missing, malformed, agnostic = got["refusals"]
    assert "allowed_label_matches[0].ground_truth_label" in unknown and "400" in unknown
    assert "allowed_label_matches[1].model_prediction_label" in missing
    assert "allowed_label_matches" in malformed
    assert "class_agnostic" in agnostic
    dataset_id = fmt.assay_id(fmt.DATASET, got["dataset"])
    with httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {manager.key}"}
    ) as http:
        evaluation = http.get(f"/datasets/{dataset_id}/evaluations/{got['evaluated']}").json()
        assert evaluation["params"]["class_agnostic"] is False
        assert evaluation["params"]["allowed_label_matches"] == [
            {"ground_truth_label": "car", "model_prediction_label": "truck"}
        ]
        per_class = {c["label"]: c for c in evaluation["metrics"]["per_class"]}
        assert (per_class["car"]["tp"], per_class["truck"]["fn"]) == (1, 1)
