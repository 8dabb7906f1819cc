"""Task responses in Scale's shapes, and Scale-shaped prelabels (`hypothesis`) as native ones.

Native annotations (see labeling/annotations.py) become what each Scale task type returns:
boxes as `left/top/width/height`, polygons and lines as `vertices`, categorization as
`{"category": …}` or `{"taxonomies": {…}}`, transcription as `{"fields": {…}}`, text
collection as `{field_id: value}`, video as tracks with per-frame geometry. Pure functions.
"""

from __future__ import annotations

import math
from typing import Any

from assay.compat.scale_taxonomy import LEGACY_GEOMETRY, VIDEO_TYPES

IMAGE_TYPES = frozenset(("imageannotation", "segmentannotation", *LEGACY_GEOMETRY))
FIELD_TYPES = frozenset(("transcription", "datacollection"))


def _image_geometry(ann: dict) -> dict[str, Any]:
    kind = ann.get("type")
    if kind == "box":
        return {
            "left": ann["x"],
            "top": ann["y"],
            "width": ann["width"],
            "height": ann["height"],
        }
    if kind in ("polygon", "line"):
        return {"vertices": [{"x": v["x"], "y": v["y"]} for v in ann["vertices"]]}
    if kind == "point":
        return {"x": ann["x"], "y": ann["y"]}
    if kind == "ellipse":
        # Scale gives the centre as x, y and the rotation in radians.
        return {
            "x": ann["cx"],
            "y": ann["cy"],
            "rx": ann["rx"],
            "ry": ann["ry"],
            "rotation": math.radians(ann.get("rotation", 0)),
        }
    if kind == "cuboid":
        return _cuboid(ann["front"], ann["back"])
    if kind == "keypoints":
        return {"points": ann["points"]}
    if kind == "mask":
        return {"rle": ann["rle"]}
    return {}


def _cuboid(front: dict, back: dict) -> dict[str, Any]:
    """Scale's 2D cuboid: the front face's corners and the visible side edge of the back."""
    left, top = front["x"], front["y"]
    right, bottom = left + front["width"], top + front["height"]
    side_x = back["x"] + back["width"] if back["x"] >= front["x"] else back["x"]
    vertices = [
        {"type": "vertex", "description": "face-topleft", "x": left, "y": top},
        {"type": "vertex", "description": "face-bottomleft", "x": left, "y": bottom},
        {"type": "vertex", "description": "face-topright", "x": right, "y": top},
        {"type": "vertex", "description": "face-bottomright", "x": right, "y": bottom},
        {"type": "vertex", "description": "side-topcorner", "x": side_x, "y": back["y"]},
        {
            "type": "vertex",
            "description": "side-bottomcorner",
            "x": side_x,
            "y": back["y"] + back["height"],
        },
    ]
    # The native faces too, so nothing is lost on the way out.
    return {"vertices": vertices, "front": front, "back": back}


def _image_annotation(ann: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"uuid": ann.get("id"), "type": ann.get("type")}
    if "label" in ann:
        out["label"] = ann["label"]
    out["attributes"] = ann.get("attributes", {})
    out.update(_image_geometry(ann))
    if "confidence" in ann:
        out["confidence"] = ann["confidence"]
    return out


def _links(response: dict) -> list[dict]:
    return [
        {
            "from": link["from"],
            "to": link["to"],
            "label": link["label"],
            "attributes": link.get("attributes", {}),
        }
        for link in response.get("links", [])
    ]


def _image(response: dict) -> dict[str, Any]:
    return {
        "annotations": [_image_annotation(a) for a in response.get("annotations", [])],
        "global_attributes": response.get("global_attributes", {}),
        "links": _links(response),
    }


def _segment(response: dict) -> dict[str, Any]:
    masks = [a for a in response.get("annotations", []) if a.get("type") == "mask"]
    labels = list(dict.fromkeys(a.get("label") for a in masks))
    return {
        "labelMapping": {label: {"index": i + 1} for i, label in enumerate(labels)},
        # Inline RLE masks (Scale links PNG files here).
        "annotations": [_image_annotation(a) for a in masks],
        "global_attributes": response.get("global_attributes", {}),
    }


def _video(response: dict) -> dict[str, Any]:
    tracks: dict[str, dict[str, Any]] = {}
    for ann in response.get("annotations", []):
        track_id = str(ann.get("track_id", ann.get("id")))
        track = tracks.setdefault(
            track_id,
            {
                "uuid": track_id,
                "label": ann.get("label"),
                "geometry": ann.get("type"),
                "attributes": ann.get("attributes", {}),
                "frames": [],
            },
        )
        frame = {"key": ann.get("frame", 0), "keyframe": ann.get("keyframe", True)}
        frame.update(_image_geometry(ann))
        frame["attributes"] = ann.get("attributes", {})
        track["frames"].append(frame)
    for track in tracks.values():
        track["frames"].sort(key=lambda f: f["key"])
    return {
        "annotations": tracks,
        "global_attributes": response.get("global_attributes", {}),
        "links": _links(response),
    }


def _chosen(response: dict) -> list[str]:
    return [a["label"] for a in response.get("annotations", []) if a.get("type") == "category"]


def _categorization(response: dict, params: dict) -> dict[str, Any]:
    chosen = _chosen(response)
    taxonomies = params.get("taxonomies")
    if isinstance(taxonomies, dict) and taxonomies:
        names = list(taxonomies)
        out: dict[str, Any] = {names[0]: chosen}
        for name in names[1:]:
            value = response.get("global_attributes", {}).get(name)
            if value is not None:
                out[name] = value if isinstance(value, list) else [value]
        return {"taxonomies": out}
    multiple = bool(params.get("allow_multiple"))
    category: Any = chosen if multiple else (chosen[0] if chosen else None)
    result: dict[str, Any] = {"category": category}
    if response.get("global_attributes"):
        result["global_attributes"] = response["global_attributes"]
    return result


def _spans(response: dict) -> dict[str, Any]:
    annotations = []
    for ann in response.get("annotations", []):
        if ann.get("type") != "span":
            continue
        item = {"label": ann.get("label"), "start": ann["start"], "end": ann["end"]}
        if "text" in ann:
            item["text"] = ann["text"]
        if ann.get("attributes"):
            item["attributes"] = ann["attributes"]
        item["uuid"] = ann.get("id")
        annotations.append(item)
    return {"annotations": annotations, "links": _links(response)}


def _texts(response: dict) -> list[dict]:
    return [a for a in response.get("annotations", []) if a.get("type") == "text"]


def _fields(response: dict, params: dict) -> dict[str, Any]:
    """transcription / datacollection: `fields` and `repeatable_fields` rows."""
    repeatable = params.get("repeatable_fields")
    repeatable_keys = set(repeatable) if isinstance(repeatable, dict) else set()
    fields: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for ann in _texts(response):
        key = ann.get("field") or ann.get("label") or "text"
        if key in repeatable_keys:
            row = seen.get(key, 0)
            seen[key] = row + 1
            while len(rows) <= row:
                rows.append({})
            rows[row][key] = ann["text"]
        elif key not in fields:
            fields[key] = ann["text"]
    out: dict[str, Any] = {"fields": fields}
    if repeatable_keys:
        out["repeatable_fields"] = rows
    if response.get("global_attributes"):
        out["global_attributes"] = response["global_attributes"]
    return out


def _document(response: dict) -> dict[str, Any]:
    annotations = []
    for ann in _texts(response):
        item = {"uuid": ann.get("id"), "type": "text", "text": ann["text"]}
        for key in ("label", "field"):
            if key in ann:
                item[key] = ann[key]
        item["attributes"] = ann.get("attributes", {})
        annotations.append(item)
    return {"annotations": annotations, "global_attributes": response.get("global_attributes", {})}


def _text_collection(response: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ann in _texts(response):
        key = ann.get("field") or ann.get("label") or "text"
        if key in out:
            previous = out[key]
            out[key] = (
                [*previous, ann["text"]] if isinstance(previous, list) else [previous, ann["text"]]
            )
        else:
            out[key] = ann["text"]
    out.update(response.get("global_attributes", {}))
    return out


def _llm(response: dict) -> dict[str, Any]:
    """chat and comparison: the native annotations, plus Scale-style shortcuts."""
    annotations = response.get("annotations", [])
    out: dict[str, Any] = {"annotations": annotations}
    for ann in annotations:
        if ann.get("type") == "comparison":
            out["choice"] = ann["choice"]
        elif ann.get("type") == "ranking":
            out["ranking"] = ann["order"]
    ratings = [a for a in annotations if a.get("type") == "rating"]
    if ratings:
        out["ratings"] = [
            {
                "criterion": a["criterion"],
                "value": a["value"],
                "response_index": a["response_index"],
            }
            for a in ratings
        ]
    if response.get("global_attributes"):
        out["global_attributes"] = response["global_attributes"]
    return out


def to_scale_response(scale_type: str, response: dict | None, params: dict) -> dict | None:
    """A native response (normalized) in the shape the Scale task type returns."""
    if response is None:
        return None
    if scale_type == "segmentannotation":
        return _segment(response)
    if scale_type in IMAGE_TYPES:
        return _image(response)
    if scale_type in VIDEO_TYPES:
        return _video(response)
    if scale_type == "categorization":
        return _categorization(response, params)
    if scale_type == "namedentityrecognition":
        return _spans(response)
    if scale_type in FIELD_TYPES:
        return _fields(response, params)
    if scale_type == "documenttranscription":
        return _document(response)
    if scale_type == "textcollection":
        return _text_collection(response)
    return _llm(response)


# --- Scale -> native (prelabels from `hypothesis`) ---------------------------------------


def _native_geometry(ann: dict) -> dict[str, Any]:
    kind = ann.get("type")
    if kind is None:
        kind = "box" if "left" in ann else "polygon" if "vertices" in ann else "point"
    out: dict[str, Any] = {"type": kind}
    if kind == "box":
        out.update(x=ann.get("left"), y=ann.get("top"), width=ann.get("width"))
        out["height"] = ann.get("height")
    elif kind in ("polygon", "line"):
        out["vertices"] = [{"x": v.get("x"), "y": v.get("y")} for v in ann.get("vertices", [])]
    elif kind == "point":
        out.update(x=ann.get("x"), y=ann.get("y"))
    elif kind == "ellipse":
        out.update(cx=ann.get("x"), cy=ann.get("y"), rx=ann.get("rx"), ry=ann.get("ry"))
        out["rotation"] = math.degrees(ann.get("rotation") or 0)
    elif kind == "cuboid":
        out.update(front=ann.get("front"), back=ann.get("back"))
    else:
        out.update({k: v for k, v in ann.items() if k not in ("uuid", "label", "attributes")})
    return out


def _native_image_annotation(ann: Any) -> Any:
    if not isinstance(ann, dict):
        return ann  # let the native validation name the problem
    out = _native_geometry(ann)
    if ann.get("uuid") is not None:
        out["id"] = str(ann["uuid"])
    if ann.get("label") is not None:
        out["label"] = ann["label"]
    if ann.get("attributes"):
        out["attributes"] = ann["attributes"]
    return out


def from_scale_response(scale_type: str, hypothesis: Any) -> Any:
    """Scale-shaped prelabels as a native response; unknown shapes pass through unchanged."""
    if not isinstance(hypothesis, dict):
        return hypothesis
    if scale_type in IMAGE_TYPES:
        annotations = hypothesis.get("annotations", [])
        if not isinstance(annotations, list):
            return hypothesis
        out: dict[str, Any] = {"annotations": [_native_image_annotation(a) for a in annotations]}
        if hypothesis.get("global_attributes"):
            out["global_attributes"] = hypothesis["global_attributes"]
        return out
    if scale_type == "categorization":
        chosen: Any = hypothesis.get("category")
        taxonomies = hypothesis.get("taxonomies")
        if isinstance(taxonomies, dict) and taxonomies:
            chosen = next(iter(taxonomies.values()))
        if chosen is None:
            return hypothesis
        names = chosen if isinstance(chosen, list) else [chosen]
        return {"annotations": [{"type": "category", "label": name} for name in names]}
    if scale_type == "namedentityrecognition":
        return {
            "annotations": [
                {"type": "span", **{k: v for k, v in a.items() if k != "uuid"}}
                for a in hypothesis.get("annotations", [])
                if isinstance(a, dict)
            ]
        }
    if scale_type in FIELD_TYPES and isinstance(hypothesis.get("fields"), dict):
        return {
            "annotations": [
                {"type": "text", "field": key, "text": value}
                for key, value in hypothesis["fields"].items()
            ]
        }
    return hypothesis
