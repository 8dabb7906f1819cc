"""YOLO (Ultralytics) labels: a zip of `labels/<image stem>.txt`, `classes.txt`, `data.yaml`.

Each line is `class cx cy w h` for a box or `class x1 y1 x2 y2 …` (YOLO-seg) for a polygon,
normalized by the image size from the task params and clipped to [0, 1]; class indexes
follow taxonomy order. Images are not copied into the zip. Predictions read back may add a
confidence as the last value (`save_conf`): after the class, 4 values are a box and 5 a box
with confidence; an even count of 6 or more is a polygon, an odd count of 7 or more a polygon
with confidence.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

import yaml

from assay.core.errors import Invalid
from assay.labeling import formats


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def _fmt(values: Iterable[float]) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def label_lines(
    response: dict[str, Any] | None,
    *,
    width: float,
    height: float,
    class_ids: dict[str, int],
    stats: formats.ExportStats,
) -> list[str]:
    """The label file lines of one task's response."""
    lines = []
    for ann in (response or {}).get("annotations") or []:
        kind, cls = ann.get("type"), class_ids.get(ann.get("label"))
        if cls is None:
            stats.skipped["annotations whose label is not in the taxonomy"] += 1
        elif kind == "box":
            x0 = _clip(float(ann["x"]) / width)
            y0 = _clip(float(ann["y"]) / height)
            x1 = _clip((float(ann["x"]) + float(ann["width"])) / width)
            y1 = _clip((float(ann["y"]) + float(ann["height"])) / height)
            lines.append(f"{cls} {_fmt(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0))}")
            stats.annotations += 1
        elif kind == "polygon" and len(ann.get("vertices") or []) >= 3:
            coords = [
                c
                for p in ann["vertices"]
                for c in (_clip(float(p["x"]) / width), _clip(float(p["y"]) / height))
            ]
            lines.append(f"{cls} {_fmt(coords)}")
            stats.annotations += 1
        else:
            stats.skipped[f"{kind} annotations"] += 1
    return lines


def data_yaml(names: Sequence[str]) -> str:
    return yaml.safe_dump(
        {
            "path": ".",
            "train": "images",
            "val": "images",
            "nc": len(names),
            "names": dict(enumerate(names)),
        },
        sort_keys=False,
        allow_unicode=True,
    )


def write(
    tasks: Iterable[formats.ExportTask], out: BinaryIO, context: formats.ExportContext
) -> None:
    names = [label.name for label in context.labels]
    class_ids = {name: i for i, name in enumerate(names)}
    stats = context.stats
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("classes.txt", "".join(f"{name}\n" for name in names))
        zf.writestr("data.yaml", data_yaml(names))
        for task in tasks:
            width = float(task.params.get("image_width") or 0)
            height = float(task.params.get("image_height") or 0)
            if width <= 0 or height <= 0:
                stats.skipped["tasks without image_width and image_height"] += 1
                continue
            stem = formats.file_stem(task.file_name) or task.id
            path = f"labels/{stem}.txt"
            if path in zf.NameToInfo:  # two images with one name: keep both, apart
                path = f"labels/{stem}__{task.id}.txt"
            lines = label_lines(
                task.response, width=width, height=height, class_ids=class_ids, stats=stats
            )
            zf.writestr(path, "".join(f"{line}\n" for line in lines))
            stats.tasks += 1


# --- YOLO -> native ------------------------------------------------------------------------


def parse_label_file(text: str, names: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Native annotations in normalized coordinates, and warnings for lines left out."""
    annotations, warnings = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            cls, values = int(parts[0]), [float(v) for v in parts[1:]]
        except ValueError:
            warnings.append(f"line {number}: not numbers; dropped")
            continue
        if not 0 <= cls < len(names):
            warnings.append(f"line {number}: class {cls} is not in the class names; dropped")
            continue
        ann: dict[str, Any] = {"id": f"yolo-{number}", "label": names[cls], "attributes": {}}
        if len(values) in (4, 5):
            cx, cy, w, h = values[:4]
            ann.update(type="box", x=cx - w / 2, y=cy - h / 2, width=w, height=h)
        elif len(values) >= 6:
            coords = values[: len(values) // 2 * 2]
            ann.update(
                type="polygon",
                vertices=[{"x": coords[i], "y": coords[i + 1]} for i in range(0, len(coords), 2)],
            )
        else:
            warnings.append(f"line {number}: {len(values)} values is neither box nor polygon")
            continue
        if len(values) % 2 == 1:
            ann["confidence"] = values[-1]
        annotations.append(ann)
    return annotations, warnings


def denormalize(response: dict[str, Any], *, width: float, height: float) -> dict[str, Any]:
    """Scale normalized boxes and polygons to pixels of a `width` x `height` image."""
    annotations = []
    for ann in response.get("annotations") or []:
        ann = dict(ann)
        if ann.get("type") == "box":
            ann.update(
                x=ann["x"] * width,
                y=ann["y"] * height,
                width=ann["width"] * width,
                height=ann["height"] * height,
            )
        elif ann.get("type") == "polygon":
            ann["vertices"] = [{"x": p["x"] * width, "y": p["y"] * height} for p in ann["vertices"]]
        annotations.append(ann)
    return {**response, "annotations": annotations}


def _class_names(zf: zipfile.ZipFile, members: list[str]) -> list[str]:
    by_depth = sorted(members, key=lambda name: (name.count("/"), name))
    for name in by_depth:
        if posixpath.basename(name) == "classes.txt":
            text = zf.read(name).decode("utf-8-sig")
            return [line.strip() for line in text.splitlines() if line.strip()]
    for name in by_depth:
        if name.endswith((".yaml", ".yml")):
            try:
                doc = yaml.safe_load(zf.read(name).decode("utf-8-sig"))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise Invalid(f"{name} is not YAML: {exc}", field="blob") from exc
            names = doc.get("names") if isinstance(doc, dict) else None
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names, key=int)]
            if isinstance(names, list):
                return [str(n) for n in names]
    raise Invalid("the zip has no classes.txt and no data.yaml with `names`", field="blob")


# A zip bomb stops here: members are read one at a time, each and all of them bounded.
MAX_MEMBER_BYTES = 64 << 20
MAX_UNPACKED_BYTES = 4 << 30


def read_prelabels(data: bytes, labels: Sequence[formats.Label]) -> Iterator[formats.PrelabelRow]:
    """One row per label file; files match tasks by image file stem."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise Invalid(
            "a YOLO import is a zip of labels/*.txt and classes.txt", field="blob"
        ) from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        too_big = [i.filename for i in infos if i.file_size > MAX_MEMBER_BYTES]
        if too_big or sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
            raise Invalid(
                f"the zip unpacks to files larger than {MAX_MEMBER_BYTES} bytes each or "
                f"{MAX_UNPACKED_BYTES} bytes in all",
                field="blob",
            )
        members = [i.filename for i in infos]
        names = _class_names(zf, members)
        texts = [
            m for m in members if m.endswith(".txt") and posixpath.basename(m) != "classes.txt"
        ]
        in_labels = [m for m in texts if "labels/" in f"/{m}"]
        for number, member in enumerate(in_labels or texts, start=1):
            stem = formats.file_stem(member)
            try:
                text = zf.read(member).decode("utf-8-sig")
            except UnicodeDecodeError:
                yield formats.PrelabelRow(number, {"stem": stem}, {}, error=f"{member}: not text")
                continue
            annotations, warnings = parse_label_file(text, names)
            yield formats.PrelabelRow(
                number,
                formats.match_keys(stem=stem),
                {"annotations": annotations},
                normalized=True,
                warnings=[f"{member} {w}" for w in warnings],
            )


formats.register_exporter(
    formats.ExportFormat(
        "yolo",
        write,
        extension="zip",
        content_type="application/zip",
        task_types=frozenset({"image"}),
    )
)
formats.register_importer(formats.ImportFormat("yolo", read_prelabels, frozenset({"image"})))
