"""The shapes of bulk writes (item appends, annotation and prediction uploads), decoded and
checked by msgspec in one pass over the request's bytes.

Bulk appends carry tens of thousands of items with their shapes; a pydantic model per shape
cost more than the database writes. msgspec checks types, ranges and unknown keys in C and
names the path of the first problem (`items[3].annotations[1].width`), which `decode` turns
into an `Invalid` naming that field. The annotation shapes are the labeling pillar's one
annotation model (`labeling/annotations.py` documents it), plus 3D cuboids and
Nucleus's class distributions on predictions.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from assay.core.errors import Invalid
from assay.core.json_values import loads, refuse_non_finite

# Coordinates and sizes: finite and bounded (a JSON number past a float is refused by the
# decoder itself).
Coordinate = Annotated[float, Meta(ge=-1e9, le=1e9)]
Size = Annotated[float, Meta(gt=0, le=1e9)]
Confidence = Annotated[float, Meta(ge=0, le=1)]
Label = Annotated[str, Meta(min_length=1, max_length=200)]
Reference = Annotated[str, Meta(min_length=1, max_length=512)]
ITEM_KINDS = ("image", "video_frame", "pointcloud", "text", "document", "conversation")
ItemKind = Literal["image", "video_frame", "pointcloud", "text", "document", "conversation"]


class _Shape(
    Struct,
    kw_only=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
    tag_field="type",
    gc=False,
):
    # The annotation's own id (Nucleus's `annotation_id`): re-uploading it replaces it.
    id: Reference | None = None
    attributes: dict[str, Any] = {}
    confidence: Confidence | None = None
    # A prediction's distribution over classes: {"car": 0.8, "truck": 0.2}.
    class_pdf: dict[str, Confidence] | None = None


class Vertex(Struct, gc=False, forbid_unknown_fields=True):
    x: Coordinate
    y: Coordinate


class Vector3(Struct, gc=False, forbid_unknown_fields=True):
    x: Coordinate
    y: Coordinate
    z: Coordinate


class BoxFace(Struct, gc=False, forbid_unknown_fields=True):
    x: Coordinate
    y: Coordinate
    width: Size
    height: Size


class Box(_Shape, tag="box"):
    label: Label
    x: Coordinate
    y: Coordinate
    width: Size
    height: Size


class Polygon(_Shape, tag="polygon"):
    label: Label
    vertices: Annotated[list[Vertex], Meta(min_length=3)]


class Line(_Shape, tag="line"):
    label: Label
    vertices: Annotated[list[Vertex], Meta(min_length=2)]


class Point(_Shape, tag="point"):
    label: Label
    x: Coordinate
    y: Coordinate


class Keypoint(Struct, gc=False, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    x: Coordinate
    y: Coordinate
    visible: bool = True


class Keypoints(_Shape, tag="keypoints"):
    label: Label
    points: Annotated[list[Keypoint], Meta(min_length=1)]
    # Edges between points by index (Nucleus's skeleton).
    skeleton: list[tuple[int, int]] = []


class Ellipse(_Shape, tag="ellipse"):
    label: Label
    cx: Coordinate
    cy: Coordinate
    rx: Size
    ry: Size
    rotation: Coordinate = 0.0


class Cuboid(_Shape, tag="cuboid"):
    """2D (the near and far faces as boxes) or 3D (centre, dimensions, yaw in radians)."""

    label: Label
    front: BoxFace | None = None
    back: BoxFace | None = None
    position: Vector3 | None = None
    dimensions: Vector3 | None = None
    yaw: Coordinate = 0.0


class Rle(Struct, gc=False, forbid_unknown_fields=True):
    size: Annotated[
        list[Annotated[int, Meta(gt=0, le=1_000_000)]], Meta(min_length=2, max_length=2)
    ]
    counts: list[Annotated[int, Meta(ge=0)]]


class Mask(_Shape, tag="mask"):
    label: Label
    rle: Rle


class Category(_Shape, tag="category"):
    label: Label
    # Which of the dataset's label sets it answers (Nucleus taxonomies).
    taxonomy: Annotated[str, Meta(max_length=200)] | None = None


class Span(_Shape, tag="span"):
    label: Label
    start: Annotated[int, Meta(ge=0)]
    end: Annotated[int, Meta(ge=0)]
    text: str | None = None


class Text(_Shape, tag="text"):
    text: str
    label: Annotated[str, Meta(max_length=200)] = ""
    field: Annotated[str, Meta(max_length=200)] | None = None


Shape = Box | Polygon | Line | Point | Keypoints | Ellipse | Cuboid | Mask | Category | Span | Text


class ItemIn(Struct, gc=False, kw_only=True, forbid_unknown_fields=True):
    reference_id: Reference
    kind: ItemKind = "image"
    # `blob:<sha256>` of an uploaded file, or an http(s) URL.
    media: Annotated[str, Meta(min_length=1, max_length=2000)] | None = None
    text: str | None = None
    width: Annotated[int, Meta(gt=0, le=1_000_000)] | None = None
    height: Annotated[int, Meta(gt=0, le=1_000_000)] | None = None
    metadata: dict[str, Any] = {}
    tags: list[Annotated[str, Meta(min_length=1, max_length=200)]] = []
    # Ground truth. Absent: the item's ground truth stays as it is; a list replaces it.
    annotations: list[Shape] | None = None


class AppendIn(Struct, gc=False, kw_only=True, forbid_unknown_fields=True):
    items: list[ItemIn]
    # Re-appending a reference id updates that item (False: it is left alone and counted
    # as ignored, Nucleus's default).
    update: bool = True


class PredictionsIn(Struct, gc=False, kw_only=True, forbid_unknown_fields=True):
    """A model's predictions by the items' reference ids. A prediction whose `id` the item
    already has from this model replaces it (`update` false: it is kept and counted as
    ignored); predictions without an id are added."""

    model_id: Annotated[str, Meta(min_length=1, max_length=24)]
    items: dict[Reference, list[Shape]]
    update: bool = True


T = TypeVar("T")
_PATH = re.compile(r" - at `\$(.*)`$")
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`$")


def decode(body: bytes, kind: type[T]) -> T:
    """`body` as `kind`, or `Invalid` naming the first bad field (`items[3].width`).

    msgspec reads the common, well-formed body in one pass. What it refuses without an exact
    place (broken JSON, NaN, a number past a float, a problem inside a free-form object) is
    read again by `core.json_values.loads`, which names the path the way every other route
    does (`items[0].metadata.score`)."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as error:
        # A NaN or an overflowing number is named first, wherever it is (as on every route).
        refuse_non_finite(body)
        message = str(error)
        found = _PATH.search(message)
        if found is None or "[...]" in found.group(1):
            return _convert(loads(body), kind)
        field = _field(found.group(1))
        message = message[: found.start()]
        unknown = _UNKNOWN.match(message)
        if unknown:
            field = f"{field}.{unknown.group(1)}" if field else unknown.group(1)
            message = f"unknown field {unknown.group(1)!r}"
        raise Invalid(f"{message} at {field}" if field else message, field=field) from None
    except msgspec.DecodeError:
        return _convert(loads(body), kind)


def _field(path: str) -> str:
    return path.lstrip(".") or "body"


def _convert(value: Any, kind: type[T]) -> T:
    """A parsed body as `kind` (`loads` has refused what is not JSON)."""
    try:
        return msgspec.convert(value, type=kind)
    except msgspec.ValidationError as error:
        message = str(error)
        found = _PATH.search(message)
        field = _field(found.group(1)).replace("[...]", "") if found else "body"
        if found:
            message = message[: found.start()]
        raise Invalid(f"{message} at {field}" if field else message, field=field) from None


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def to_builtins(shape: Shape) -> dict[str, Any]:
    """The annotation as stored and returned: its fields without the unset optional ones."""
    return msgspec.to_builtins(shape)
