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
refused = None
try:
    pairs = [{"ground_truth_label": "car", "model_prediction_label": "truck"}]
    ds.calculate_evaluation_metrics(
        model, options={"class_agnostic": False, "allowed_label_matches": pairs})
except Exception as error:
    refused = str(error)
result = {"evaluation_id": answer["evaluation_id"], "status": job.status(), "dataset": ds.id,
          "refused": refused}
""",
    )
    assert got["status"]["status"] == "Completed", got
    assert "allowed_label_matches" in got["refused"]
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
