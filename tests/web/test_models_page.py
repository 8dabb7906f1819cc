"""The Models page in a real browser against a real `assay serve`: a model evaluated from the
page, its result in the list; the evaluation's PR curves and confusion matrix drawn from its
metrics (the SVG's own marks checked against the API's numbers); confusion cells, a PR-curve
point and a histogram bar opening the explorer's object view on their query with the count
the API gives for it; two evaluations compared, per-class deltas as the API computes them;
a classifier's confusion matrix, whose cells open exactly their items' objects."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import expect

from tests.metrics.test_detection import coco_boxes
from tests.web.test_curation import api, manager, ok, scene_png, screenshot
from tests.web.test_manager import log_in

__all__ = ["api", "manager"]  # fixtures used by the tests below

NAMES = {1: "car", 4: "truck", 7: "person", 10: "bus"}
TIMES = ["day", "night", "dusk"]


def time_of(n: int) -> str | None:
    """Image n's ground-truth category: none on the first two."""
    return None if n <= 2 else TIMES[n % 3]


def detection_dataset(api: httpx.Client, categories: bool = False) -> dict[str, Any]:
    """20 images of COCO-shaped boxes (cars, trucks, people, buses) and a detector's
    predictions (jittered, duplicated, missed, 10 % labelled car whatever they are); with
    `categories`, each image's time of day too (`time_of`)."""
    coco, results = coco_boxes(7, images=20, categories=4, crowd=0.0, empty_images=2)
    sha = ok(api.post("/blobs", files={"file": ("s.png", scene_png(60), "image/png")}))["sha256"]
    boxes: dict[int, list] = {}
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes.setdefault(ann["image_id"], []).append(
            {
                "type": "box",
                "label": NAMES[ann["category_id"]],
                "x": x,
                "y": y,
                "width": w,
                "height": h,
            }
        )
    dataset = ok(api.post("/datasets", json={"name": "Detections"}))
    items = [
        {
            "reference_id": f"img-{img['id']:02d}",
            "media": f"blob:{sha}",
            "width": 640,
            "height": 480,
            "annotations": boxes.get(img["id"], [])
            + (
                [{"type": "category", "label": time_of(img["id"])}]
                if categories and time_of(img["id"])
                else []
            ),
        }
        for img in coco["images"]
    ]
    ok(api.post(f"/datasets/{dataset['id']}/items", json={"items": items}))
    dataset["results"] = results
    return dataset


def add_model(api: httpx.Client, dataset_id: str, name: str, results: list[dict]) -> dict:
    model = ok(api.post("/models", json={"name": name, "reference_id": name}))
    predictions: dict[str, list] = {}
    for r in results:
        x, y, w, h = r["bbox"]
        predictions.setdefault(f"img-{r['image_id']:02d}", []).append(
            {
                "type": "box",
                "label": NAMES[r["category_id"]],
                "x": x,
                "y": y,
                "width": w,
                "height": h,
                "confidence": r["score"],
            }
        )
    body = {"model_id": model["id"], "items": predictions}
    ok(api.post(f"/datasets/{dataset_id}/predictions", json=body))
    return model


def evaluate(api: httpx.Client, dataset_id: str, model_id: str, task: str = "detection") -> dict:
    body = {"model_id": model_id, "task": task}
    started = ok(api.post(f"/datasets/{dataset_id}/evaluations", json=body))
    job = ok(api.get(f"/jobs/{started['job_id']}"))
    while job["status"] not in ("succeeded", "failed"):
        job = ok(api.get(f"/jobs/{started['job_id']}"))
    assert job["status"] == "succeeded", job
    return ok(api.get(f"/datasets/{dataset_id}/evaluations/{started['id']}"))


def objects_matching(api: httpx.Client, dataset_id: str, query: str) -> int:
    body = {"query": query, "view": "objects", "limit": 1}
    return ok(api.post(f"/datasets/{dataset_id}/query", json=body))["count"]


def matched(count: int) -> str:
    """The explorer's count line in the object view."""
    return "1 object matches" if count == 1 else f"{count} objects match"


def opened_query(page) -> str:
    """The query of the explorer page the browser is on (its URL's q, in object view)."""
    params = parse_qs(urlparse(page.url).query)
    assert params.get("view") == ["objects"], page.url
    return params["q"][0]


def test_evaluate_from_the_page_then_its_curves_matrix_and_explorer_links(
    page, live_server, manager, api
):
    dataset = detection_dataset(api)
    add_model(api, dataset["id"], "detector", dataset["results"])
    dialogs = log_in(page, live_server.url, manager, f"/datasets/{dataset['id']}")
    sections = page.get_by_role("navigation", name="Dataset sections")
    expect(sections.get_by_role("link", name="Explore")).to_have_attribute("aria-current", "page")
    sections.get_by_role("link", name="Models").click()
    expect(page.get_by_role("heading", name="No evaluations yet")).to_be_visible()

    # Evaluate from the page: the row follows the job, then shows the numbers.
    page.get_by_role("button", name="Evaluate a model").first.click()
    dialog = page.get_by_role("dialog", name="Evaluate a model")
    dialog.get_by_role("button", name="Evaluate").click()
    expect(dialog.locator(".field-error")).to_contain_text("required")
    dialog.get_by_label("Model").select_option(label="detector")
    dialog.get_by_role("button", name="Evaluate").click()
    row = page.get_by_role("row").filter(has_text="detector")
    expect(row.locator(".evaluation-status")).to_have_attribute(
        "data-status", "done", timeout=60_000
    )
    [listed] = ok(api.get(f"/datasets/{dataset['id']}/evaluations"))["items"]
    expect(row.locator('[data-metric="AP"]')).to_have_text(f"{listed['summary']['AP']:.3f}")
    expect(row.locator('[data-metric="AR100"]')).to_have_text(f"{listed['summary']['AR100']:.3f}")

    row.get_by_role("link", name="detector").click()
    evaluation = ok(api.get(f"/datasets/{dataset['id']}/evaluations/{listed['id']}"))
    metrics = evaluation["metrics"]
    expect(page.locator('.metric[data-metric="AP50"] .metric-value')).to_have_text(
        f"{metrics['summary']['AP50']:.3f}"
    )
    expect(page.locator('[data-total="fp"]')).to_have_text(str(metrics["totals"]["fp"]))
    # The shareable report opens with the browser's session.
    href = page.get_by_role("link", name="Report", exact=True).get_attribute("href")
    report = page.request.get(live_server.url + href)
    assert report.status == 200 and report.headers["content-type"].startswith("text/html")

    # The per-class table sorts by a column (numbers: highest first).
    table = page.get_by_role("table", name="Per class")
    table.get_by_role("button", name="AP", exact=True).click()
    expect(table.locator('th[data-key="ap"]')).to_have_attribute("aria-sort", "descending")
    by_ap = sorted(metrics["per_class"], key=lambda c: -c["ap"])
    assert table.locator("tbody tr").evaluate_all("rs => rs.map(r => r.dataset.label)") == [
        c["label"] for c in by_ap
    ]

    # PR curves: one polyline per class and the mean, their points the API's precision.
    classes = metrics["pr_curves"]["classes"]
    lines = page.locator(".pr-chart polyline")
    expect(lines).to_have_count(len(classes) + 1)
    area = page.locator(".pr-chart .plot-area")
    top, height = (float(area.get_attribute(k)) for k in ("y", "height"))
    for label, curve in classes.items():
        points = page.locator(f'.pr-chart polyline[data-label="{label}"]').get_attribute("points")
        ys = [float(p.split(",")[1]) for p in points.split()]
        assert len(ys) == 101
        drawn = [1 - (y - top) / height for y in ys]
        assert drawn == pytest.approx([max(p, 0) for p in curve["precision"]], abs=1e-3)
    screenshot(page, "models-page")
    # Only trucks: hovering reads a point's recall, precision and confidence.
    for box in page.locator(".pr-classes input").all():
        if box.get_attribute("data-label") != "truck":
            box.uncheck()
    expect(lines).to_have_count(1)
    truck = classes["truck"]
    bounds = area.bounding_box()
    page.mouse.move(bounds["x"] + bounds["width"] * 0.3, bounds["y"] + bounds["height"] / 2)
    tip = page.locator(".evaluation-pr .chart-tip")
    expect(tip).to_contain_text(f"recall 0.30 · precision {truck['precision'][30]:.3f}")
    expect(tip).to_contain_text(f"confidence ≥ {truck['score'][30]:.3f}")
    # A click there: the trucks' false positives from that confidence up.
    page.mouse.click(bounds["x"] + bounds["width"] * 0.3, bounds["y"] + bounds["height"] / 2)
    expect(page.locator(".explore-count")).to_have_text(re.compile(r"objects? match"))
    query = opened_query(page)
    assert query == (
        'prediction.detector.label = "truck" AND prediction.detector.match = fp'
        f" AND prediction.detector.confidence >= {truck['score'][30]!r}"
    )
    expect(page.locator(".explore-count")).to_have_text(
        matched(objects_matching(api, dataset["id"], query))
    )
    page.go_back()

    # The confusion matrix: every cell's count the API's, a missed column, a spurious row.
    confusion = metrics["confusion"]
    n = len(confusion["labels"])
    cells = page.locator(".confusion-chart .cm-cell")
    expect(cells).to_have_count(n * n)
    drawn = [int(c) for c in cells.evaluate_all("cs => cs.map(c => c.dataset.count)")]
    assert drawn == [count for row in confusion["matrix"] for count in row]
    expect(page.locator(f'.cm-cell[data-row="0"][data-column="{n - 1}"]')).to_have_attribute(
        "data-predicted", "missed"
    )
    expect(page.locator(f'.cm-cell[data-row="{n - 1}"][data-column="0"]')).to_have_attribute(
        "data-truth", "spurious"
    )
    section = page.locator(".evaluation-confusion")
    labels = confusion["labels"][:-1]
    truth, predicted = labels.index("truck"), labels.index("car")
    assert confusion["matrix"][truth][predicted] > 0  # trucks the detector called cars
    cell = page.locator(f'.cm-cell[data-row="{truth}"][data-column="{predicted}"]')
    cell.hover()
    expect(section.locator(".chart-tip")).to_contain_text("ground truth truck, predicted car")
    section.screenshot(path=str(screenshot_path("models-confusion")))

    # A click opens the explorer's object view on the cell's query, with the API's count.
    cell.click()
    expect(page.locator(".explore-count")).to_have_text(re.compile(r"objects? match"))
    query = opened_query(page)
    assert query == (
        'prediction.detector.label = "car" AND prediction.detector.match = fp'
        " AND annotations.truck > 0"
    )
    expect(page.get_by_role("combobox", name="Query")).to_have_value(query)
    count = objects_matching(api, dataset["id"], query)
    assert count >= confusion["matrix"][truth][predicted]
    expect(page.locator(".explore-count")).to_have_text(matched(count))

    # Back on the evaluation, the missed column of trucks, then a histogram bar: exactly its
    # objects.
    page.go_back()
    page.locator(f'.cm-cell[data-row="{truth}"][data-column="{n - 1}"]').click()
    expect(page.locator(".explore-count")).to_have_text(re.compile(r"objects? match"))
    missed = 'annotation.label = "truck" AND annotation.match = fn'
    assert opened_query(page) == missed
    expect(page.locator(".explore-count")).to_have_text(
        matched(objects_matching(api, dataset["id"], missed))
    )
    page.go_back()
    fp = metrics["confidence"]["fp"]
    busiest = max(range(len(fp)), key=fp.__getitem__)
    page.locator(f'.hist-bar[data-outcome="fp"][data-bin="{busiest}"]').click()
    expect(page.locator(".explore-count")).to_have_text(matched(fp[busiest]))
    assert opened_query(page).startswith("prediction.detector.match = fp AND ")
    assert dialogs == []


def screenshot_path(name: str):
    from tests.web.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_evaluations_compared_and_a_classifier_s_exact_confusion(page, live_server, manager, api):
    dataset = detection_dataset(api, categories=True)
    results = dataset["results"]
    first = add_model(api, dataset["id"], "detector-v1", results)
    # v2 misses every third detection and is surer of the rest.
    second = add_model(
        api,
        dataset["id"],
        "detector-v2",
        [{**r, "score": r["score"] ** 0.5} for k, r in enumerate(results) if k % 3],
    )
    # A classifier of the time of day: wrong on every fourth image, silent on the last two,
    # and guessing on the two without a ground-truth category.
    guesses = {
        f"img-{n:02d}": [
            {
                "type": "category",
                "label": TIMES[(TIMES.index(time_of(n) or "day") + (n % 4 == 0)) % 3],
                "confidence": 0.9,
            }
        ]
        for n in range(1, 19)
    }
    classifier = ok(api.post("/models", json={"name": "daylight", "reference_id": "daylight"}))
    ok(
        api.post(
            f"/datasets/{dataset['id']}/predictions",
            json={"model_id": classifier["id"], "items": guesses},
        )
    )
    base = evaluate(api, dataset["id"], first["id"])
    new = evaluate(api, dataset["id"], second["id"])
    # The newest evaluation: the explorer's ground truth carries its outcomes.
    classified = evaluate(api, dataset["id"], classifier["id"], task="classification")
    compared = ok(
        api.get(
            f"/datasets/{dataset['id']}/evaluations/compare",
            params={"base": base["id"], "new": new["id"]},
        )
    )
    dialogs = log_in(page, live_server.url, manager, f"/datasets/{dataset['id']}/models")
    rows = page.get_by_role("table", name="Evaluations").locator("tbody tr")
    expect(rows).to_have_count(3)
    # Each task's numbers in its own columns.
    v2 = rows.filter(has_text="detector-v2")
    expect(v2.locator('[data-metric="AP"]')).to_have_text(f"{new['metrics']['summary']['AP']:.3f}")
    expect(v2.locator('[data-metric="accuracy"]')).to_have_text("—")
    accuracy = classified["metrics"]["summary"]["accuracy"]
    expect(rows.first.locator('[data-metric="accuracy"]')).to_have_text(f"{accuracy:.3f}")
    screenshot(page, "models-list")

    form = page.get_by_role("form", name="Compare two evaluations")
    expect(form.get_by_label("Baseline evaluation")).to_have_value(base["id"])
    expect(form.get_by_label("Evaluation to compare")).to_have_value(new["id"])
    form.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Compare evaluations")).to_be_visible()

    def signed(x: float) -> str:
        return ("+" if x > 0 else "\u2212" if x < 0 else "±") + f"{abs(x):.3f}"

    summary = page.get_by_role("table", name="Summary compared")
    for name in ("AP", "AP50", "AR100"):
        row = summary.locator(f'tr[data-metric="{name}"]')
        expect(row.locator('[data-side="base"]')).to_have_text(
            f"{base['metrics']['summary'][name]:.3f}"
        )
        expect(row.locator('[data-side="new"]')).to_have_text(
            f"{new['metrics']['summary'][name]:.3f}"
        )
        expect(row.locator('[data-side="delta"]')).to_have_text(
            signed(compared["summary_delta"][name])
        )
    per_class = page.get_by_role("table", name="Per-class AP compared").locator("tbody tr")
    expect(per_class).to_have_count(len(compared["per_class"]))
    # Worst first, each delta the API's.
    worst_first = sorted(compared["per_class"], key=lambda c: c["delta"])
    assert per_class.evaluate_all("rs => rs.map(r => r.dataset.label)") == [
        c["label"] for c in worst_first
    ]
    for row in compared["per_class"]:
        cells = page.locator(f'.compare-classes tr[data-label="{row["label"]}"]')
        expect(cells.locator('[data-key="base_ap"]')).to_have_text(f"{row['base_ap']:.3f}")
        expect(cells.locator('[data-key="new_ap"]')).to_have_text(f"{row['new_ap']:.3f}")
        expect(cells.locator('[data-key="delta"]')).to_have_text(signed(row["delta"]))
    # The items where v2 does worse, worst first, each a link to the item.
    items = page.get_by_role("table", name="Items where the new model is worse").locator("tbody tr")
    expect(items).to_have_count(min(50, len(compared["items"])))
    top = compared["items"][0]
    expect(items.first.locator('[data-key="worse_by"]')).to_have_text(f"+{top['worse_by']}")
    screenshot(page, "models-compare")
    items.first.get_by_role("link").click()
    expect(page.locator(".explore-count")).to_have_text("1 item matches")
    expect(page.locator(f'.item-cell[data-reference="{top["reference_id"]}"]')).to_be_visible()

    # The classifier: its own numbers, no PR curves, and a confusion matrix of items whose
    # every cell opens exactly its items' objects.
    page.get_by_role("navigation", name="Dataset sections").get_by_role(
        "link", name="Models"
    ).click()
    rows.first.get_by_role("link", name="daylight").click()
    expect(page.locator('.metric[data-metric="accuracy"] .metric-value')).to_have_text(
        f"{accuracy:.3f}"
    )
    expect(page.locator(".pr-chart")).to_have_count(0)
    screenshot(page, "models-classification")
    confusion = classified["metrics"]["confusion"]
    labels = confusion["labels"][:-1]
    matrix = confusion["matrix"]
    n = len(labels)
    cells = page.locator(".confusion-chart .cm-cell")
    expect(cells).to_have_count((n + 1) ** 2)
    confused = next((r, c) for r in range(n) for c in range(n) if r != c and matrix[r][c])
    missed = next((r, n) for r in range(n) if matrix[r][n])
    spurious = next((n, c) for c in range(n) if matrix[n][c])
    for r, c in [confused, missed, spurious]:
        assert matrix[r][c] > 0
        page.locator(f'.cm-cell[data-row="{r}"][data-column="{c}"]').click()
        expect(page.locator(".explore-count")).to_have_text(matched(matrix[r][c]))
        query = opened_query(page)
        assert objects_matching(api, dataset["id"], query) == matrix[r][c]
        page.go_back()
    assert dialogs == []


def test_span_and_segmentation_evaluations_on_their_pages(page, live_server, manager, api):
    """A span model compared with another on the compare page (per-label F1 from the API's
    comparison), a span evaluation's own tiles, and a segmentation evaluation's mIoU."""
    truth = {f"doc-{k}": [(0, 4, "PER"), (10, 14, "LOC"), (20, 25, "ORG")] for k in range(4)}
    dataset = ok(api.post("/datasets", json={"name": "entities"}))
    items = [
        {"reference_id": ref, "kind": "text", "text": "z" * 30,
         "annotations": [{"type": "span", "label": lab, "start": a, "end": b}
                         for a, b, lab in spans]}
        for ref, spans in truth.items()
    ]  # fmt: skip
    # One image with a labelled square for the segmentation evaluation.
    square = [{"x": x, "y": y} for x, y in ((2, 2), (2, 12), (12, 12), (12, 2))]
    items.append(
        {"reference_id": "picture", "media": "https://m.example.test/p.png", "width": 20,
         "height": 20, "annotations": [{"type": "polygon", "label": "sky", "vertices": square}]}
    )  # fmt: skip
    ok(api.post(f"/datasets/{dataset['id']}/items", json={"items": items}))
    evaluations = []
    for name, drop in (("tagger-v1", None), ("tagger-v2", "ORG")):
        spans = {
            ref: [{"type": "span", "label": lab, "start": a, "end": b}
                  for a, b, lab in found if lab != drop]
            for ref, found in truth.items()
        }  # fmt: skip
        spans["picture"] = [{"type": "polygon", "label": "sky", "vertices": square[:3]}]
        model = add_model_shapes(api, dataset["id"], name, spans)
        evaluations.append(evaluate(api, dataset["id"], model["id"], task="spans"))
    segmented = evaluate(api, dataset["id"], model["id"], task="segmentation")
    base, new = evaluations
    compared = ok(
        api.get(
            f"/datasets/{dataset['id']}/evaluations/compare",
            params={"base": base["id"], "new": new["id"]},
        )
    )
    log_in(page, live_server.url, manager, f"/datasets/{dataset['id']}/models")
    expect(page.get_by_role("table", name="Evaluations").locator("tbody tr")).to_have_count(3)
    page.goto(
        f"{live_server.url}/datasets/{dataset['id']}/models/compare?base={base['id']}&new={new['id']}"
    )
    table = page.get_by_role("table", name="Per-class F1 compared")
    expect(table.locator("tbody tr")).to_have_count(3)
    org = next(row for row in compared["per_class"] if row["label"] == "ORG")
    assert org["base_f1"] == 1.0 and org["new_f1"] == 0.0
    row = table.locator('tbody tr[data-label="ORG"]')
    expect(row.locator('[data-key="base_f1"]')).to_have_text("1.000")
    expect(row.locator('[data-key="new_f1"]')).to_have_text("0.000")
    summary = page.get_by_role("table", name="Summary compared")
    expect(summary.locator('tr[data-metric="f1"] [data-side="new"]')).to_have_text(
        f"{new['metrics']['summary']['f1']:.3f}"
    )
    page.goto(f"{live_server.url}/datasets/{dataset['id']}/models/{new['id']}")
    expect(page.locator('[data-metric="recall"] .metric-value')).to_have_text(
        f"{new['metrics']['summary']['recall']:.3f}"
    )
    expect(page.locator(".evaluation-facts")).to_contain_text("spans matched exactly")
    page.goto(f"{live_server.url}/datasets/{dataset['id']}/models/{segmented['id']}")
    miou = segmented["metrics"]["summary"]["miou"]
    assert 0 < miou < 1
    expect(page.locator('[data-metric="miou"] .metric-value')).to_have_text(f"{miou:.3f}")
    expect(page.locator(".evaluation-facts")).to_contain_text("pixel by pixel")


def add_model_shapes(api: httpx.Client, dataset_id: str, name: str, items: dict) -> dict:
    model = ok(api.post("/models", json={"name": name, "reference_id": name}))
    ok(
        api.post(
            f"/datasets/{dataset_id}/predictions", json={"model_id": model["id"], "items": items}
        )
    )
    return model
