"""Checks of the geometry fields of one annotation (see annotations.py for the shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from math import isfinite
from typing import Any

from assay.core.errors import Invalid

# Shapes drawn in a browser land on fractional pixels; allow rounding noise at the edges.
EDGE_TOLERANCE = 1e-6
BOX_KEYS = frozenset(("x", "y", "width", "height"))
POINT_KEYS = frozenset(("x", "y"))
KEYPOINT_KEYS = frozenset(("name", "x", "y", "visible"))


@dataclass(frozen=True, slots=True)
class Limits:
    """What the task params say about the media: image size, frames, text, responses."""

    width: float | None = None
    height: float | None = None
    frame_count: int | None = None
    text: str | None = None
    responses: int | None = None

    @classmethod
    def from_params(cls, params: Any) -> Limits:
        if type(params) is not dict:
            raise Invalid("params must be a JSON object", field="params")
        sizes = {}
        for key in ("image_width", "image_height"):
            value = params.get(key)
            if value is not None and (not is_number(value) or value <= 0):
                raise Invalid(
                    f"{key} must be a positive number, not {value!r}", field=f"params.{key}"
                )
            sizes[key] = value
        frames = params.get("frame_count")
        if frames is not None and (type(frames) is not int or frames < 1):
            raise Invalid(
                f"frame_count must be a positive whole number, not {frames!r}",
                field="params.frame_count",
            )
        text = params.get("text")
        if text is not None and type(text) is not str:
            raise Invalid("text must be a string", field="params.text")
        responses = params.get("responses")
        if responses is not None and type(responses) is not list:
            raise Invalid("responses must be a JSON array", field="params.responses")
        return cls(
            width=sizes["image_width"],
            height=sizes["image_height"],
            frame_count=frames,
            text=text,
            responses=None if responses is None else len(responses),
        )


def is_number(value: Any) -> bool:
    """A finite JSON number (bools, NaN and infinities are not)."""
    return type(value) is int or (type(value) is float and isfinite(value))


def number(obj: dict, key: str, path: str) -> float:
    """The finite number at `obj[key]`, or Invalid naming `path.key`."""
    value = obj.get(key)
    if is_number(value):
        return value
    what = f"{key} is required" if value is None else f"{key} must be a number, not {value!r}"
    raise Invalid(what, field=f"{path}.{key}")


def _inside(value: float, key: str, path: str, size: float | None, side: str) -> None:
    if size is not None and not -EDGE_TOLERANCE <= value <= size + EDGE_TOLERANCE:
        raise Invalid(
            f"{key} = {value} is outside the image (0 to image_{side} {size})",
            field=f"{path}.{key}",
        )


def _check_keys(obj: dict, allowed: frozenset[str], path: str) -> None:
    if not obj.keys() <= allowed:
        name = min(str(k) for k in obj.keys() - allowed)
        raise Invalid(
            f"unknown field {name!r}; allowed: {', '.join(sorted(allowed))}",
            field=f"{path}.{name}",
        )


def box(obj: dict, path: str, limits: Limits, exact: bool = False) -> dict:
    """x, y, width, height with a positive size, inside the image when its size is known."""
    if exact:
        _check_keys(obj, BOX_KEYS, path)
    x, y = number(obj, "x", path), number(obj, "y", path)
    width, height = number(obj, "width", path), number(obj, "height", path)
    if width <= 0:
        raise Invalid(f"width must be greater than 0, not {width}", field=f"{path}.width")
    if height <= 0:
        raise Invalid(f"height must be greater than 0, not {height}", field=f"{path}.height")
    if limits.width is not None:
        _inside(x, "x", path, limits.width, "width")
        if x + width > limits.width + EDGE_TOLERANCE:
            raise Invalid(
                f"box extends past the right edge (x + width = {x + width} > image_width "
                f"{limits.width})",
                field=f"{path}.width",
            )
    if limits.height is not None:
        _inside(y, "y", path, limits.height, "height")
        if y + height > limits.height + EDGE_TOLERANCE:
            raise Invalid(
                f"box extends past the bottom edge (y + height = {y + height} > image_height "
                f"{limits.height})",
                field=f"{path}.height",
            )
    return {"x": x, "y": y, "width": width, "height": height}


def point(obj: dict, path: str, limits: Limits) -> tuple[float, float]:
    """x, y inside the image when its size is known."""
    x, y = number(obj, "x", path), number(obj, "y", path)
    _inside(x, "x", path, limits.width, "width")
    _inside(y, "y", path, limits.height, "height")
    return x, y


def vertices(ann: dict, path: str, limits: Limits, minimum: int) -> list[dict]:
    """At least `minimum` points {x, y}."""
    items = ann.get("vertices")
    shape = "a polygon" if minimum == 3 else "a line"
    if type(items) is not list or len(items) < minimum:
        got = f"{len(items)}" if type(items) is list else "none"
        raise Invalid(
            f"{shape} needs at least {minimum} vertices {{x, y}}, got {got}",
            field=f"{path}.vertices",
        )
    out = []
    for k, vertex in enumerate(items):
        vertex_path = f"{path}.vertices[{k}]"
        if type(vertex) is not dict:
            raise Invalid("a vertex must be an object {x, y}", field=vertex_path)
        _check_keys(vertex, POINT_KEYS, vertex_path)
        x, y = point(vertex, vertex_path, limits)
        out.append({"x": x, "y": y})
    return out


def keypoints(ann: dict, path: str, limits: Limits, names: tuple[str, ...]) -> list[dict]:
    """Named points of the label's skeleton, each at most once."""
    items = ann.get("points")
    if type(items) is not list or not items:
        raise Invalid(
            "points must be a non-empty list of {name, x, y, visible}; "
            f"names: {', '.join(names)}",
            field=f"{path}.points",
        )
    out = []
    seen: set[str] = set()
    for k, item in enumerate(items):
        item_path = f"{path}.points[{k}]"
        if type(item) is not dict:
            raise Invalid("a keypoint must be an object {name, x, y, visible}", field=item_path)
        _check_keys(item, KEYPOINT_KEYS, item_path)
        name = item.get("name")
        if name not in names:
            raise Invalid(
                f"keypoint {name!r} is not defined for this label; allowed: {', '.join(names)}",
                field=f"{item_path}.name",
            )
        if name in seen:
            raise Invalid(f"keypoint {name!r} is given twice", field=f"{item_path}.name")
        seen.add(name)
        x, y = point(item, item_path, limits)
        visible = item.get("visible", True)
        if type(visible) is not bool:
            raise Invalid("visible must be true or false", field=f"{item_path}.visible")
        out.append({"name": name, "x": x, "y": y, "visible": visible})
    return out


def ellipse(ann: dict, path: str, limits: Limits) -> dict:
    """Centre inside the image, positive radii, rotation in degrees (default 0)."""
    cx, cy = number(ann, "cx", path), number(ann, "cy", path)
    _inside(cx, "cx", path, limits.width, "width")
    _inside(cy, "cy", path, limits.height, "height")
    rx, ry = number(ann, "rx", path), number(ann, "ry", path)
    for key, value in (("rx", rx), ("ry", ry)):
        if value <= 0:
            raise Invalid(f"{key} must be greater than 0, not {value}", field=f"{path}.{key}")
    rotation = number(ann, "rotation", path) if ann.get("rotation") is not None else 0
    return {"cx": cx, "cy": cy, "rx": rx, "ry": ry, "rotation": rotation}


def mask(ann: dict, path: str, limits: Limits) -> dict:
    """Uncompressed COCO RLE whose runs cover exactly size[0] * size[1] pixels."""
    rle = ann.get("rle")
    rle_path = f"{path}.rle"
    if type(rle) is not dict:
        raise Invalid(
            "rle must be an object {size: [height, width], counts: [...]}", field=rle_path
        )
    _check_keys(rle, frozenset(("size", "counts")), rle_path)
    size = rle.get("size")
    if type(size) is not list or len(size) != 2 or any(type(v) is not int or v <= 0 for v in size):
        raise Invalid("size must be [height, width] in whole pixels", field=f"{rle_path}.size")
    height, width = size
    if (limits.height is not None and height != limits.height) or (
        limits.width is not None and width != limits.width
    ):
        raise Invalid(
            f"size {size} does not match the image ([image_height, image_width] = "
            f"[{limits.height}, {limits.width}])",
            field=f"{rle_path}.size",
        )
    counts = rle.get("counts")
    if type(counts) is not list or not all(type(c) is int and c >= 0 for c in counts):
        raise Invalid(
            "counts must be a list of run lengths (whole numbers >= 0)", field=f"{rle_path}.counts"
        )
    if sum(counts) != height * width:
        raise Invalid(
            f"counts add up to {sum(counts)} pixels, but size {size} has {height * width}",
            field=f"{rle_path}.counts",
        )
    return {"size": [height, width], "counts": list(counts)}


def span(ann: dict, path: str, limits: Limits) -> dict:
    """start < end within params.text; `text` must match the document and is filled in."""
    start, end = ann.get("start"), ann.get("end")
    for key, value in (("start", start), ("end", end)):
        if type(value) is not int or value < 0:
            raise Invalid(
                f"{key} must be a whole number >= 0, not {value!r}", field=f"{path}.{key}"
            )
    if start >= end:
        raise Invalid(f"end ({end}) must be greater than start ({start})", field=f"{path}.end")
    document = limits.text
    given = ann.get("text")
    if given is not None and type(given) is not str:
        raise Invalid("text must be a string", field=f"{path}.text")
    out: dict[str, Any] = {"start": start, "end": end}
    if document is not None:
        if end > len(document):
            raise Invalid(
                f"end ({end}) is past the end of params.text ({len(document)} characters)",
                field=f"{path}.end",
            )
        if given is not None and given != document[start:end]:
            raise Invalid(
                f"text {given!r} does not match params.text[{start}:{end}] "
                f"({document[start:end]!r})",
                field=f"{path}.text",
            )
        given = document[start:end]
    if given is not None:
        out["text"] = given
    return out


def text(ann: dict, path: str) -> dict:
    """A free-text answer, optionally naming the field it answers."""
    value = ann.get("text")
    if type(value) is not str:
        what = "text is required" if value is None else f"text must be a string, not {value!r}"
        raise Invalid(what, field=f"{path}.text")
    out = {"text": value}
    field = ann.get("field")
    if field is not None:
        if type(field) is not str or not field:
            raise Invalid("field must be a non-empty string", field=f"{path}.field")
        out["field"] = field
    return out


def ranking(ann: dict, path: str, limits: Limits) -> list[int]:
    """A permutation of the indices of params.responses, best first."""
    count = limits.responses
    if not count:
        raise Invalid("a ranking needs params.responses to rank", field="params.responses")
    order = ann.get("order")
    if (
        type(order) is not list
        or any(type(v) is not int for v in order)
        or sorted(order) != list(range(count))
    ):
        raise Invalid(
            f"order must list each response index 0..{count - 1} exactly once "
            f"(params.responses has {count}), not {order!r}",
            field=f"{path}.order",
        )
    return list(order)
