"""COCO object detection / segmentation / keypoints JSON.

Out: one image per task (ids 1…n in task order; `task_id`, `unique_id` and `attachment` kept
as extra image fields), one category per taxonomy label (ids 1…n in taxonomy order, with the
label's keypoint names), and boxes, polygons, masks (RLE) and keypoints as annotations, with
their native `attributes` as an extra field (as CVAT does). Other geometries are counted as
skipped. The file is streamed: images and annotations are spooled to temporary files during
one pass over the tasks, so memory does not grow with the export.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from assay.core.errors import Invalid
from assay.labeling import formats

# --- RLE (the COCO compressed-counts codec and its measures, as in pycocotools' maskApi.c) --


def rle_decode_counts(counts: str) -> list[int]:
    """Run lengths of a compressed COCO RLE string."""
    runs: list[int] = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            c = ord(counts[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    return runs


def rle_encode_counts(runs: Sequence[int]) -> str:
    """The compressed COCO RLE string of run lengths."""
    chars = []
    for i, run in enumerate(runs):
        x = run - runs[i - 2] if i > 2 else run
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return "".join(chars)


def rle_runs(rle: dict[str, Any]) -> list[int]:
    counts = rle.get("counts")
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        return rle_decode_counts(counts)
    if isinstance(counts, list):
        return [int(c) for c in counts]
    raise ValueError("mask rle.counts must be a list of run lengths or a COCO RLE string")


def rle_area(runs: Sequence[int]) -> int:
    return sum(runs[1::2])


def rle_bbox(runs: Sequence[int], height: int, width: int) -> list[float]:
    """[x, y, w, h] of the foreground of a column-major RLE (pycocotools' rleToBbox)."""
    m = len(runs) // 2 * 2
    if m == 0 or height <= 0:
        return [0.0, 0.0, 0.0, 0.0]
    xs, ys, xe, ye, cc, xp = width, height, 0, 0, 0, 0
    for j in range(m):
        cc += runs[j]
        t = cc - j % 2
        y = t % height
        x = (t - y) // height
        if j % 2 == 0:
            xp = x
        elif xp < x:
            ys, ye = 0, height - 1
        xs, xe, ys, ye = min(xs, x), max(xe, x), min(ys, y), max(ye, y)
    return [float(xs), float(ys), float(xe - xs + 1), float(ye - ys + 1)]


# --- geometry ------------------------------------------------------------------------------


def polygon_area(flat: Sequence[float]) -> float:
    xs, ys = flat[0::2], flat[1::2]
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2


def _extent(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    if not xs:
        return [0.0, 0.0, 0.0, 0.0]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _visibility(point: dict[str, Any]) -> int:
    visible = point.get("visible", True)
    if isinstance(visible, bool):
        return 2 if visible else 1
    return int(visible) if visible in (0, 1, 2) else 2


def to_coco_annotation(
    ann: dict[str, Any], category: formats.Label
) -> tuple[dict[str, Any] | None, str | None]:
    """The COCO fields of one native annotation, or (None, reason skipped)."""
    kind = ann.get("type")
    out: dict[str, Any] = {"iscrowd": 0}
    if kind == "box":
        x, y, w, h = (float(ann[k]) for k in ("x", "y", "width", "height"))
        out.update(bbox=[x, y, w, h], area=w * h)
    elif kind == "polygon":
        flat = [float(v) for p in ann.get("vertices") or [] for v in (p["x"], p["y"])]
        if len(flat) < 6:
            return None, "polygons with fewer than 3 vertices"
        out.update(
            segmentation=[flat], bbox=_extent(flat[0::2], flat[1::2]), area=polygon_area(flat)
        )
    elif kind == "mask":
        rle = ann.get("rle") or {}
        try:
            height, width = (int(v) for v in rle["size"])
            runs = rle_runs(rle)
        except (KeyError, TypeError, ValueError):
            return None, "masks without a valid rle"
        out.update(
            segmentation={"size": [height, width], "counts": rle["counts"]},
            bbox=rle_bbox(runs, height, width),
            area=float(rle_area(runs)),
        )
    elif kind == "keypoints":
        if not category.keypoints:
            return None, "keypoints of labels without keypoint names in the taxonomy"
        by_name = {p.get("name"): p for p in ann.get("points") or []}
        flat, labeled_x, labeled_y = [], [], []
        for name in category.keypoints:
            point = by_name.get(name)
            if point is None:
                flat += [0, 0, 0]
                continue
            x, y, v = float(point["x"]), float(point["y"]), _visibility(point)
            flat += [x, y, v] if v else [0, 0, 0]
            if v:
                labeled_x.append(x)
                labeled_y.append(y)
        bbox = _extent(labeled_x, labeled_y)
        out.update(keypoints=flat, num_keypoints=len(labeled_x), bbox=bbox, area=bbox[2] * bbox[3])
    else:
        return None, f"{kind} annotations"
    if ann.get("attributes"):
        out["attributes"] = ann["attributes"]
    if ann.get("confidence") is not None:
        out["score"] = ann["confidence"]
    return out, None


def categories(labels: Sequence[formats.Label]) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": label.name,
            "supercategory": "",
            **(
                {"keypoints": list(label.keypoints), "skeleton": coco_skeleton(label)}
                if label.keypoints
                else {}
            ),
        }
        for i, label in enumerate(labels, start=1)
    ]


def coco_skeleton(label: formats.Label) -> list[list[int]]:
    """The label's skeleton as COCO writes it: pairs of 1-based keypoint indices."""
    index = {name: i for i, name in enumerate(label.keypoints, start=1)}
    return [[index[a], index[b]] for a, b in label.skeleton if a in index and b in index]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def write(
    tasks: Iterable[formats.ExportTask], out: BinaryIO, context: formats.ExportContext
) -> None:
    labels = list(context.labels)
    category_ids = {label.name: (i, label) for i, label in enumerate(labels, start=1)}
    stats = context.stats
    with (
        tempfile.TemporaryFile(dir=context.tmp_dir) as images,
        tempfile.TemporaryFile(dir=context.tmp_dir) as annotations,
    ):
        annotation_id = 0
        for image_id, task in enumerate(tasks, start=1):
            image = {
                "id": image_id,
                "file_name": task.file_name or task.id,
                "width": int(task.params.get("image_width") or 0),
                "height": int(task.params.get("image_height") or 0),
                "task_id": task.id,
                "unique_id": task.unique_id,
                "attachment": formats.attachment_of(task.params),
            }
            images.write((b"," if image_id > 1 else b"") + _dumps(image))
            stats.tasks += 1
            for ann in (task.response or {}).get("annotations") or []:
                category = category_ids.get(ann.get("label"))
                if category is None:
                    stats.skipped["annotations whose label is not in the taxonomy"] += 1
                    continue
                fields, reason = to_coco_annotation(ann, category[1])
                if fields is None:
                    stats.skipped[reason or "annotations"] += 1
                    continue
                annotation_id += 1
                record = {"id": annotation_id, "image_id": image_id, "category_id": category[0]}
                annotations.write((b"," if annotation_id > 1 else b"") + _dumps(record | fields))
                stats.annotations += 1
        out.write(b'{"info":{"description":"Assay export","version":"1.0"},"licenses":[],')
        out.write(b'"categories":' + _dumps(categories(labels)) + b',"images":[')
        images.seek(0)
        shutil.copyfileobj(images, out)
        out.write(b'],"annotations":[')
        annotations.seek(0)
        shutil.copyfileobj(annotations, out)
        out.write(b"]}\n")


# --- COCO -> native ------------------------------------------------------------------------


def to_native_annotations(
    ann: dict[str, Any], category: dict[str, Any], labels: Sequence[formats.Label]
) -> list[dict[str, Any]]:
    """Native annotations of one COCO annotation (one polygon per part of a multi-part one)."""
    base_id = f"coco-{ann.get('id')}"
    common: dict[str, Any] = {"label": category.get("name"), "attributes": {}}
    if isinstance(ann.get("attributes"), dict):
        common["attributes"] = ann["attributes"]
    if isinstance(ann.get("score"), int | float):
        common["confidence"] = ann["score"]
    keypoints = ann.get("keypoints")
    segmentation = ann.get("segmentation")
    if isinstance(keypoints, list) and keypoints and len(keypoints) % 3 == 0:
        names = category.get("keypoints") or next(
            (list(lb.keypoints) for lb in labels if lb.name == category.get("name")), []
        )
        points = []
        for i in range(len(keypoints) // 3):
            x, y, v = keypoints[3 * i : 3 * i + 3]
            if v:
                name = names[i] if i < len(names) else str(i)
                points.append({"name": name, "x": x, "y": y, "visible": v == 2})
        return [{"id": base_id, "type": "keypoints", **common, "points": points}]
    if isinstance(segmentation, dict):
        # Native masks hold uncompressed runs; COCO files often hold the compressed string.
        rle = {"size": list(segmentation["size"]), "counts": rle_runs(segmentation)}
        return [{"id": base_id, "type": "mask", **common, "rle": rle}]
    if isinstance(segmentation, list) and segmentation:
        rings = [r for r in segmentation if isinstance(r, list) and len(r) >= 6]
        return [
            {
                "id": base_id if len(rings) == 1 else f"{base_id}-{k}",
                "type": "polygon",
                **common,
                "vertices": [{"x": r[i], "y": r[i + 1]} for i in range(0, len(r) - 1, 2)],
            }
            for k, r in enumerate(rings)
        ]
    x, y, w, h = ann["bbox"]
    return [{"id": base_id, "type": "box", **common, "x": x, "y": y, "width": w, "height": h}]


def read_prelabels(data: bytes, labels: Sequence[formats.Label]) -> Iterator[formats.PrelabelRow]:
    """One row per COCO image; images match tasks by `task_id`, `unique_id`, `attachment`
    (or `coco_url`), then `file_name`. Results files (a bare list of annotations) have no
    images to match and are refused."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise Invalid(f"the COCO file is not JSON: {exc}", field="blob") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise Invalid(
            "a COCO file is an object with `images`, `annotations` and `categories`",
            field="blob",
        )
    cats = {c.get("id"): c for c in doc.get("categories") or [] if isinstance(c, dict)}
    by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for ann in doc.get("annotations") or []:
        if isinstance(ann, dict):
            by_image[ann.get("image_id")].append(ann)
    for number, image in enumerate(doc["images"], start=1):
        if not isinstance(image, dict):
            yield formats.PrelabelRow(number, {}, {}, error="image entry is not an object")
            continue
        natives, warnings = [], []
        for ann in by_image.pop(image.get("id"), []):
            category = cats.get(ann.get("category_id"))
            if category is None:
                warnings.append(f"annotation {ann.get('id')}: unknown category_id; dropped")
                continue
            try:
                natives += to_native_annotations(ann, category, labels)
            except (KeyError, TypeError, ValueError):
                warnings.append(f"annotation {ann.get('id')}: no usable geometry; dropped")
        match = formats.match_keys(
            task_id=image.get("task_id"),
            unique_id=image.get("unique_id"),
            attachment=image.get("attachment") or image.get("coco_url"),
            file_name=image.get("file_name"),
        )
        yield formats.PrelabelRow(number, match, {"annotations": natives}, warnings=warnings)
    for image_id, orphans in by_image.items():
        yield formats.PrelabelRow(
            0,
            {},
            {},
            error=f"{len(orphans)} annotation(s) name image_id {image_id}, which is not in images",
        )


formats.register_exporter(
    formats.ExportFormat(
        "coco",
        write,
        extension="json",
        content_type="application/json",
        task_types=frozenset({"image"}),
    )
)
formats.register_importer(formats.ImportFormat("coco", read_prelabels, frozenset({"image"})))
