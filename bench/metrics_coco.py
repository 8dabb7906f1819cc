"""COCO box evaluation: Assay's `assay.metrics.detection` beside pycocotools, faster-coco-eval
and hotcoco, on the same data in one run (issue 17).

    .venv/bin/python bench/metrics_coco.py [--images 5000] [--predictions 100000]
                                           [--repeats 5] [--skip-pycocotools]

The data is generated like a detector's output on COCO val (80 categories, ~7 objects per
image over the three area ranges, ~1 % crowd regions): jittered true boxes, duplicates,
misses, and low-scoring false alarms up to --predictions. Each engine times
evaluate + accumulate + summarize from data already loaded (its own COCO objects, or
Assay's columns); loading is timed apart. The twelve summary numbers of each engine are
compared with pycocotools' (max |difference|), and Assay's precision/recall arrays too.

Also: re-evaluating a 10 % slice of the images (Assay only — from the stored match results
the evaluation keeps, see `assay.metrics.detection.reaccumulate`).

Last line: `metrics_coco: …` with each engine's median and Assay's difference.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from assay.metrics.coco_json import objects_from_coco  # noqa: E402
from assay.metrics.detection import Params, evaluate  # noqa: E402


def generate(
    images: int, predictions: int, seed: int = 0, per_image: float = 7.3
) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    imgs = [{"id": i + 1, "width": 640, "height": 480} for i in range(images)]
    cats = [{"id": c + 1, "name": f"class {c}"} for c in range(80)]
    anns: list[dict] = []
    results: list[dict] = []
    counts = rng.poisson(per_image, images)
    for img, n in zip(imgs, counts, strict=True):
        for _ in range(n):
            w, h = np.exp(rng.uniform(np.log(6), np.log(400), 2))
            w, h = min(w, 639), min(h, 479)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            cat = int(rng.zipf(1.6) % 80) + 1
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img["id"],
                    "category_id": cat,
                    "bbox": [x, y, w, h],
                    "area": w * h * 0.8,
                    "iscrowd": int(rng.random() < 0.01),
                }
            )
            if rng.random() < 0.2:
                continue
            for _ in range(1 + int(rng.random() < 0.25)):
                j = rng.normal(0, 0.1, 4) * [w, h, w, h]
                results.append(
                    {
                        "image_id": img["id"],
                        "category_id": cat if rng.random() > 0.08 else int(rng.integers(1, 81)),
                        "bbox": [x + j[0], y + j[1], max(w + j[2], 1.0), max(h + j[3], 1.0)],
                        "score": float(rng.beta(5, 2)),
                    }
                )
    # False alarms, low scores, to the requested total.
    extra = max(predictions - len(results), 0)
    where = rng.integers(0, images, extra)
    wh = np.exp(rng.uniform(np.log(4), np.log(300), (extra, 2)))
    xy = rng.uniform(0, 1, (extra, 2)) * (np.array([640, 480]) - wh).clip(1)
    cat = rng.integers(1, 81, extra)
    score = rng.beta(1.2, 6, extra)
    for i in range(extra):
        results.append(
            {
                "image_id": int(where[i]) + 1,
                "category_id": int(cat[i]),
                "bbox": [float(xy[i, 0]), float(xy[i, 1]), float(wh[i, 0]), float(wh[i, 1])],
                "score": float(score[i]),
            }
        )
    return {"images": imgs, "categories": cats, "annotations": anns}, results


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def run_pycocotools_like(module_coco, module_eval, dataset, results, repeats):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = module_coco()
        gt.dataset = copy.deepcopy(dataset)
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(results))

    def once():
        with contextlib.redirect_stdout(io.StringIO()):
            ev = module_eval(gt, dt, "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev

    return timed(once, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--predictions", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-pycocotools", action="store_true")
    args = ap.parse_args()

    dataset, results = generate(args.images, args.predictions)
    print(
        f"{len(dataset['images'])} images, {len(dataset['annotations'])} objects, "
        f"{len(results)} predictions, 80 categories"
    )
    t = time.perf_counter()
    gt, dt = objects_from_coco(dataset, results, "bbox")
    load = time.perf_counter() - t
    image_ids = [i["id"] for i in dataset["images"]]
    category_ids = [c["id"] for c in dataset["categories"]]
    params = Params.coco("bbox")
    evaluate(gt, dt, params, image_ids=image_ids, category_ids=category_ids)  # warm
    ours_s, ours = timed(
        lambda: evaluate(gt, dt, params, image_ids=image_ids, category_ids=category_ids),
        args.repeats,
    )
    print(f"assay           {ours_s * 1000:9.1f} ms  (+ {load * 1000:.0f} ms from COCO JSON)")
    # A 10 % slice, re-evaluated from the stored matches.
    rng = np.random.default_rng(1)
    slice_ids = np.sort(rng.choice(image_ids, len(image_ids) // 10, replace=False))
    ours.restricted_to(slice_ids)
    slice_s, part = timed(lambda: ours.restricted_to(slice_ids), args.repeats * 4)
    print(f"assay, 10 % slice from stored matches {slice_s * 1000:.1f} ms (AP {part.stats[0]:.4f})")
    rows = {"assay": ours_s}
    diffs = {}
    reference = None
    if not args.skip_pycocotools:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        ref_s, reference = run_pycocotools_like(COCO, COCOeval, dataset, results, 1)
        rows["pycocotools"] = ref_s
        print(f"pycocotools     {ref_s * 1000:9.1f} ms")
        diffs["assay"] = max(
            float(np.max(np.abs(ours.stats - reference.stats))),
            float(np.max(np.abs(ours.precision - reference.eval["precision"]))),
            float(np.max(np.abs(ours.recall - reference.eval["recall"]))),
        )
    try:
        import faster_coco_eval

        fce_s, fce = run_pycocotools_like(
            faster_coco_eval.COCO, faster_coco_eval.COCOeval_faster, dataset, results, 3
        )
        rows["faster-coco-eval"] = fce_s
        print(f"faster-coco-eval {fce_s * 1000:8.1f} ms")
        if reference is not None:
            diffs["faster-coco-eval"] = float(
                np.max(np.abs(np.asarray(fce.stats[:12]) - reference.stats))
            )
    except ImportError:
        print("faster-coco-eval: not installed (pip install faster-coco-eval)")
    try:
        import hotcoco

        hc_s, hc = run_pycocotools_like(
            hotcoco.COCO, hotcoco.COCOeval, dataset, results, args.repeats
        )
        rows["hotcoco"] = hc_s
        print(f"hotcoco         {hc_s * 1000:9.1f} ms")
        if reference is not None:
            diffs["hotcoco"] = float(np.max(np.abs(np.asarray(hc.stats[:12]) - reference.stats)))
    except ImportError:
        print("hotcoco: not installed (pip install hotcoco)")
    for name, d in diffs.items():
        print(f"  {name}: max |difference| from pycocotools {d:.1e}")
    summary = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in rows.items())
    same = f"; assay vs pycocotools max diff {diffs['assay']:.0e}" if "assay" in diffs else ""
    print(
        f"metrics_coco: {len(dataset['images'])} images / {len(results)} predictions: "
        f"{summary}{same}; AP {ours.stats[0]:.4f}; 10 % slice re-evaluated {slice_s * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
