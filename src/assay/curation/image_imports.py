"""Items from an archive (or a server folder) of images: `images` (one item per image) and
`yolo` (Ultralytics' layout, its boxes and polygons as ground truth).

Each image's bytes go to the blob store as they are read (content addressed, so a re-run
stores nothing new) and its size comes from its header (Pillow, without decoding pixels);
what is not an image is skipped and counted. The items are built once every file is read, so
a label file anywhere in the archive finds its image, and any problem stops the import before
a single item is written, naming the file (and line).

YOLO: `images/<split>/x.jpg` has its labels in `labels/<split>/x.txt` (the last `images`
directory of the path becomes `labels`; without one, `x.txt` beside the image), one object per
line: `class cx cy w h` (a box) or `class x1 y1 x2 y2 x3 y3 …` (a polygon), normalised to
0..1. Class names come from `names:` in a data.yaml (a list or an index → name mapping) or
from classes.txt (one per line); without either the label is the class number.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import yaml
from PIL import Image

from assay.core import blobs
from assay.core.jobs import PermanentError
from assay.curation.archives import Archive

FORMATS = ("yolo", "images")
_NAME_FILES = ("classes.txt", "obj.names")
# Normalised coordinates a hair outside 0..1 (rounding in exporters) are clamped.
_SLACK = 1e-3


@dataclass(frozen=True)
class _Image:
    sha256: str
    width: int | None
    height: int | None


@dataclass
class ArchiveItems:
    """What an archive import appends: (where, item) records, the blobs their media are, and
    how many files were neither images nor used labels."""

    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    blobs: dict[str, blobs.StoredBlob] = field(default_factory=dict)
    skipped: int = 0


def read_archive(
    *,
    archive: Archive,
    file_format: str,
    store: blobs.BlobStore,
    progress: Callable[[float, str], None],
) -> ArchiveItems:
    """Store the archive's images and build its items (see the module's docstring)."""
    found = ArchiveItems()
    images: dict[str, _Image] = {}
    texts: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="assay-import-") as spool_dir:
        for name, stream in archive.entries():
            if file_format == "yolo" and _is_yolo_text(name):
                texts[name] = _read_all(stream)
            else:
                image = _store_image(stream, name, store, Path(spool_dir), found)
                if image is None:
                    found.skipped += 1
                else:
                    images[name] = image
            progress(archive.position(), f"read {len(images)} images")
    if file_format == "yolo":
        _yolo_items(images, texts, found)
    else:
        for name in sorted(images):
            found.records.append((name, _item(name, name, images[name])))
    return found


def _read_all(stream: BinaryIO) -> bytes:
    parts = []
    while chunk := stream.read(blobs.CHUNK):
        parts.append(chunk)
    return b"".join(parts)


def _is_yolo_text(name: str) -> bool:
    return name.lower().endswith((".txt", ".yaml", ".yml", ".names"))


def _store_image(
    stream: BinaryIO, name: str, store: blobs.BlobStore, spool_dir: Path, found: ArchiveItems
) -> _Image | None:
    """The image's blob (stored) and size, or None when the file is not an accepted image."""
    # The stream caps the size itself, naming the entry; this limit is never the one hit.
    spooled = blobs.spool_stream(stream, limit=2**62, spool_dir=spool_dir)
    try:
        filename = PurePosixPath(name).name
        content_type = blobs.sniff_content_type(spooled, declared_type=None, filename=filename)
        if not content_type.startswith("image/") or not blobs.is_accepted(content_type):
            return None
        size = _image_size(spooled.path)
        store.put_file(spooled.sha256, spooled.path)
    finally:
        spooled.path.unlink(missing_ok=True)
    found.blobs[spooled.sha256] = blobs.StoredBlob(
        spooled.sha256, spooled.size, content_type, filename[:255]
    )
    return _Image(spooled.sha256, *(size or (None, None)))


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header; None when Pillow cannot read it."""
    try:
        with warnings.catch_warnings():
            # Large images are fine here: nothing is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _item(name: str, reference_id: str, image: _Image, **more: Any) -> dict[str, Any]:
    folder = str(PurePosixPath(name).parent)
    metadata: dict[str, Any] = {"folder": folder} if folder != "." else {}
    return {
        "reference_id": reference_id,
        "media": f"blob:{image.sha256}",
        "width": image.width,
        "height": image.height,
        "metadata": metadata | more.pop("metadata", {}),
        **more,
    }


# --- YOLO ----------------------------------------------------------------------------------


def _yolo_items(images: dict[str, _Image], texts: dict[str, bytes], found: ArchiveItems) -> None:
    names, names_file = _class_names(texts)
    used = {names_file} if names_file else set()
    for name in sorted(images):
        image = images[name]
        label_file = label_path(name)
        shapes: list[dict[str, Any]] = []
        if label_file in texts:
            used.add(label_file)
            if texts[label_file].strip() and (image.width is None or image.height is None):
                raise PermanentError(f"{name}: the image's size cannot be read for its labels")
            shapes = _shapes(texts[label_file], label_file, names, image)
        split = _split(name)
        found.records.append(
            (
                name,
                _item(
                    name,
                    str(PurePosixPath(name).with_suffix("")),
                    image,
                    metadata={"split": split} if split else {},
                    annotations=shapes,
                ),
            )
        )
    found.skipped += len(set(texts) - used)


def label_path(image: str) -> str:
    """Where Ultralytics looks for an image's labels: the last `images` directory of its
    path becomes `labels`, the extension `.txt` (no `images` directory: beside the image)."""
    parts = list(PurePosixPath(image).with_suffix(".txt").parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return "/".join(parts)


def _split(image: str) -> str | None:
    """`train` for images/train/x.jpg (Ultralytics) and train/images/x.jpg (Roboflow)."""
    folders = PurePosixPath(image).parts[:-1]
    if "images" not in folders:
        return None
    at = len(folders) - 1 - folders[::-1].index("images")
    if at + 1 < len(folders):
        return folders[at + 1]
    return folders[at - 1] if at > 0 else None


def _class_names(texts: dict[str, bytes]) -> tuple[dict[int, str] | None, str | None]:
    """Class number → name, and the file it came from (the shallowest data.yaml with
    `names`, else classes.txt or obj.names)."""
    by_depth = sorted(texts, key=lambda n: (n.count("/"), n))
    for name in by_depth:
        if name.lower().endswith((".yaml", ".yml")):
            try:
                doc = yaml.safe_load(texts[name])
            except yaml.YAMLError as exc:
                raise PermanentError(f"{name} is not YAML: {exc}") from None
            if isinstance(doc, dict) and "names" in doc:
                return _names_from(doc["names"], name), name
    for name in by_depth:
        if PurePosixPath(name).name.lower() in _NAME_FILES or name.lower().endswith(".names"):
            lines = texts[name].decode("utf-8-sig", "replace").splitlines()
            return {i: line.strip() for i, line in enumerate(lines) if line.strip()}, name
    return None, None


def _names_from(names: Any, where: str) -> dict[int, str]:
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            pass
    raise PermanentError(f"{where}: names is a list of class names or a number → name mapping")


def _shapes(
    text: bytes, where: str, names: dict[int, str] | None, image: _Image
) -> list[dict[str, Any]]:
    width, height = image.width or 0, image.height or 0
    shapes = []
    for number, line in enumerate(text.decode("utf-8-sig", "replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        at = f"{where} line {number}"
        try:
            cls = int(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise PermanentError(f"{at}: expected a class number then coordinates") from None
        if names is not None and cls not in names:
            raise PermanentError(f"{at}: class {cls} has no name in the class names")
        label = names[cls] if names is not None else str(cls)
        if any(not math.isfinite(v) or v < -_SLACK or v > 1 + _SLACK for v in values):
            raise PermanentError(f"{at}: coordinates are normalised to 0..1")
        values = [min(max(v, 0.0), 1.0) for v in values]
        if len(values) == 4:
            cx, cy, w, h = values
            if w <= 0 or h <= 0:
                raise PermanentError(f"{at}: a box needs a positive width and height")
            shapes.append(
                {
                    "type": "box",
                    "label": label,
                    "x": _px((cx - w / 2) * width),
                    "y": _px((cy - h / 2) * height),
                    "width": _px(w * width),
                    "height": _px(h * height),
                }
            )
        elif len(values) >= 6 and len(values) % 2 == 0:
            vertices = [
                {"x": _px(x * width), "y": _px(y * height)}
                for x, y in zip(values[::2], values[1::2], strict=True)
            ]
            shapes.append({"type": "polygon", "label": label, "vertices": vertices})
        else:
            raise PermanentError(
                f"{at}: a box is `class cx cy w h`, a polygon `class x1 y1 x2 y2 x3 y3 …`"
            )
    return shapes


def _px(value: float) -> float:
    return round(value, 4)
