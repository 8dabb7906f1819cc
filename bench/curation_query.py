"""The query engine at 1,000,000 items and 5,000,000 objects (pure: frames in memory, no server).

    python bench/curation_query.py [--items 1000000] [--objects 5000000] [--repeats 31]

Builds the snapshot frames directly as Polars (a dozen metadata columns: numbers, strings,
a boolean, a list, a nested path; objects of 20 classes from ground truth and two models),
then times, each as the median of `--repeats` runs over warm snapshot caches:
  - first page (50 rows) of a selective query (~1 % of the items);
  - count + the sidebar's facets for a query matching ~10 %;
  - an annotation-count query with its count and first page;
  - an object-view query's first page sorted by confidence.
The snapshot's one-off derivations (label counts, codes, histogram bins) are timed apart:
they are paid once per snapshot, not per query. Last line: the medians against the targets
(first page p50 <= 10 ms; count + facets p50 <= 100 ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from assay.curation.query import QueryFrames, run_query

CLASSES = [
    "car", "person", "truck", "bus", "bicycle", "motorcycle", "traffic sign", "traffic light",
    "pole", "cone", "barrier", "dog", "cat", "stroller", "wheelchair", "scooter", "train",
    "trailer", "van", "animal",
]  # fmt: skip
WEATHER = (["sunny", "cloudy", "rain", "fog", "snow"], [0.55, 0.3, 0.1, 0.03, 0.02])


def pick(
    rng: np.random.Generator, values: list[str], n: int, p: list[float] | None = None
) -> pl.Series:
    return pl.Series(
        np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)], dtype=pl.Utf8
    )


def build_frames(n_items: int, n_objects: int, seed: int = 0) -> QueryFrames:
    rng = np.random.default_rng(seed)
    tag_pool = np.array(["blurry", "night", "review", "occluded", "golden", "dup"], dtype=object)
    tag_n = rng.choice([0, 0, 0, 1, 1, 2], n_items)
    tags = [list(tag_pool[rng.choice(6, k, replace=False)]) if k else [] for k in tag_n]
    scored = rng.random(n_items) < 0.02
    items = pl.DataFrame(
        {
            "row": pl.Series(np.arange(n_items), dtype=pl.UInt32),
            "item_id": [f"itm_{i:08d}" for i in range(n_items)],
            "reference_id": [f"frame-{i}" for i in range(n_items)],
            "kind": pl.Series(["image"] * n_items, dtype=pl.Utf8),
            "tags": pl.Series(tags, dtype=pl.List(pl.Utf8)),
            "slices": pl.Series([[]] * n_items, dtype=pl.List(pl.Utf8)),
            "width": np.full(n_items, 1920.0),
            "height": np.full(n_items, 1080.0),
            "metadata.weather": pick(rng, WEATHER[0], n_items, WEATHER[1]),
            "metadata.time_of_day": pick(rng, ["day", "dusk", "night"], n_items),
            "metadata.city": pick(rng, [f"city_{i}" for i in range(50)], n_items),
            "metadata.speed": rng.uniform(0, 120, n_items),
            "metadata.temperature": rng.normal(15, 10, n_items),
            "metadata.frame": rng.integers(0, 10_000, n_items).astype(np.float64),
            "metadata.lanes": rng.integers(1, 7, n_items).astype(np.float64),
            "metadata.is_night": rng.random(n_items) < 0.3,
            "metadata.camera.id": pick(rng, [f"cam{i}" for i in range(8)], n_items),
            "metadata.camera.exposure": rng.uniform(0.001, 0.05, n_items),
            "metadata.road": pick(rng, ["highway", "urban", "rural", "parking"], n_items),
            "metadata.sensors": pl.Series(
                [["lidar", "radar"] if k else ["camera"] for k in rng.random(n_items) < 0.5],
                dtype=pl.List(pl.Utf8),
            ),
            "autotag.crosswalk": pl.Series(np.where(scored, rng.random(n_items), np.nan)).fill_nan(
                None
            ),
        }
    )
    source_p = [0.4, 0.3, 0.3]
    label_p = np.array([0.3, 0.2] + [0.5 / 18] * 18)
    preds = rng.random(n_objects)
    source = pick(rng, ["gt", "model_a", "model_b"], n_objects, source_p)
    width = rng.lognormal(3.5, 0.8, n_objects)
    height = rng.lognormal(3.5, 0.8, n_objects)
    objects = pl.DataFrame(
        {
            "item_row": pl.Series(np.sort(rng.integers(0, n_items, n_objects)), dtype=pl.UInt32),
            "object_id": pl.Series(np.arange(n_objects)).cast(pl.Utf8),
            "source": source,
            "type": pl.Series(["box"] * n_objects, dtype=pl.Utf8),
            "label": pick(rng, CLASSES, n_objects, list(label_p)),
            "confidence": pl.Series(preds).set(source == "gt", None),
            "area": width * height,
            "width": width,
            "height": height,
            "aspect": width / height,
            "iou": pl.Series([None] * n_objects, dtype=pl.Float64),
        }
    )
    return QueryFrames(items, objects)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--objects", type=int, default=5_000_000)
    ap.add_argument("--repeats", type=int, default=31)
    args = ap.parse_args()

    started = time.perf_counter()
    frames = build_frames(args.items, args.objects)
    took = time.perf_counter() - started
    print(f"frames: {args.items:,} items, {args.objects:,} objects in {took:.1f} s")

    selective = 'metadata.weather = "snow" AND metadata.speed > 60'
    tenth = 'metadata.weather = "rain"'
    counted = 'annotations.car > 2 AND metadata.weather = "rain"'
    objects_q = 'prediction.model_a.label = "person" AND object.area > 2000'

    started = time.perf_counter()
    run_query(frames, counted).facets()
    run_query(frames, objects_q, "objects").page(order_by="-confidence")
    print(f"snapshot derivations (once per snapshot): {time.perf_counter() - started:.2f} s")

    def first_page() -> None:
        run_query(frames, selective).page(limit=50)

    def count_facets() -> None:
        result = run_query(frames, tenth)
        assert result.count == result.facets()["items"]

    def count_query() -> None:
        result = run_query(frames, counted)
        assert len(result.page(limit=50).positions) == min(50, result.count)

    def object_view() -> None:
        run_query(frames, objects_q, "objects").page(limit=50, order_by="-confidence")

    shares = {q: run_query(frames, q).count / args.items for q in (selective, tenth, counted)}
    figures = {}
    for name, fn, query in (
        ("first page (selective)", first_page, selective),
        ("count + facets (~10 %)", count_facets, tenth),
        ("annotation count query", count_query, counted),
        ("object view by confidence", object_view, objects_q),
    ):
        figures[name] = median_ms(fn, args.repeats)
        share = f"{shares[query]:.1%} of items" if query in shares else ""
        print(f"{name:28s} p50 {figures[name]:7.1f} ms   {query}  {share}")
    page, facets = figures["first page (selective)"], figures["count + facets (~10 %)"]
    print(
        f"summary: first page p50 {page:.1f} ms (target <= 10) {'ok' if page <= 10 else 'MISSED'}; "
        f"count+facets p50 {facets:.1f} ms (target <= 100) {'ok' if facets <= 100 else 'MISSED'}; "
        f"annotation count p50 {figures['annotation count query']:.1f} ms; "
        f"object view p50 {figures['object view by confidence']:.1f} ms"
    )


if __name__ == "__main__":
    main()
