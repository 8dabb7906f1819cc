"""COCO masks: assay.metrics.rle against pycocotools.mask on 100,000 polygon objects.

    python bench/metrics_rle.py [--objects 100000] [--per-group 10] [--runs 3] [--seed 0]

Objects are COCO-like: star-shaped (concave) polygons of 8 to 60 vertices and 3 to 150 px
radius, one to three per object, some reaching past the image's edge, in images of 320 to
640 px a side. Objects come in groups of --per-group ground truths and as many detections
(noisy copies, a few missing or spurious, 10 % crowd ground truths), like one image and
category of COCOeval.

Timed (medians of --runs; CPU seconds of this process, so that other load on the machine
counts less, and wall seconds):
- rasterising: pycocotools `merge(frPyObjects(polygons, h, w))` per object (what
  `COCO.annToRLE` does) against `from_polygons_many` over all objects, and `from_polygons`
  one object a call;
- IoU: pycocotools `iou` per group on compressed RLE dicts (what COCOeval passes it, so it
  decodes the strings in each call) against `iou_matrix_many` over all groups and
  `iou_matrix` one group a call, on counts decoded once beforehand (`decode_counts_many`,
  timed apart).
Every mask and every IoU is checked equal to pycocotools' first. The last line is
`metrics_rle: ...`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np
from pycocotools import mask as coco_mask

from assay.metrics import rle


def timed(runs: int, work):
    """Median CPU and wall seconds of `runs` calls, and the last result."""
    cpu, wall, result = [], [], None
    for _ in range(runs):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        result = work()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return (statistics.median(cpu), statistics.median(wall)), result


def seconds(t) -> str:
    return f"{t[0]:.2f} s ({t[1]:.2f} s wall)"


def star(rng, cx: float, cy: float, radius: float) -> list[float]:
    n = int(rng.integers(8, 61))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = radius * rng.uniform(0.5, 1.0, n)
    xy = np.column_stack((cx + radii * np.cos(angles), cy + radii * np.sin(angles)))
    return np.round(xy, 2).ravel().tolist()


def make_object(rng, h: int, w: int, centre=None, radius=None) -> list[list[float]]:
    if centre is None:
        centre = rng.uniform(0, (w, h))
        radius = float(np.exp(rng.uniform(np.log(3), np.log(150))))
    parts = int(rng.choice([1, 2, 3], p=[0.8, 0.15, 0.05]))
    out = []
    for part in range(parts):
        offset = rng.normal(0, radius * 0.6, 2) if part else np.zeros(2)
        out.append(star(rng, *(centre + offset), radius / (1 + part)))
    return out


def make_groups(rng, objects: int, per_group: int):
    """(h, w, gt objects, crowd flags, dt objects) per group, about `objects` objects in all."""
    groups, total = [], 0
    while total < objects:
        h, w = (int(v) for v in rng.integers(320, 641, 2))
        centres = rng.uniform(0, (w, h), (per_group, 2))
        radii = np.exp(rng.uniform(np.log(3), np.log(150), per_group))
        gts = [make_object(rng, h, w, c, r) for c, r in zip(centres, radii, strict=True)]
        crowd = (rng.random(per_group) < 0.1).astype(np.uint8)
        dts = [
            make_object(rng, h, w, c + rng.normal(0, r * 0.2, 2), r * rng.uniform(0.8, 1.2))
            for c, r in zip(centres, radii, strict=True)
            if rng.random() < 0.85
        ]
        dts += [make_object(rng, h, w) for _ in range(int(rng.integers(0, 3)))]
        groups.append((h, w, gts, crowd, dts))
        total += len(gts) + len(dts)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--per-group", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    groups = make_groups(rng, args.objects, args.per_group)
    objects, heights, widths = [], [], []
    for h, w, gts, _, dts in groups:
        for obj in gts + dts:
            objects.append(obj)
            heights.append(h)
            widths.append(w)
    n_polygons = sum(len(o) for o in objects)
    print(f"machine: {platform.machine()}, python {platform.python_version()}, load {load()}")
    print(f"{len(objects)} objects ({n_polygons} polygons) in {len(groups)} groups")

    def coco_rasterise():
        return [
            coco_mask.merge(coco_mask.frPyObjects(o, h, w))
            for o, h, w in zip(objects, heights, widths, strict=True)
        ]

    def ours_one_by_one():
        return [
            rle.from_polygons(o, h, w) for o, h, w in zip(objects, heights, widths, strict=True)
        ]

    t_coco, coco_rles = timed(args.runs, coco_rasterise)
    t_batch, counts = timed(args.runs, lambda: rle.from_polygons_many(objects, heights, widths))
    t_single, single = timed(1, ours_one_by_one)
    same_masks = all(
        rle.encode_counts(c) == r["counts"].decode() for c, r in zip(counts, coco_rles, strict=True)
    ) and all(np.array_equal(a, b) for a, b in zip(single, counts, strict=True))
    print(
        f"rasterise: pycocotools {seconds(t_coco)}; ours {seconds(t_batch)} batched, "
        f"{seconds(t_single)} one object a call; identical: {same_masks}"
    )

    # IoU per group, as COCOeval's computeIoU: dts x gts with the gts' crowd flags.
    coco_groups, our_groups, at = [], [], 0
    for _, _, gts, crowd, dts in groups:
        g = list(range(at, at + len(gts)))
        d = list(range(at + len(gts), at + len(gts) + len(dts)))
        at += len(gts) + len(dts)
        coco_groups.append(([coco_rles[i] for i in d], [coco_rles[i] for i in g], crowd))
        our_groups.append(([counts[i] for i in d], [counts[i] for i in g], crowd))
    strings = [r["counts"] for r in coco_rles]

    t_decode, decoded = timed(args.runs, lambda: rle.decode_counts_many(strings))
    t_coco_iou, coco_ious = timed(
        args.runs, lambda: [coco_mask.iou(d, g, c) for d, g, c in coco_groups]
    )
    t_iou, ious = timed(args.runs, lambda: rle.iou_matrix_many(our_groups))
    t_iou_single, single_ious = timed(
        1, lambda: [rle.iou_matrix(d, g, c) for d, g, c in our_groups]
    )
    same_ious = (
        all(
            np.array_equal(np.asarray(a).reshape(len(d), len(g)), b)
            for a, b, (d, g, _) in zip(coco_ious, ious, our_groups, strict=True)
        )
        and all(np.array_equal(a, b) for a, b in zip(single_ious, ious, strict=True))
        and all(np.array_equal(a, b) for a, b in zip(decoded, counts, strict=True))
    )
    pairs = sum(len(d) * len(g) for d, g, _ in our_groups)
    print(
        f"iou: {len(groups)} groups, {pairs} pairs: pycocotools {seconds(t_coco_iou)}; ours "
        f"{seconds(t_iou)} batched, {seconds(t_iou_single)} one group a call (+ "
        f"{seconds(t_decode)} decoding every mask once); identical: {same_ious}"
    )
    print(
        f"metrics_rle: {len(objects)} objects, CPU s: rasterise ours {t_batch[0]:.2f} batched "
        f"/ {t_single[0]:.2f} one a call vs pycocotools {t_coco[0]:.2f}; iou {len(groups)} "
        f"groups ours {t_iou[0]:.2f} batched / {t_iou_single[0]:.2f} one a call (decode "
        f"{t_decode[0]:.2f}) vs pycocotools {t_coco_iou[0]:.2f}; identical: "
        f"{same_masks and same_ious}"
    )


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
