"""FiftyOne 1.22 on the curation benches' data: ingest, the explorer's reads, find-similar.

    /work/envs/fiftyone/bin/python bench/fiftyone_anchor.py [--items 100000] [--boxes 9]
                                                            [--json results.json]

Run it in FiftyOne's own virtualenv (`pip install fiftyone`), never the project's; it starts
its own `mongod` (bench/_fiftyone.py). bench/curation_vs_fiftyone.py runs it next to Assay's
benches. The issue's anchor (100,000 samples / 933,000 labels): ingest 412 samples/s; indexed
metadata match 27 ms, label-filter count 458 ms, label facet 249 ms; `sort_by_similarity`
k=50 over 100,000 x 512 263 ms.

Loads bench/curation_data.py's items (the ones bench/curation_ingest.py posts, same seed) as
Samples: metadata fields as top-level fields (`camera` an embedded document), width and
height as `fo.ImageMetadata`, `camera.id` as `camera.number` (FiftyOne
reserves `id`), boxes as `fo.Detections` in `ground_truth` (relative
coordinates, `occluded` and the box's id as attributes), tags as tags. Ingest times building
the Samples and `dataset.add_samples` (FiftyOne's bulk path), --chunk at a time; generating
the dicts is outside the clock, as curation_ingest.py's bodies are generated beforehand.
Then indexes on `weather` and `city` and times, --repeats times each, the reads named as in
curation_vs_fiftyone.py (each materialised: counts as ints, pages as Sample lists), and
`sort_by_similarity(k=50)` over bench/similarity_data.py's embeddings materialised to ids.
Last line: `fiftyone_anchor: …`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fiftyone import environment, running_mongod
from curation_data import generate

WIDTH, HEIGHT = 1920, 1080
HISTOGRAM_BINS = 20  # Assay's facets bin numbers into 20 (curation/query/frames.py)
NUMBERS = ["speed", "hour", "lanes", "score", "drive", "frame", "camera.number", "camera.exposure"]
STRINGS = ["weather", "city", "split"]


def to_sample(fo, item: dict):
    detections = [
        fo.Detection(
            label=box["label"],
            bounding_box=[
                box["x"] / WIDTH,
                box["y"] / HEIGHT,
                box["width"] / WIDTH,
                box["height"] / HEIGHT,
            ],
            occluded=box["attributes"]["occluded"],
            reference_id=box["id"],
        )
        for box in item["annotations"]
    ]
    fields = {k: v for k, v in item["metadata"].items() if k != "camera"}
    camera = item["metadata"]["camera"]  # `id` is reserved in FiftyOne's documents
    return fo.Sample(
        filepath="/media/" + item["reference_id"],
        reference_id=item["reference_id"],
        tags=item["tags"],
        metadata=fo.ImageMetadata(width=item["width"], height=item["height"]),
        camera=fo.DynamicEmbeddedDocument(number=camera["id"], exposure=camera["exposure"]),
        ground_truth=fo.Detections(detections=detections),
        **fields,
    )


def reads(fo, dataset) -> dict:
    """name -> (callable, repeats divisor): the reads curation_vs_fiftyone.py pairs with
    Assay's, each returning something materialised."""
    from fiftyone import ViewField as F

    bounds = dataset.bounds  # the histograms' ranges, fixed as Assay's snapshot fixes its bins
    ranges = {field: bounds(field) for field in NUMBERS}
    selective = dataset.match((F("city") == "city-7") & (F("weather") == "rain"))
    tenth = dataset.match((F("weather") == "rain") & (F("night") == False))  # noqa: E712
    cars = F("ground_truth.detections").filter(F("label") == "car").length()
    counted = dataset.match((cars > 2) & (F("weather") == "fog"))
    box = F("ground_truth.bounding_box")

    def facets():
        aggregations = [
            fo.Count(),
            fo.Count("ground_truth.detections"),
            fo.CountValues("ground_truth.detections.label"),
            fo.CountValues("tags"),
            *(fo.CountValues(field) for field in STRINGS),
            *(fo.HistogramValues(f, bins=HISTOGRAM_BINS, range=ranges[f]) for f in NUMBERS),
        ]
        return tenth.aggregate(aggregations), list(tenth.limit(1))

    def objects_by_area():
        patches = dataset.filter_labels("ground_truth", F("label") == "bus").to_patches(
            "ground_truth"
        )
        return patches.count(), list(patches.sort_by(box[2] * box[3], reverse=True).limit(50))

    return {
        "metadata match, indexed (count)": (
            lambda: dataset.match(F("weather") == "rain").count(),
            1,
        ),
        "first page, 1 %": (lambda: (selective.count(), list(selective.limit(50))), 1),
        "count + facets, 10 %": (facets, 1),
        "annotation counts": (lambda: (counted.count(), list(counted.limit(50))), 1),
        "objects by area": (objects_by_area, 6),
        "label-filter count": (
            lambda: dataset.filter_labels("ground_truth", F("label") == "car").count(
                "ground_truth.detections"
            ),
            1,
        ),
        "label facet": (lambda: dataset.count_values("ground_truth.detections.label"), 1),
    }


def matched(answer) -> int:
    """The count in a read's answer (for label counts: their sum), to set beside Assay's."""
    if isinstance(answer, dict):
        return sum(answer.values())
    while isinstance(answer, (tuple, list)):
        answer = answer[0]
    return answer


def similarity(fo, dataset, *, dim: int, queries: int) -> dict:
    import fiftyone.brain as fob
    import numpy as np
    from similarity_data import clustered, exact_top, recall_at

    ids = dataset.values("id")  # insertion order: sample n has embedding row n
    row_of = {sample_id: row for row, sample_id in enumerate(ids)}
    base, _, held_out = clustered(len(ids), dim, queries=queries)
    truth = exact_top(base, held_out, 10)
    started = time.perf_counter()
    fob.compute_similarity(dataset, embeddings=base, brain_key="sim", progress=False)
    build = time.perf_counter() - started
    times, found = [], []
    for query in held_out:
        started = time.perf_counter()
        hits = dataset.sort_by_similarity(query, k=50, brain_key="sim").values("id")
        times.append((time.perf_counter() - started) * 1000)
        found.append(np.array([row_of[h] for h in hits]))
    return {"times": times, "recall@10": recall_at(found, truth), "build_s": build}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--boxes", type=int, default=9, help="average boxes per item")
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=30, help="find-similar queries")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with running_mongod() as uri:
        os.environ.update(environment(uri))
        import fiftyone as fo

        dataset = fo.Dataset(f"assay-anchor-{time.time_ns()}")
        ingest = 0.0
        for start, items in generate(args.items, args.boxes, args.chunk):
            started = time.perf_counter()
            dataset.add_samples([to_sample(fo, item) for item in items], progress=False)
            ingest += time.perf_counter() - started
            done = start + len(items)
            if done % (2 * args.chunk) == 0:
                print(f"  {done:,} samples, {done / ingest:,.0f}/s", flush=True)
        labels = dataset.count("ground_truth.detections")
        started = time.perf_counter()
        dataset.create_index("weather")
        dataset.create_index("city")
        indexing = time.perf_counter() - started
        print(
            f"fiftyone {fo.__version__}: {args.items:,} samples, {labels:,} labels in "
            f"{ingest:.1f} s ({args.items / ingest:,.0f} samples/s); indexes {indexing:.1f} s",
            flush=True,
        )
        results = {
            "version": fo.__version__,
            "samples": args.items,
            "labels": labels,
            "ingest_per_s": args.items / ingest,
            "reads": {},
            "matched": {},
        }
        for name, (read, divisor) in reads(fo, dataset).items():
            results["matched"][name] = matched(read())  # and warms mongod's cache
            times = []
            for _ in range(max(3, args.repeats // divisor)):
                started = time.perf_counter()
                read()
                times.append((time.perf_counter() - started) * 1000)
            results["reads"][name] = times
            print(
                f"  {name}: p50 {statistics.median(times):.1f} ms "
                f"({results['matched'][name]:,} matched)",
                flush=True,
            )
        sim = similarity(fo, dataset, dim=args.dim, queries=args.queries)
        results["find-similar k=50"] = sim
        print(
            f"  sort_by_similarity k=50: p50 {statistics.median(sim['times']):.1f} ms, "
            f"recall@10 {sim['recall@10']:.3f} (compute_similarity {sim['build_s']:.1f} s)",
            flush=True,
        )
        fo.delete_dataset(dataset.name)
    if args.json:
        args.json.write_text(json.dumps(results))
    p50 = {name: statistics.median(times) for name, times in results["reads"].items()}
    print(
        f"fiftyone_anchor: fiftyone {results['version']} {args.items:,} samples "
        f"{labels:,} labels: ingest {results['ingest_per_s']:,.0f} samples/s; "
        + "; ".join(f"{name} p50 {ms:.1f} ms" for name, ms in p50.items())
        + f"; sort_by_similarity k=50 p50 {statistics.median(sim['times']):.1f} ms"
    )


if __name__ == "__main__":
    main()
