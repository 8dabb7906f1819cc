"""Model evaluations through /api/v1: a dataset with ground truth and a model's predictions
evaluated as a job gives pycocotools' numbers; every prediction's and object's outcome is
written back (the per-item counts add up to the totals, `prediction.match = fp` is exactly
the false positives); a slice is re-evaluated from the stored matches; bad requests are
4xx naming the field."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest

from tests.metrics.test_detection import coco_boxes
from tests.support.polling import finished_job

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

API = "/api/v1"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field, response.text


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def world(client, manager) -> dict[str, Any]:
    """COCO-shaped data (crowd regions, empty images, images without predictions) loaded as
    a dataset and a model's predictions."""
    coco, results = coco_boxes(21, images=40, crowd=0.08)
    for ann in coco["annotations"]:
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]  # Assay's area of a box
    by_image: dict[int, list] = {}
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        shape = {"type": "box", "label": f"c{ann['category_id']}", "x": x, "y": y}
        shape.update({"width": w, "height": h})
        if ann["iscrowd"]:
            shape["attributes"] = {"iscrowd": True}
        by_image.setdefault(ann["image_id"], []).append(shape)
    items = [
        {
            "reference_id": f"img-{img['id']:03d}",
            "media": f"https://media.example.test/{img['id']}.jpg",
            "annotations": by_image.get(img["id"], []),
        }
        for img in coco["images"]
    ]
    dataset = ok(client.post(f"{API}/datasets", json={"name": "eval"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models",
            json={"name": "detector", "reference_id": "detector-v1"},
            headers=manager.headers,
        )
    )
    predictions: dict[str, list] = {}
    for r in results:
        x, y, w, h = r["bbox"]
        predictions.setdefault(f"img-{r['image_id']:03d}", []).append(
            {
                "type": "box",
                "label": f"c{r['category_id']}",
                "x": x,
                "y": y,
                "width": w,
                "height": h,
                "confidence": r["score"],
            }
        )
    ok(
        client.post(
            f"{url}/predictions",
            json={"model_id": model["id"], "items": predictions},
            headers=manager.headers,
        )
    )
    return {"url": url, "dataset": dataset, "model": model, "coco": coco, "results": results}


def reference(coco: dict, results: list, image_ids: list[int] | None = None) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = coco
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes([dict(r) for r in results]), "bbox")
        if image_ids is not None:
            ev.params.imgIds = image_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def evaluated(client, manager, world, **body) -> dict[str, Any]:
    started = ok(
        client.post(
            f"{world['url']}/evaluations",
            json={"model_id": world["model"]["id"], **body},
            headers=manager.headers,
        )
    )
    assert started["status"] == "queued" and started["job_id"]
    job = finished_job(client, manager, started["job_id"])
    assert job["status"] == "succeeded", job
    return ok(client.get(f"{world['url']}/evaluations/{started['id']}", headers=manager.headers))


def all_matches(client, manager, world, evaluation_id: str, **params) -> list[dict]:
    rows, cursor = [], None
    while True:
        page = ok(
            client.get(
                f"{world['url']}/evaluations/{evaluation_id}/matches",
                params={"limit": 1000, **params, **({"cursor": cursor} if cursor else {})},
                headers=manager.headers,
            )
        )
        rows += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows


def test_an_evaluation_gives_pycocotools_numbers_and_writes_every_outcome_back(
    client, manager, world, pool
):
    evaluation = evaluated(client, manager, world)
    assert evaluation["status"] == "done"
    metrics = evaluation["metrics"]
    ev = reference(world["coco"], world["results"])
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    for name, theirs in zip(names, ev.stats, strict=True):
        ours = metrics["summary"][name]
        assert (ours if ours is not None else -1) == pytest.approx(theirs, abs=1e-12), name

    matches = all_matches(client, manager, world, evaluation["id"])
    predictions = [m for m in matches if m["prediction"]]
    objects = [m for m in matches if not m["prediction"]]
    assert len(predictions) == len(world["results"])
    assert len(objects) == len(world["coco"]["annotations"])
    # Per-item counts add up to the evaluation's totals at the same IoU.
    totals = metrics["totals"]
    per_item: dict[str, dict[str, int]] = {}
    for m in matches:
        counts = per_item.setdefault(m["item_id"], {"tp": 0, "fp": 0, "fn": 0})
        if m["match"] in counts and (m["prediction"] or m["match"] == "fn"):
            counts[m["match"]] += 1
    for outcome in ("tp", "fp", "fn"):
        assert sum(c[outcome] for c in per_item.values()) == totals[outcome] > 0
    # pycocotools agrees at 0.5, all areas: its matched and ignored detections.
    t = 0
    theirs_tp = sum(
        int(np.sum((e["dtMatches"][t] > 0) & (e["dtIgnore"][t] == 0)))
        for e in ev.evalImgs
        if e is not None and e["aRng"] == [0, 1e10]
    )
    assert totals["tp"] == theirs_tp
    # A matched pair points both ways with the same IoU.
    by_id = {m["object_id"]: m for m in matches}
    for m in predictions:
        if m["match"] == "tp":
            other = by_id[m["matched_id"]]
            assert other["matched_id"] == m["object_id"] and other["iou"] == m["iou"] >= 0.5

    # The query bar: exactly the false positives, and with a confidence on top.
    fps = {m["object_id"] for m in predictions if m["match"] == "fp"}
    answer = ok(
        client.post(
            f"{world['url']}/query",
            json={"query": "prediction.match = fp", "view": "objects", "limit": 1000},
            headers=manager.headers,
        )
    )
    assert answer["count"] == len(fps) == totals["fp"]
    assert {o["object_id"] for o in answer["items"]} == fps
    confident = ok(
        client.post(
            f"{world['url']}/query",
            json={
                "query": "prediction.match = fp AND prediction.confidence > 0.8",
                "view": "objects",
                "limit": 1000,
            },
            headers=manager.headers,
        )
    )
    score = {f"img-{r['image_id']:03d}": r for r in world["results"]}
    assert 0 < confident["count"] < len(fps)
    assert all(o["confidence"] > 0.8 for o in confident["items"]) and score
    missed = ok(
        client.post(
            f"{world['url']}/query",
            json={"query": "annotation.match = fn", "view": "objects", "limit": 1000},
            headers=manager.headers,
        )
    )
    assert missed["count"] == totals["fn"]
    # The object view sorts the true positives by their IoU, worst first.
    weakest = ok(
        client.post(
            f"{world['url']}/query",
            json={
                "query": "prediction.match = tp",
                "view": "objects",
                "order_by": "iou",
                "limit": 20,
            },
            headers=manager.headers,
        )
    )
    ious = [o["object_id"] for o in weakest["items"]]
    assert [by_id[i]["iou"] for i in ious] == sorted(by_id[i]["iou"] for i in ious)
    assert by_id[ious[0]]["iou"] == min(m["iou"] for m in predictions if m["match"] == "tp")


def test_a_slice_is_reevaluated_from_the_stored_matches(client, manager, world, pool):
    evaluation = evaluated(client, manager, world)
    chosen = [f"img-{i:03d}" for i in range(1, 41, 3)]
    made = ok(
        client.post(
            f"{world['url']}/slices",
            json={"name": "every third", "reference_ids": chosen},
            headers=manager.headers,
        )
    )
    part = ok(
        client.get(
            f"{world['url']}/evaluations/{evaluation['id']}/slices/{made['id']}",
            headers=manager.headers,
        )
    )
    ev = reference(world["coco"], world["results"], image_ids=list(range(1, 41, 3)))
    assert part["items"] == len(chosen)
    assert part["summary"]["AP"] == pytest.approx(ev.stats[0], abs=1e-12)
    assert part["summary"]["AP"] != evaluation["metrics"]["summary"]["AP"]


def test_the_models_page_data(client, manager, world, pool):
    metrics = evaluated(client, manager, world)["metrics"]
    labels = metrics["labels"]
    confusion = metrics["confusion"]
    matrix = np.array(confusion["matrix"])
    assert confusion["labels"] == [*labels, "(none)"]
    assert matrix.shape == (len(labels) + 1, len(labels) + 1) and matrix[-1, -1] == 0
    # The diagonal is each label's true positives; a row adds up to the label's objects
    # (crowd regions aside), a column to its counted predictions; confusions exist.
    per_class = {c["label"]: c for c in metrics["per_class"]}
    for k, label in enumerate(labels):
        row = per_class[label]
        assert matrix[k, k] == row["tp"]
        assert matrix[k, :].sum() == row["ground_truth"] == row["tp"] + row["fn"]
        assert matrix[:, k].sum() == row["tp"] + row["fp"]
    off = matrix[:-1, :-1] - np.diag(np.diag(matrix[:-1, :-1]))
    assert off.sum() > 0 and matrix[-1, :].sum() > 0 and matrix[:, -1].sum() > 0
    curves = metrics["pr_curves"]
    assert len(curves["recall"]) == 101 and len(curves["all"]) == 101
    for curve in curves["classes"].values():
        assert all(a >= b for a, b in zip(curve["precision"], curve["precision"][1:], strict=False))
    hist = metrics["confidence"]
    assert sum(hist["tp"]) == metrics["totals"]["tp"] and sum(hist["fp"]) == metrics["totals"]["fp"]
    assert sum(c["tp"] for c in per_class.values()) == metrics["totals"]["tp"]


def test_queries_before_an_evaluation_and_bad_requests_name_the_field(client, manager, world):
    url = world["url"]
    response = client.post(
        f"{url}/query", json={"query": "prediction.match = fp"}, headers=manager.headers
    )
    assert response.status_code == 422
    assert "needs an evaluation" in response.json()["error"]["message"]
    model_id = world["model"]["id"]
    refused(
        client.post(f"{url}/evaluations", json={"model_id": "nope"}, headers=manager.headers),
        404,
        "model_id",
    )
    refused(
        client.post(
            f"{url}/evaluations",
            json={"model_id": model_id, "params": {"iou_type": "cuboid"}},
            headers=manager.headers,
        ),
        422,
        "params.iou_type",
    )
    refused(
        client.post(
            f"{url}/evaluations",
            json={"model_id": model_id, "params": {"iou_threshold": 0.42}},
            headers=manager.headers,
        ),
        422,
        "params.iou_threshold",
    )
    refused(
        client.post(
            f"{url}/evaluations",
            json={"model_id": model_id, "query": "metadata.nope >"},
            headers=manager.headers,
        ),
        422,
        "query",
    )
    refused(
        client.get(f"{url}/evaluations/ev_missing", headers=manager.headers), 404, "evaluation_id"
    )
    # Nothing was recorded by the refused requests.
    assert ok(client.get(f"{url}/evaluations", headers=manager.headers))["items"] == []


def test_labelers_cannot_see_evaluations(client, accounts, world):
    labeler = accounts.make("labeler")
    response = client.get(f"{world['url']}/evaluations", headers=labeler.headers)
    assert response.status_code == 404


def test_two_models_compared_item_by_item(client, manager, world, pool):
    base = evaluated(client, manager, world)
    # A worse model: the same predictions, every third box pushed off its object.
    worse = client.post(
        f"{API}/models", json={"name": "worse", "reference_id": "worse-v1"}, headers=manager.headers
    ).json()
    shifted: dict[str, list] = {}
    for n, r in enumerate(world["results"]):
        x, y, w, h = r["bbox"]
        if n % 3 == 0:
            x += 2 * w
        shifted.setdefault(f"img-{r['image_id']:03d}", []).append(
            {"type": "box", "label": f"c{r['category_id']}", "x": x, "y": y, "width": w,
             "height": h, "confidence": r["score"]}
        )  # fmt: skip
    ok(
        client.post(
            f"{world['url']}/predictions",
            json={"model_id": worse["id"], "items": shifted},
            headers=manager.headers,
        )
    )
    started = ok(
        client.post(
            f"{world['url']}/evaluations", json={"model_id": worse["id"]}, headers=manager.headers
        )
    )
    assert finished_job(client, manager, started["job_id"])["status"] == "succeeded"
    new = ok(client.get(f"{world['url']}/evaluations/{started['id']}", headers=manager.headers))
    compared = ok(
        client.get(
            f"{world['url']}/evaluations/compare",
            params={"base": base["id"], "new": new["id"], "limit": 1000},
            headers=manager.headers,
        )
    )
    assert compared["same_scope"] and compared["items_compared"] == 40
    assert compared["summary_delta"]["AP"] == pytest.approx(
        new["metrics"]["summary"]["AP"] - base["metrics"]["summary"]["AP"]
    )
    assert compared["summary_delta"]["AP"] < 0
    rows = compared["items"]
    assert len(rows) == compared["items_worse"] > 0
    assert [r["worse_by"] for r in rows] == sorted((r["worse_by"] for r in rows), reverse=True)
    # Each item's counts are its matches'.
    top = rows[0]
    for which, evaluation in (("base", base), ("new", new)):
        matches = all_matches(client, manager, world, evaluation["id"], item_id=top["item_id"])
        fp = sum(m["prediction"] and m["match"] == "fp" for m in matches)
        fn = sum(not m["prediction"] and m["match"] == "fn" for m in matches)
        assert (top[which]["fp"], top[which]["fn"]) == (fp, fn)
    assert top["worse_by"] == (
        top["new"]["fp"] + top["new"]["fn"] - top["base"]["fp"] - top["base"]["fn"]
    )
    assert top["reference_id"].startswith("img-")
    per_class = {c["label"]: c for c in compared["per_class"]}
    assert any(c["delta"] is not None and c["delta"] < 0 for c in per_class.values())
    refused(
        client.get(
            f"{world['url']}/evaluations/compare",
            params={"base": base["id"], "new": "ev_missing"},
            headers=manager.headers,
        ),
        404,
        "new",
    )


def test_a_classification_evaluation_is_scikit_learn_s(client, manager, pool):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    labels = ["cat", "dog", "fox"]
    truth = [labels[i] for i in rng.integers(0, 3, 60)]
    pdfs = rng.dirichlet([1, 1, 1], 60)
    guess = [labels[int(np.argmax(p))] for p in pdfs]
    dataset = ok(client.post(f"{API}/datasets", json={"name": "cls"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    items = [
        {
            "reference_id": f"img-{n}",
            "media": f"https://media.example.test/{n}.jpg",
            # The last five items have no ground truth: their predictions are spurious.
            "annotations": [] if n >= 55 else [{"type": "category", "label": truth[n]}],
        }
        for n in range(60)
    ]
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models", json={"name": "cls", "reference_id": "cls-1"}, headers=manager.headers
        )
    )
    predictions = {
        # The first three items get no prediction: missed.
        f"img-{n}": [
            {
                "type": "category",
                "label": guess[n],
                "confidence": float(pdfs[n].max()),
                "class_pdf": dict(zip(labels, pdfs[n].tolist(), strict=True)),
            }
        ]
        for n in range(3, 60)
    }
    ok(
        client.post(
            f"{url}/predictions",
            json={"model_id": model["id"], "items": predictions},
            headers=manager.headers,
        )
    )
    started = ok(
        client.post(
            f"{url}/evaluations",
            json={"model_id": model["id"], "task": "classification", "params": {"top_k": [1, 2]}},
            headers=manager.headers,
        )
    )
    assert finished_job(client, manager, started["job_id"])["status"] == "succeeded"
    metrics = ok(client.get(f"{url}/evaluations/{started['id']}", headers=manager.headers))[
        "metrics"
    ]
    # scikit-learn with "absent" as a label of its own, left out of the averages.
    y_true = ["<none>" if n >= 55 else truth[n] for n in range(60)]
    y_pred = ["<none>" if n < 3 else guess[n] for n in range(60)]
    assert metrics["summary"]["accuracy"] == pytest.approx(
        sklearn_metrics.accuracy_score(y_true, y_pred), abs=1e-12
    )
    assert metrics["summary"]["macro_f1"] == pytest.approx(
        sklearn_metrics.f1_score(y_true, y_pred, labels=labels, average="macro"), abs=1e-12
    )
    scored = [n for n in range(3, 55)]
    top2 = np.mean([truth[n] in [labels[i] for i in np.argsort(-pdfs[n])[:2]] for n in scored])
    # Top-k over the items with ground truth; a missed item counts as wrong at every k.
    assert metrics["summary"]["top_2_accuracy"] == pytest.approx(top2 * 52 / 55, abs=1e-12)
    assert metrics["missed"] == 3 and metrics["spurious"] == 5
    wrong = ok(
        client.post(
            f"{url}/query",
            json={"query": "prediction.match = fp", "view": "objects", "limit": 100},
            headers=manager.headers,
        )
    )
    expected_fp = sum(1 for n in range(3, 60) if n >= 55 or guess[n] != truth[n])
    assert wrong["count"] == expected_fp == metrics["totals"]["fp"]
    listed = ok(client.get(f"{url}/evaluations", headers=manager.headers))["items"]
    assert [(e["task"], e["summary"]["accuracy"]) for e in listed] == [
        ("classification", metrics["summary"]["accuracy"])
    ]


def test_a_comparison_lists_only_items_that_got_worse(client, manager, world, pool):
    """Both ways round, every listed item is worse by its own counts' difference: an item the
    new model does better on is not listed (its negative difference must not wrap around)."""
    first = evaluated(client, manager, world)
    fewer = ok(
        client.post(
            f"{API}/models",
            json={"name": "fewer", "reference_id": "fewer"},
            headers=manager.headers,
        )
    )
    kept: dict[str, list] = {}
    for n, r in enumerate(world["results"]):
        if n % 4 == 0:
            continue  # drops a quarter of the detections: better on some items, worse on others
        x, y, w, h = r["bbox"]
        kept.setdefault(f"img-{r['image_id']:03d}", []).append(
            {"type": "box", "label": f"c{r['category_id']}", "x": x, "y": y, "width": w,
             "height": h, "confidence": r["score"]}
        )  # fmt: skip
    body = {"model_id": fewer["id"], "items": kept}
    ok(client.post(f"{world['url']}/predictions", json=body, headers=manager.headers))
    second = evaluated(client, manager, {**world, "model": fewer})
    directions = [(first, second), (second, first)]
    listed = 0
    for base, new in directions:
        compared = ok(
            client.get(
                f"{world['url']}/evaluations/compare",
                params={"base": base["id"], "new": new["id"], "limit": 1000},
                headers=manager.headers,
            )
        )
        for item in compared["items"]:
            after, before = item["new"], item["base"]
            assert item["worse_by"] == after["fp"] + after["fn"] - before["fp"] - before["fn"] > 0
        assert compared["items_worse"] == len(compared["items"])
        listed += len(compared["items"])
    assert listed > 0


def test_the_report_is_one_self_contained_page_with_escaped_labels(client, manager, pool):
    sneaky = "<script>alert(1)</script>"
    dataset = ok(
        client.post(f"{API}/datasets", json={"name": "R&D <cams>"}, headers=manager.headers)
    )
    url = f"{API}/datasets/{dataset['id']}"
    items = [
        {
            "reference_id": f"r{n}",
            "media": f"https://media.example.test/{n}.jpg",
            "annotations": [
                {"type": "box", "label": sneaky, "x": 10, "y": 10, "width": 50, "height": 40},
                {"type": "box", "label": "car", "x": 100, "y": 80, "width": 60, "height": 30},
            ],
        }
        for n in range(6)
    ]
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models", json={"name": "det", "reference_id": "det"}, headers=manager.headers
        )
    )
    # The script label found on every item; the car on half of them, once as the script.
    predictions = {
        f"r{n}": [
            {"type": "box", "label": sneaky, "x": 12, "y": 11, "width": 50, "height": 40,
             "confidence": 0.9},
            *([{"type": "box", "label": "car" if n % 3 else sneaky, "x": 101, "y": 80,
                "width": 60, "height": 30, "confidence": 0.6}] if n % 2 == 0 else []),
        ]
        for n in range(6)
    }  # fmt: skip
    body = {"model_id": model["id"], "items": predictions}
    ok(client.post(f"{url}/predictions", json=body, headers=manager.headers))
    world = {"url": url, "model": model}
    evaluation = evaluated(client, manager, world, name="nightly <b>run</b>")

    response = client.get(f"{url}/evaluations/{evaluation['id']}/report", headers=manager.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    # Self-contained: nothing to fetch, nothing to run.
    assert "<script" not in page.lower() and "<link" not in page and " src=" not in page
    assert "http:" not in page and "https:" not in page
    # Every label, name and dataset escaped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "nightly &lt;b&gt;run&lt;/b&gt;" in page and "R&amp;D &lt;cams&gt;" in page
    # The numbers: the summary, the totals and each class's row.
    metrics = evaluation["metrics"]
    summary = metrics["summary"]
    for name in ("AP", "AP50", "AR100"):
        tile = f'data-metric="{name}" title="'
        assert tile in page
        assert page.split(tile, 1)[1].split("</div>", 1)[0].endswith(f"<b>{summary[name]:.3f}</b>")
    for outcome in ("tp", "fp", "fn"):
        assert f'<b data-total="{outcome}">{metrics["totals"][outcome]}</b>' in page
    for row in metrics["per_class"]:
        label = row["label"].replace("<", "&lt;").replace(">", "&gt;")
        assert f'<tr data-label="{label}">' in page
        assert f'<td class="num">{row["ap"]:.3f}</td>' in page
    # The charts: a PR curve per class and the mean, the matrix's cells, 20 bins of each kind.
    assert page.count("<polyline ") == len(metrics["pr_curves"]["classes"]) + 1
    cells = sum(len(row) for row in metrics["confusion"]["matrix"])
    assert page.count("<rect data-truth=") == cells
    assert page.count('<rect data-kind="tp"') == page.count('<rect data-kind="fp"') == 20
    download = client.get(
        f"{url}/evaluations/{evaluation['id']}/report",
        params={"download": "true"},
        headers=manager.headers,
    )
    assert download.headers["content-disposition"] == (
        f'attachment; filename="evaluation-{evaluation["id"]}.html"'
    )


def test_a_classification_report_shows_its_own_numbers(client, manager, pool):
    dataset = ok(client.post(f"{API}/datasets", json={"name": "pets"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    truth = ["cat", "dog", "cat", "fox", "dog", "cat"]
    items = [
        {
            "reference_id": f"p{n}",
            "media": f"https://media.example.test/{n}.jpg",
            "annotations": [{"type": "category", "label": label}],
        }
        for n, label in enumerate(truth)
    ]
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models", json={"name": "pet", "reference_id": "pet"}, headers=manager.headers
        )
    )
    guesses = {f"p{n}": [{"type": "category", "label": "cat" if n < 4 else label}]
               for n, label in enumerate(truth)}  # fmt: skip
    body = {"model_id": model["id"], "items": guesses}
    ok(client.post(f"{url}/predictions", json=body, headers=manager.headers))
    evaluation = evaluated(client, manager, {"url": url, "model": model}, task="classification")
    metrics = evaluation["metrics"]
    page = client.get(f"{url}/evaluations/{evaluation['id']}/report", headers=manager.headers).text
    tile = 'data-metric="accuracy" title="'
    assert (
        page.split(tile, 1)[1]
        .split("</div>", 1)[0]
        .endswith(f"<b>{metrics['summary']['accuracy']:.3f}</b>")
    )
    assert '<th class="num">F1</th>' in page and "each item's ground-truth category" in page
    assert "<polyline" not in page and 'data-kind="tp"' not in page  # no curves, no histogram
    cells = sum(len(row) for row in metrics["confusion"]["matrix"])
    assert page.count("<rect data-truth=") == cells == 16


def test_class_agnostic_missed_and_spurious_cells_are_the_written_back_outcomes(
    client, manager, world, pool
):
    """What the Models page relies on to open a class-agnostic evaluation's missed column and
    spurious row exactly: `annotation.match = fn` and `prediction.match = fp` per label count
    the matrix's cells."""
    metrics = evaluated(client, manager, world, params={"class_agnostic": True})["metrics"]
    labels, matrix = metrics["confusion"]["labels"][:-1], metrics["confusion"]["matrix"]
    n = len(labels)

    def count(query: str) -> int:
        body = {"query": query, "view": "objects", "limit": 1}
        return ok(client.post(f"{world['url']}/query", json=body, headers=manager.headers))["count"]

    for k, label in enumerate(labels):
        assert count(f'annotation.label = "{label}" AND annotation.match = fn') == matrix[k][n]
        p = "prediction.detector"
        assert count(f'{p}.label = "{label}" AND {p}.match = fp') == matrix[n][k]
    assert sum(matrix[n]) > 0 and sum(row[n] for row in matrix) > 0


def _shoelace(flat: list[float]) -> float:
    x, y = np.asarray(flat[0::2]), np.asarray(flat[1::2])
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def test_a_segm_evaluation_is_pycocotools_for_polygons_masks_boxes_and_crowds(
    client, manager, pool
):
    """iou_type segm: ground-truth polygons and crowd masks, predicted masks, polygons and
    boxes (a box is the rectangle pycocotools' loadRes makes of it) — pycocotools' twelve
    numbers. Items with their image size, and two without (their canvas holds their
    shapes, which lie inside the image, so the pixels are the same)."""
    from pycocotools import mask as mask_utils

    from assay.metrics import rle
    from tests.metrics.test_detection import coco_masks

    coco, results = coco_masks(5, images=30)
    h, w = 90, 120
    # Two more images, no size given: a square object, found by a box and by a polygon.
    square = [20.0, 20.0, 20.0, 50.0, 60.0, 50.0, 60.0, 20.0]
    for image_id in (31, 32):
        coco["images"].append({"id": image_id, "width": w, "height": h})
        coco["annotations"].append(
            {"id": len(coco["annotations"]) + 1, "image_id": image_id, "category_id": 1,
             "segmentation": [square], "iscrowd": 0, "bbox": [20, 20, 40, 30]}
        )  # fmt: skip
    results.append({"image_id": 31, "category_id": 1, "bbox": [24.0, 22.0, 40.0, 30.0],
                    "score": 0.9})  # fmt: skip
    inside = [22.0, 18.0, 22.0, 48.0, 58.0, 48.0, 58.0, 18.0]
    results.append({"image_id": 32, "category_id": 1, "score": 0.7, "segmentation": [inside]})
    # Assay's ground-truth area: a polygon's shoelace area, a mask's pixels.
    for ann in coco["annotations"]:
        seg = ann["segmentation"]
        ann["area"] = (
            _shoelace(seg[0]) if isinstance(seg, list) else float(sum(seg["counts"][1::2]))
        )

    def shape(segmentation, category: int, **extra) -> dict:
        label = f"c{category}"
        if isinstance(segmentation, list):
            flat = segmentation[0]
            vertices = [{"x": x, "y": y} for x, y in zip(flat[0::2], flat[1::2], strict=True)]
            return {"type": "polygon", "label": label, "vertices": vertices, **extra}
        counts = segmentation["counts"]
        if isinstance(counts, str):
            counts = rle.decode_counts(counts).tolist()
        return {"type": "mask", "label": label, "rle": {"size": [h, w], "counts": counts}, **extra}

    by_image: dict[int, list] = {}
    for ann in coco["annotations"]:
        extra = {"attributes": {"iscrowd": True}} if ann["iscrowd"] else {}
        by_image.setdefault(ann["image_id"], []).append(
            shape(ann["segmentation"], ann["category_id"], **extra)
        )
    items = [
        {
            "reference_id": f"img-{img['id']:03d}",
            "media": f"https://media.example.test/{img['id']}.jpg",
            **({"width": w, "height": h} if img["id"] <= 30 else {}),
            "annotations": by_image.get(img["id"], []),
        }
        for img in coco["images"]
    ]
    dataset = ok(client.post(f"{API}/datasets", json={"name": "segm"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models",
            json={"name": "segmenter", "reference_id": "seg-1"},
            headers=manager.headers,
        )
    )
    predictions: dict[str, list] = {}
    for r in results:
        ref = f"img-{r['image_id']:03d}"
        if "bbox" in r:
            x, y, bw, bh = r["bbox"]
            made = {"type": "box", "label": f"c{r['category_id']}", "x": x, "y": y,
                    "width": bw, "height": bh, "confidence": r["score"]}  # fmt: skip
        else:
            made = shape(r["segmentation"], r["category_id"], confidence=r["score"])
        predictions.setdefault(ref, []).append(made)
    ok(
        client.post(
            f"{url}/predictions",
            json={"model_id": model["id"], "items": predictions},
            headers=manager.headers,
        )
    )
    world = {"url": url, "model": model}
    evaluation = evaluated(client, manager, world, params={"iou_type": "segm"})
    assert evaluation["params"]["iou_type"] == "segm"

    # pycocotools, with the results laid out as loadRes would (it takes one kind at a time).
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = coco
        gt.createIndex()
        laid_out = []
        for k, r in enumerate(results):
            r = dict(r, id=k + 1)
            if "bbox" in r:
                x, y, bw, bh = r["bbox"]
                r["segmentation"] = [[x, y, x, y + bh, x + bw, y + bh, x + bw, y]]
                r["area"] = bw * bh
            else:
                made = gt.annToRLE(dict(r, image_id=r["image_id"]))
                r["area"] = float(mask_utils.area(made))
                r["bbox"] = mask_utils.toBbox(made).tolist()
            r["iscrowd"] = 0
            laid_out.append(r)
        res = COCO()
        res.dataset = {"images": coco["images"], "categories": coco["categories"],
                       "annotations": laid_out}  # fmt: skip
        res.createIndex()
        ev = COCOeval(gt, res, "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    for name, theirs in zip(names, ev.stats, strict=True):
        ours = evaluation["metrics"]["summary"][name]
        assert (ours if ours is not None else -1) == pytest.approx(theirs, abs=1e-12), name
    assert evaluation["metrics"]["summary"]["AP"] > 0
    # The two unsized items: each prediction matched at pycocotools' IoU.
    matches = all_matches(client, manager, world, evaluation["id"])
    unsized = {m["item_id"]: m for m in matches if m["prediction"]}
    sized_ids = {
        i["id"]: i["reference_id"]
        for i in ok(client.get(f"{url}/items", params={"limit": 100}, headers=manager.headers))[
            "items"
        ]
    }
    for image_id in (31, 32):
        [found] = [m for k, m in unsized.items() if sized_ids[k] == f"img-{image_id:03d}"]
        [e] = [
            e for e in ev.evalImgs
            if e and e["image_id"] == image_id and e["aRng"] == [0, 1e10]
        ]  # fmt: skip
        assert found["match"] == "tp"
        assert found["iou"] == pytest.approx(float(ev.ious[(image_id, 1)][0][0]), abs=1e-6)
        assert e["dtMatches"][0][0] > 0
    # A box evaluated as a box is another IoU than as pixels: segm is not bbox.
    boxes = evaluated(client, manager, world)
    assert boxes["metrics"]["summary"]["AP"] != evaluation["metrics"]["summary"]["AP"]


def test_a_keypoints_evaluation_is_pycocotools_oks(client, manager, pool):
    """iou_type keypoints: people with COCO's person keypoints (some hidden, some not given)
    and dogs with keypoints of their own, whose sigmas the request gives — pycocotools'
    ten numbers with the same sigmas, areas and boxes (the points' extent)."""
    from assay.curation.evaluation_shapes import COCO_KEYPOINTS
    from assay.metrics.detection import COCO_KEYPOINT_SIGMAS

    rng = np.random.default_rng(11)
    dog_names = ["snout", "tail"]
    names = list(COCO_KEYPOINTS) + dog_names
    sigmas = np.r_[COCO_KEYPOINT_SIGMAS, [0.05, 0.09]]
    own = {"person": list(COCO_KEYPOINTS), "dog": ["left_eye", "right_eye", *dog_names]}
    cats = {"person": 1, "dog": 2}
    gt_anns, dt_anns, items, predictions = [], [], [], {}

    def points(label: str, cx: float, cy: float, scale: float, drop: bool) -> list[dict]:
        out = []
        for name in own[label]:
            if drop and rng.random() < 0.2:
                continue
            x, y = cx + rng.normal(0, scale), cy + rng.normal(0, scale)
            out.append({"name": name, "x": float(x), "y": float(y),
                        "visible": bool(rng.random() > 0.15)})  # fmt: skip
        return out

    def laid_out(pts: list[dict], hidden_zero: bool) -> tuple[list[float], list[float], float]:
        flat = [0.0] * (3 * len(names))
        for p in pts:
            k = 3 * names.index(p["name"])
            flat[k : k + 3] = [p["x"], p["y"], 2.0 if p["visible"] or hidden_zero else 1.0]
        xs, ys = [p["x"] for p in pts], [p["y"] for p in pts]
        box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        return flat, box, box[2] * box[3]

    for image_id in range(1, 26):
        ref = f"img-{image_id:03d}"
        shapes = []
        for _ in range(rng.integers(0, 4)):
            label = "person" if rng.random() < 0.7 else "dog"
            cx, cy, scale = rng.uniform(50, 350), rng.uniform(50, 250), rng.uniform(5, 40)
            truth = points(label, cx, cy, scale, drop=True)
            if len(truth) < 2:
                continue
            shapes.append({"type": "keypoints", "label": label, "points": truth})
            flat, box, area = laid_out(truth, False)
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": image_id,
                            "category_id": cats[label], "keypoints": flat, "bbox": box,
                            "area": area, "iscrowd": 0,
                            "num_keypoints": len(truth)})  # fmt: skip
            if rng.random() < 0.85:
                given = {p["name"]: p for p in truth}
                guess = []
                for name in own[label]:
                    x, y = cx + rng.normal(0, scale), cy + rng.normal(0, scale)
                    if name in given:
                        x, y = given[name]["x"], given[name]["y"]
                    x, y = x + rng.normal(0, scale * 0.1), y + rng.normal(0, scale * 0.1)
                    guess.append({"name": name, "x": float(x), "y": float(y), "visible": True})
                score = float(rng.random())
                predictions.setdefault(ref, []).append(
                    {"type": "keypoints", "label": label, "points": guess, "confidence": score}
                )
                flat, box, area = laid_out(guess, True)
                dt_anns.append({"id": len(dt_anns) + 1, "image_id": image_id,
                                "category_id": cats[label], "keypoints": flat, "bbox": box,
                                "area": area, "score": score, "iscrowd": 0})  # fmt: skip
        items.append({"reference_id": ref, "media": f"https://m.example.test/{image_id}.jpg",
                      "annotations": shapes})  # fmt: skip
    assert len(gt_anns) > 20 and len(dt_anns) > 15

    dataset = ok(client.post(f"{API}/datasets", json={"name": "pose"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models",
            json={"name": "pose", "reference_id": "pose-1"},
            headers=manager.headers,
        )
    )
    ok(
        client.post(
            f"{url}/predictions",
            json={"model_id": model["id"], "items": predictions},
            headers=manager.headers,
        )
    )
    world = {"url": url, "model": model}
    # Without the dogs' sigmas, the job fails saying which keypoint needs one.
    started = ok(
        client.post(
            f"{url}/evaluations",
            json={"model_id": model["id"], "params": {"iou_type": "keypoints"}},
            headers=manager.headers,
        )
    )
    failed = finished_job(client, manager, started["job_id"])
    assert failed["status"] == "failed" and "'snout'" in failed["error"], failed
    evaluation = evaluated(
        client, manager, world,
        params={"iou_type": "keypoints", "keypoint_sigmas": {"snout": 0.05, "tail": 0.09}},
    )  # fmt: skip
    assert evaluation["params"]["max_detections"] == [20]

    with contextlib.redirect_stdout(io.StringIO()):
        categories = [{"id": i, "name": n} for n, i in cats.items()]
        images = [{"id": i} for i in range(1, 26)]
        gt, res = COCO(), COCO()
        gt.dataset = {"images": images, "categories": categories, "annotations": gt_anns}
        res.dataset = {"images": images, "categories": categories, "annotations": dt_anns}
        gt.createIndex()
        res.createIndex()
        ev = COCOeval(gt, res, "keypoints")
        ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    names10 = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    summary = evaluation["metrics"]["summary"]
    assert set(summary) == set(names10)  # (PostgreSQL's JSONB keeps no key order)
    for name, theirs in zip(names10, ev.stats, strict=True):
        assert (summary[name] if summary[name] is not None else -1) == pytest.approx(
            theirs, abs=1e-12
        ), name
    assert summary["AP"] > 0.1
    # Bad sigmas and sigmas for another iou type are 422s naming the parameter.
    for params in (
        {"iou_type": "keypoints", "keypoint_sigmas": {"tail": -1}},
        {"iou_type": "keypoints", "keypoint_sigmas": [0.1]},
        {"iou_type": "bbox", "keypoint_sigmas": {"tail": 0.1}},
    ):
        refused(
            client.post(
                f"{url}/evaluations",
                json={"model_id": model["id"], "params": params},
                headers=manager.headers,
            ),
            422,
            "params.keypoint_sigmas",
        )


def test_a_span_evaluation_counts_entities_and_writes_outcomes_back(client, manager, pool):
    """task spans: strict and partial matching give assay.metrics.spans' numbers over the
    items' spans; every span's outcome is written back (`prediction.match = fp` is exactly
    the unmatched predictions); a slice is counted from the stored outcomes."""
    import random

    from assay.metrics.spans import span_metrics
    from tests.metrics.test_spans import random_documents

    truth_docs, pred_docs = random_documents(random.Random(4), documents=30)
    items, predictions = [], {}
    for k, (truth, predicted) in enumerate(zip(truth_docs, pred_docs, strict=True)):
        ref = f"doc-{k:02d}"
        items.append(
            {
                "reference_id": ref,
                "kind": "text",
                "text": "x" * 100,
                "annotations": [
                    {"type": "span", "label": label, "start": start, "end": end}
                    for start, end, label in truth
                ],
            }
        )
        predictions[ref] = [
            {"type": "span", "label": label, "start": start, "end": end, "confidence": score}
            for start, end, label, score in predicted
        ]
    dataset = ok(client.post(f"{API}/datasets", json={"name": "ner"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models",
            json={"name": "tagger", "reference_id": "tagger-1"},
            headers=manager.headers,
        )
    )
    ok(
        client.post(
            f"{url}/predictions",
            json={"model_id": model["id"], "items": predictions},
            headers=manager.headers,
        )
    )
    world = {"url": url, "model": model}
    for params in ({}, {"mode": "partial", "min_iou": 0.3}):
        evaluation = evaluated(client, manager, world, task="spans", params=params)
        mode, min_iou = evaluation["params"]["mode"], evaluation["params"]["min_iou"]
        expected = span_metrics(truth_docs, pred_docs, mode=mode, min_iou=min_iou)
        metrics = evaluation["metrics"]
        assert metrics["summary"]["f1"] == pytest.approx(expected.micro.f1, abs=1e-12)
        assert metrics["summary"]["macro_f1"] == pytest.approx(expected.macro.f1, abs=1e-12)
        assert metrics["totals"]["tp"] == expected.true_positives > 0
        by_label = {row["label"]: row for row in metrics["per_class"]}
        for row in expected.per_label:
            assert by_label[row.label]["recall"] == pytest.approx(row.recall, abs=1e-12)
            assert by_label[row.label]["precision"] == pytest.approx(row.precision, abs=1e-12)
        matches = all_matches(client, manager, world, evaluation["id"])
        fps = {m["object_id"] for m in matches if m["prediction"] and m["match"] == "fp"}
        assert len(fps) == metrics["totals"]["fp"] == expected.predicted - expected.true_positives
        answer = ok(
            client.post(
                f"{url}/query",
                json={"query": "prediction.match = fp", "view": "objects", "limit": 1000},
                headers=manager.headers,
            )
        )
        assert {o["object_id"] for o in answer["items"]} == fps
    # The last (partial) evaluation of a slice: the first ten documents' spans.
    made = ok(
        client.post(
            f"{url}/slices",
            json={"name": "first ten", "reference_ids": [f"doc-{k:02d}" for k in range(10)]},
            headers=manager.headers,
        )
    )
    part = ok(
        client.get(
            f"{url}/evaluations/{evaluation['id']}/slices/{made['id']}", headers=manager.headers
        )
    )
    report = client.get(f"{url}/evaluations/{evaluation['id']}/report", headers=manager.headers)
    assert report.status_code == 200
    assert "overlap IoU at least 0.3" in report.text and "spans missed" in report.text
    assert f'data-total="fp">{metrics["totals"]["fp"]}<' in report.text
    expected = span_metrics(truth_docs[:10], pred_docs[:10], mode="partial", min_iou=0.3)
    assert part["summary"]["f1"] == pytest.approx(expected.micro.f1, abs=1e-12)
    assert part["summary"]["f1"] != evaluation["metrics"]["summary"]["f1"]
    refused(
        client.post(
            f"{url}/evaluations",
            json={"model_id": model["id"], "task": "spans", "params": {"mode": "fuzzy"}},
            headers=manager.headers,
        ),
        422,
        "params.mode",
    )


def test_a_segmentation_evaluation_is_pixel_by_pixel(client, manager, pool):
    """task segmentation: masks and polygons painted in order as label maps (pycocotools'
    rasteriser), unlabelled ground truth left out, unpainted predictions wrong — the
    per-class IoU, mIoU and pixel accuracy of the pixels (scikit-learn's confusion matrix),
    a slice summed from its items, and the report."""
    from pycocotools import mask as mask_utils
    from sklearn.metrics import confusion_matrix

    from assay.metrics import rle

    rng = np.random.default_rng(8)
    labels = ["car", "road", "sky"]
    h, w = 40, 60

    def blob() -> list[float]:
        cx, cy = rng.uniform(10, w - 10), rng.uniform(10, h - 10)
        r = rng.uniform(4, min(cx, w - cx, cy, h - cy) - 1)  # inside the image
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1).ravel().tolist()

    def shape(label: str, **extra) -> tuple[dict, np.ndarray]:
        """A random polygon or mask shape and its pixels (h x w, pycocotools')."""
        poly = blob()
        merged = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
        counts = rle.decode_counts(merged["counts"])  # runs, column-major, 0s first
        pixels = np.repeat(np.arange(len(counts)) % 2, counts).reshape(w, h).T
        if rng.random() < 0.5:
            vertices = [{"x": x, "y": y} for x, y in zip(poly[0::2], poly[1::2], strict=True)]
            return {"type": "polygon", "label": label, "vertices": vertices, **extra}, pixels
        made = {"type": "mask", "label": label, "rle": {"size": [h, w], "counts": counts.tolist()}}
        return {**made, **extra}, pixels

    items, predictions, truth_maps, guess_maps = [], {}, [], []
    for k in range(8):
        truth, guess = np.full((h, w), -1), np.full((h, w), len(labels))  # unlabelled, (none)
        gt_shapes, dt_shapes = [], []
        for _ in range(rng.integers(1, 4)):
            made, pixels = shape(str(rng.choice(labels)))
            gt_shapes.append(made)
            truth[pixels > 0] = labels.index(made["label"])
        for _ in range(rng.integers(0, 4)):
            made, pixels = shape(str(rng.choice(labels)), confidence=0.9)
            dt_shapes.append(made)
            guess[pixels > 0] = labels.index(made["label"])
        ref = f"frame-{k}"
        items.append({"reference_id": ref, "media": f"https://m.example.test/{k}.png",
                      **({"width": w, "height": h} if k % 2 else {}),
                      "annotations": gt_shapes})  # fmt: skip
        if dt_shapes:
            predictions[ref] = dt_shapes
        truth_maps.append(truth)
        guess_maps.append(guess)
    # An item of the unsized half whose shapes are all polygons gets a canvas holding them:
    # every shape here lies inside the image, so its pixels are the same as on the image.
    dataset = ok(client.post(f"{API}/datasets", json={"name": "seg"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models",
            json={"name": "segmenter", "reference_id": "semseg-1"},
            headers=manager.headers,
        )
    )
    ok(
        client.post(
            f"{url}/predictions",
            json={"model_id": model["id"], "items": predictions},
            headers=manager.headers,
        )
    )
    world = {"url": url, "model": model}
    evaluation = evaluated(client, manager, world, task="segmentation")
    metrics = evaluation["metrics"]

    def expected(maps: range) -> tuple[np.ndarray, np.ndarray, float]:
        t = np.concatenate([truth_maps[i].ravel() for i in maps])
        g = np.concatenate([guess_maps[i].ravel() for i in maps])
        keep = t >= 0
        matrix = confusion_matrix(t[keep], g[keep], labels=range(len(labels) + 1))
        tp = np.diag(matrix)[: len(labels)].astype(float)
        union = matrix.sum(1)[: len(labels)] + matrix.sum(0)[: len(labels)] - tp
        iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
        return iou, matrix, float(np.trace(matrix) / matrix.sum())

    iou, matrix, accuracy = expected(range(8))
    assert metrics["labels"] == labels
    assert metrics["summary"]["pixel_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert metrics["summary"]["miou"] == pytest.approx(np.nanmean(iou), abs=1e-12)
    for row, value in zip(metrics["per_class"], iou, strict=True):
        assert (row["iou"] if row["iou"] is not None else np.nan) == pytest.approx(
            value, abs=1e-12, nan_ok=True
        )
    assert np.array_equal(np.array(metrics["confusion"]["matrix"]), matrix)
    assert 0 < metrics["summary"]["miou"] < 1
    made = ok(
        client.post(
            f"{url}/slices",
            json={"name": "odd", "reference_ids": [f"frame-{k}" for k in range(1, 8, 2)]},
            headers=manager.headers,
        )
    )
    part = ok(
        client.get(
            f"{url}/evaluations/{evaluation['id']}/slices/{made['id']}", headers=manager.headers
        )
    )
    iou, _, accuracy = expected(range(1, 8, 2))
    assert part["summary"]["pixel_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert part["summary"]["miou"] == pytest.approx(np.nanmean(iou), abs=1e-12)
    report = client.get(f"{url}/evaluations/{evaluation['id']}/report", headers=manager.headers)
    assert report.status_code == 200 and "pixel by pixel" in report.text
    refused(
        client.post(
            f"{url}/evaluations",
            json={"model_id": model["id"], "task": "segmentation", "params": {"top_k": [1]}},
            headers=manager.headers,
        ),
        422,
        "params.top_k",
    )


def test_span_evaluations_are_compared_item_by_item(client, manager, pool):
    """Two span models on the same documents: summary and per-label F1 deltas, the items
    where the new model does worse; a span evaluation is not compared with a detection one."""
    truth = {f"doc-{k}": [(0, 4, "PER"), (10, 14, "LOC"), (20, 25, "ORG")] for k in range(6)}
    good = {ref: list(spans) for ref, spans in truth.items()}
    # The new model misses the ORG span on docs 0-2 and invents a PER on doc 5.
    worse = {ref: [s for s in spans if not (s[2] == "ORG" and ref < "doc-3")]
             for ref, spans in truth.items()}  # fmt: skip
    worse["doc-5"] = [*worse["doc-5"], (30, 33, "PER")]
    items = [
        {"reference_id": ref, "kind": "text", "text": "y" * 40,
         "annotations": [{"type": "span", "label": lab, "start": a, "end": b}
                         for a, b, lab in spans]}
        for ref, spans in truth.items()
    ]  # fmt: skip
    dataset = ok(client.post(f"{API}/datasets", json={"name": "ner2"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    evaluations = {}
    for name, found in (("base", good), ("new", worse)):
        model = ok(
            client.post(
                f"{API}/models",
                json={"name": name, "reference_id": f"ner-{name}"},
                headers=manager.headers,
            )
        )
        body = {
            ref: [{"type": "span", "label": lab, "start": a, "end": b} for a, b, lab in spans]
            for ref, spans in found.items()
        }
        ok(
            client.post(
                f"{url}/predictions",
                json={"model_id": model["id"], "items": body},
                headers=manager.headers,
            )
        )
        evaluations[name] = evaluated(client, manager, {"url": url, "model": model}, task="spans")
    answer = ok(
        client.get(
            f"{url}/evaluations/compare",
            params={"base": evaluations["base"]["id"], "new": evaluations["new"]["id"]},
            headers=manager.headers,
        )
    )
    assert answer["task"] == "spans" and answer["class_metric"] == "f1"
    assert answer["same_scope"] and answer["items_compared"] == 6
    rows = {row["label"]: row for row in answer["per_class"]}
    assert rows["LOC"]["base_f1"] == rows["LOC"]["new_f1"] == 1.0 and rows["LOC"]["delta"] == 0
    assert rows["ORG"]["new_f1"] == pytest.approx(2 * 0.5 / 1.5) and rows["ORG"]["delta"] < 0
    assert answer["summary_delta"]["f1"] < 0
    assert answer["items_worse"] == 4
    assert {i["reference_id"] for i in answer["items"]} == {"doc-0", "doc-1", "doc-2", "doc-5"}
    # Across tasks: a 422 naming the side.
    boxes_model = ok(
        client.post(
            f"{API}/models", json={"name": "boxes", "reference_id": "b-1"}, headers=manager.headers
        )
    )
    boxes = evaluated(client, manager, {"url": url, "model": boxes_model})
    refused(
        client.get(
            f"{url}/evaluations/compare",
            params={"base": evaluations["base"]["id"], "new": boxes["id"]},
            headers=manager.headers,
        ),
        422,
        "new",
    )


def test_reevaluating_reuses_the_untouched_items_and_gives_the_same_numbers(
    client, manager, world, pool, db
):
    """After new predictions on three items and new ground truth on one, the next
    evaluation (same parameters) matches only those four again: its numbers are
    pycocotools' on the new data, and its metrics and every outcome equal evaluating
    everything again."""
    from assay.curation import evaluations as curation_evaluations
    from assay.curation import models as curation_models

    first = evaluated(client, manager, world)
    assert "reused" not in first["metrics"]
    coco, results = world["coco"], list(world["results"])
    extra = {
        3: [12.0, 14.0, 30.0, 22.0, 0.97],
        7: [40.0, 41.0, 25.0, 25.0, 0.33],
        11: [5.0, 60.0, 18.0, 30.0, 0.51],
    }
    body = {}
    for image_id, (x, y, w, h, score) in extra.items():
        label = coco["annotations"][image_id]["category_id"]
        body[f"img-{image_id:03d}"] = [
            {"type": "box", "label": f"c{label}", "x": x, "y": y, "width": w, "height": h,
             "confidence": score}
        ]  # fmt: skip
        results.append(
            {"image_id": image_id, "category_id": label, "bbox": [x, y, w, h], "score": score}
        )
    ok(
        client.post(
            f"{world['url']}/predictions",
            json={"model_id": world["model"]["id"], "items": body},
            headers=manager.headers,
        )
    )
    # Item 20's ground truth replaced by one box.
    coco = dict(coco, annotations=[a for a in coco["annotations"] if a["image_id"] != 20])
    coco["annotations"].append(
        {"id": 99_999, "image_id": 20, "category_id": 1, "bbox": [10.0, 10.0, 30.0, 30.0],
         "area": 900.0, "iscrowd": 0}
    )  # fmt: skip
    ok(
        client.post(
            f"{world['url']}/items",
            json={"items": [{"reference_id": "img-020", "media": "https://media.example.test/20.jpg",
                             "annotations": [{"type": "box", "label": "c1", "x": 10.0, "y": 10.0,
                                              "width": 30.0, "height": 30.0}]}]},
            headers=manager.headers,
        )
    )  # fmt: skip
    again = evaluated(client, manager, world)
    assert again["metrics"]["reused"] == {"evaluation_id": first["id"], "items": 36}
    ev = reference(coco, results)
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    for name, theirs in zip(names, ev.stats, strict=True):
        ours = again["metrics"]["summary"][name]
        assert (ours if ours is not None else -1) == pytest.approx(theirs, abs=1e-12), name
    assert again["metrics"]["summary"]["AP"] != first["metrics"]["summary"]["AP"]

    # Everything evaluated again, in process, from the same data: the same metrics and
    # the same outcome for every object.
    with db.read() as session:
        dataset = session.get(curation_models.Dataset, world["dataset"]["id"])
        frame, seqs, _ = curation_evaluations.evaluation_shapes.read_shapes(
            session, dataset, world["model"]["id"], None
        )
    whole = curation_evaluations.evaluate_frame(frame, seqs, world["model"]["id"], again["params"])
    expected = dict(whole.metrics)
    got = {k: v for k, v in again["metrics"].items() if k != "reused"}
    assert got["totals"] == expected["totals"] and got["per_class"] == expected["per_class"]
    assert got["confusion"]["matrix"] == expected["confusion"]["matrix"]
    assert got["pr_curves"] == expected["pr_curves"]
    stored = sorted(
        (m["object_id"], m["match"], m["matched_id"], m["iou"])
        for m in all_matches(client, manager, world, again["id"])
    )
    fresh = pl_rows(whole.matches)
    assert stored == fresh and len(stored) == len(results) + len(coco["annotations"])


def pl_rows(data: bytes) -> list[tuple]:
    import polars as pl

    frame = pl.read_parquet(io.BytesIO(data))
    return sorted(frame.select("object_id", "match", "matched_id", "iou").iter_rows())
