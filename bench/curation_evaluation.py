"""Per-object evaluation with writeback, end to end against `assay serve` (issue 17).

    .venv/bin/python bench/curation_evaluation.py [--images 100000] [--predictions 480000]
                                                  [--per-image 4] [--repeats 3]

A dataset of --images items with ~--per-image ground-truth boxes each and a model's
--predictions boxes (bench/metrics_coco.py's generator: 80 classes, crowd regions, misses,
duplicates, false alarms) is loaded through the API; then, --repeats times, an evaluation
is started (`POST /datasets/{id}/evaluations`, each run with its own writeback threshold, so
none reuses another's matches) and timed until it is done: reading every shape of the ground
truth and the predictions, the COCO evaluation (pycocotools' numbers), the metrics, and the
writeback of every object's outcome in one transaction. Then 1 % of the items get a new
prediction and the last evaluation runs again, matching only those (`evaluation_reuse.py`).
Then the first query on the outcomes (`prediction.match = fp`: the snapshot joins them),
and a 10 % slice re-evaluated from the stored matches, over HTTP.

Then, unless --no-page, the Models page of the evaluation in headless Chromium (Debian's):
the time from navigating to it until its summary, per-class table, PR curves, confidence
histogram and confusion matrix are drawn, p50 of --page-runs (goal ≤ 1 s at 100,000 images).

The anchor: FiftyOne's `evaluate_detections` took 1,346 s on this kind of machine at this
size (issue 17). Last line: `curation_evaluation: …`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

import httpx  # noqa: E402
from _server import Server, machine  # noqa: E402
from metrics_coco import generate  # noqa: E402

CHUNK = 10_000


def box(bbox: list[float], category: int, **extra) -> dict:
    x, y, w, h = bbox
    return {
        "type": "box",
        "label": f"class {category}",
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        **extra,
    }


def wait_job(api: httpx.Client, job_id: str) -> dict:
    while True:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            if job["status"] != "succeeded":
                raise SystemExit(f"job {job_id} {job['status']}: {job.get('error')}")
            return job
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--predictions", type=int, default=480_000)
    ap.add_argument("--per-image", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-page", action="store_true", help="skip the Models page in Chromium")
    ap.add_argument("--page-runs", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    started = time.perf_counter()
    coco, results = generate(args.images, args.predictions, seed=3, per_image=args.per_image)
    print(
        f"data: {args.images:,} images, {len(coco['annotations']):,} objects, "
        f"{len(results):,} predictions ({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    server = Server(processes=1)
    try:
        api = server.api()
        dataset = api.post("/datasets", json={"name": "evaluation-bench"}).json()
        url = f"/datasets/{dataset['id']}"
        gt: dict[int, list] = {}
        for a in coco["annotations"]:
            extra = {"attributes": {"iscrowd": True}} if a["iscrowd"] else {}
            gt.setdefault(a["image_id"], []).append(box(a["bbox"], a["category_id"], **extra))
        started = time.perf_counter()
        ids = [img["id"] for img in coco["images"]]
        for start in range(0, len(ids), CHUNK):
            items = [
                {
                    "reference_id": f"img-{i}",
                    "media": f"https://media.example.test/{i}.jpg",
                    "annotations": gt.get(i, []),
                }
                for i in ids[start : start + CHUNK]
            ]
            api.post(f"{url}/items", json={"items": items}).raise_for_status()
        model = api.post("/models", json={"name": "detector", "reference_id": "bench-detector"})
        model = model.json()
        predicted: dict[str, list] = {}
        for r in results:
            predicted.setdefault(f"img-{r['image_id']}", []).append(
                box(r["bbox"], r["category_id"], confidence=r["score"])
            )
        refs = list(predicted)
        for start in range(0, len(refs), CHUNK):
            body = {
                "model_id": model["id"],
                "items": {k: predicted[k] for k in refs[start : start + CHUNK]},
            }
            api.post(f"{url}/predictions", json=body).raise_for_status()
        print(f"loaded through the API in {time.perf_counter() - started:.0f} s", flush=True)

        times, evaluation = [], None
        # Each run its own writeback threshold: the same work, and no earlier evaluation of
        # the same parameters to reuse — every run matches everything.
        for k in range(args.repeats):
            started = time.perf_counter()
            params = {"iou_threshold": round(0.5 + 0.05 * k, 2)}
            body = {"model_id": model["id"], "params": params}
            evaluation = api.post(f"{url}/evaluations", json=body).json()
            job = wait_job(api, evaluation["job_id"])
            times.append(time.perf_counter() - started)
            print(f"  evaluation with writeback: {times[-1]:.2f} s ({job['result']})", flush=True)
        # Then 1 % of the items get a new prediction and the last evaluation is run again:
        # only those are matched, the rest reuse the stored matches.
        changed = {
            f"img-{i}": [box([10.0, 10.0, 20.0, 20.0], 1, confidence=0.5)] for i in ids[::100]
        }
        api.post(
            f"{url}/predictions", json={"model_id": model["id"], "items": changed}
        ).raise_for_status()
        started = time.perf_counter()
        evaluation = api.post(f"{url}/evaluations", json=body).json()
        wait_job(api, evaluation["job_id"])
        again = time.perf_counter() - started
        done = api.get(f"{url}/evaluations/{evaluation['id']}").json()
        reused = done["metrics"].get("reused", {}).get("items", 0)
        print(f"  re-evaluated after 1 % changed: {again:.2f} s ({reused:,} items reused)")
        totals = done["metrics"]["totals"]

        started = time.perf_counter()
        fps = api.post(
            f"{url}/query", json={"query": "prediction.match = fp", "view": "objects", "limit": 50}
        ).json()
        first_query = time.perf_counter() - started
        assert fps["count"] == totals["fp"], (fps["count"], totals)
        started = time.perf_counter()
        api.post(
            f"{url}/query",
            json={
                "query": "prediction.match = fp AND prediction.confidence > 0.8",
                "view": "objects",
            },
        ).raise_for_status()
        query_again = time.perf_counter() - started

        tenth = [f"img-{i}" for i in ids[::10]]
        made = api.post(f"{url}/slices", json={"name": "tenth", "reference_ids": tenth}).json()
        slice_times = []
        for _ in range(5):
            started = time.perf_counter()
            part = api.get(f"{url}/evaluations/{evaluation['id']}/slices/{made['id']}").json()
            slice_times.append(time.perf_counter() - started)
        page = ""
        if not args.no_page:
            drawn = page_times(server, api, dataset["id"], evaluation["id"], args.page_runs)
            page = f"; Models page drawn in Chromium p50 {statistics.median(drawn) * 1000:.0f} ms"
        median = statistics.median(times)
        print(
            f"curation_evaluation: {args.images:,} images / {len(coco['annotations']):,} objects / "
            f"{len(results):,} predictions: evaluation with writeback p50 {median:.2f} s "
            f"(runs {', '.join(f'{t:.2f}' for t in times)}; FiftyOne evaluate_detections "
            f"1,346 s here); again after 1 % of the items changed {again:.2f} s "
            f"({reused:,} items' matches reused), "
            f"AP {done['metrics']['summary']['AP']:.4f}, TP/FP/FN "
            f"{totals['tp']:,}/{totals['fp']:,}/{totals['fn']:,}; first query on the outcomes "
            f"{first_query * 1000:.0f} ms, next {query_again * 1000:.0f} ms; 10 % slice "
            f"re-evaluated over HTTP p50 {statistics.median(slice_times) * 1000:.0f} ms "
            f"(AP {part['summary']['AP']:.4f}){page}"
        )
    finally:
        server.stop()


DRAWN = (
    ".evaluation-summary .metric-value, .evaluation-classes tbody tr, .evaluation-pr svg, "
    ".evaluation-confidence svg, .evaluation-confusion svg"
)


def page_times(server: Server, api: httpx.Client, dataset_id: str, evaluation_id: str, runs: int):
    """Seconds from navigating to the evaluation's page until all its parts are drawn."""
    from _server import logged_in_page
    from playwright.sync_api import sync_playwright

    email, password = f"models-{time.time_ns()}@bench.test", "bench-models-password"
    api.post(
        "/users", json={"email": email, "name": "Models", "role": "admin", "password": password}
    ).raise_for_status()
    url = f"{server.url}/datasets/{dataset_id}/models/{evaluation_id}"
    times = []
    with sync_playwright() as playwright:
        browser, page = logged_in_page(playwright, url, email, password, height=900)
        page.wait_for_selector(".evaluation-confusion svg")
        for _ in range(runs):
            page.goto(f"{server.url}/datasets/{dataset_id}")  # away, then back
            page.wait_for_load_state("load")
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(
                "(selectors) => selectors.split(', ').every((s) => document.querySelector(s))",
                arg=DRAWN,
            )
            times.append(time.perf_counter() - started)
            print(f"  Models page drawn: {times[-1] * 1000:.0f} ms", flush=True)
        browser.close()
    return times


if __name__ == "__main__":
    main()
