"""Nucleus's wire shapes ↔ Assay's curation shapes. Pure: no database, no requests.

docs/nucleus-wire.md (§2) is the catalogue this follows. In:

- a Nucleus item (`reference_id`, `image_url` | `pointcloud_url`, `metadata`, `width`,
  `height`) becomes a `wire.ItemIn` (kind image or pointcloud, the URL as its media);
- a Nucleus annotation or prediction (`type`, `label`, `geometry`, `annotation_id`,
  `metadata`, `confidence`, `class_pdf`) becomes one of the annotation model's shapes
  (`curation/wire.py`), the annotation id as the shape's id and the metadata as its
  attributes. Boxes are x, y, width, height; polygons and lines `vertices`; keypoints
  `keypoints` + `names` (+ `skeleton`); cuboids position, dimensions, yaw (3D); categories
  `label` + `taxonomy_name`; multicategories a category whose label is the first of its
  `labels`, all of them kept in the attribute `labels` (the one attribute the way back reads).

Out, the stored shapes are drawn again as Nucleus JSON. Problems are `Invalid` naming the
field by the Nucleus path the client sent (`annotations[3].geometry.width`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from assay.core.errors import Invalid
from assay.curation import models, wire
from assay.curation.annotations import Placed
from assay.curation.slice_objects import ObjectRef, shape_key

# Nucleus-facing ids carry Nucleus's prefixes (the client reads some of them); Assay's own
# ids are added to / stripped of them at this edge.
DATASET, ITEM, MODEL, RUN, JOB, SCENE = "ds_", "di_", "prj_", "run_", "job_", "scn_"
ANNOTATION, PREDICTION = "ann_", "pred_"
TYPES = ("box", "line", "polygon", "keypoints", "cuboid", "category", "multicategory")
MULTI_LABELS = "labels"
# An annotation's track (a video or LiDAR object followed across frames) rides in this
# attribute; the way back lifts it out of the metadata again.
TRACK = "track_reference_id"


def nucleus_id(prefix: str, assay_id: str) -> str:
    return prefix + assay_id


def assay_id(prefix: str, value: str) -> str:
    """Assay's id from a Nucleus id (the bare id is accepted too)."""
    return value[len(prefix) :] if value.startswith(prefix) else value


def run_id(model_id: str, dataset_id: str) -> str:
    """A model run is a model's predictions on one dataset: its id names both."""
    return f"{RUN}{model_id}_{dataset_id}"


def parse_run_id(value: str) -> tuple[str, str] | None:
    """(model id, dataset id) of a run id, or None when it is not one."""
    if not value.startswith(RUN):
        return None
    model_id, _, dataset_id = value[len(RUN) :].partition("_")
    return (model_id, dataset_id) if model_id and dataset_id else None


def model_run_id(model_id: str) -> str:
    """A run of 0.22's dataset-less kind: the model's predictions on any dataset."""
    return f"{RUN}{model_id}"


def model_of_run(value: str) -> str | None:
    """The model id of either kind of run id, or None when it is not one."""
    if not value.startswith(RUN):
        return None
    return value[len(RUN) :].partition("_")[0] or None


def object_id(item_id: str, source_id: str, key: str) -> str:
    """An annotation's or prediction's internal id (docs/nucleus-wire.md §1, "Object ids"):
    `ann_<item>_<key>` for ground truth, `pred_<item>_<model>_<key>` for a model's
    prediction; the key is the shape's annotation id, or `#` + a digest of a shape without
    one (`slice_objects.shape_key`). Assay's ids are hex, so the first `_`s split it."""
    if source_id == models.GROUND_TRUTH:
        return f"{ANNOTATION}{item_id}_{key}"
    return f"{PREDICTION}{item_id}_{source_id}_{key}"


def parse_object_id(value: Any) -> ObjectRef | None:
    """The object an internal annotation or prediction id names, or None when it is none."""
    if not isinstance(value, str):
        return None
    if value.startswith(ANNOTATION):
        item_id, _, key = value[len(ANNOTATION) :].partition("_")
        source_id = models.GROUND_TRUTH
    elif value.startswith(PREDICTION):
        item_id, _, rest = value[len(PREDICTION) :].partition("_")
        source_id, _, key = rest.partition("_")
        if not source_id:
            return None
    else:
        return None
    return ObjectRef(item_id, source_id, key) if item_id and key else None


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- items ------------------------------------------------------------------------------


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{path} must be a JSON object", field=path)
    return value


def item_in(payload: Any, path: str, media: str | None = None) -> wire.ItemIn:
    """A Nucleus item payload as an append's item; `media` replaces its URL (a local file
    uploaded with the request is `blob:<sha256>`)."""
    payload = _object(payload, path)
    reference_id = payload.get("reference_id")
    if not isinstance(reference_id, str) or not reference_id:
        raise Invalid("every item needs a reference_id", field=f"{path}.reference_id")
    kind = "image"
    url = payload.get("image_url") or payload.get("url")
    if payload.get("pointcloud_url") or payload.get("type") == "pointcloud":
        kind, url = "pointcloud", payload.get("pointcloud_url") or url
    if media is None:
        if not isinstance(url, str) or not url:
            raise Invalid(
                "an item needs an image_url or a pointcloud_url", field=f"{path}.image_url"
            )
        media = url
    body = {
        "reference_id": reference_id,
        "kind": kind,
        "media": media,
        "metadata": payload.get("metadata") or {},
    }
    if payload.get("camera_params") is not None:
        # A scene's camera image: Nucleus reads the parameters back inside the metadata.
        body["metadata"] = {**body["metadata"], "camera_params": payload["camera_params"]}
    for key in ("width", "height"):
        if payload.get(key) is not None:
            body[key] = payload[key]
    return _convert(body, wire.ItemIn, path, {"media": "image_url"})


def _convert(body: dict[str, Any], kind: type, path: str, renames: dict[str, str]) -> Any:
    try:
        return msgspec.convert(body, type=kind)
    except msgspec.ValidationError as error:
        message = str(error)
        at = ""
        if " - at `$" in message:
            message, _, at = message.partition(" - at `$")
            at = at.rstrip("`").lstrip(".")
        head = at.split(".")[0].split("[")[0]
        field = f"{path}.{renames.get(head, head)}{at[len(head) :]}" if at else path
        raise Invalid(f"{message} at {field}", field=field) from None


def item_out(
    item: Any, media_url: str | None, *, with_id: bool = True, dataset_id: str | None = None
) -> dict[str, Any]:
    """A stored item as Nucleus item JSON; `media_url` is what its media is shown at."""
    url_key = "pointcloud_url" if item.kind == "pointcloud" else "image_url"
    out: dict[str, Any] = {
        "reference_id": item.reference_id,
        url_key: media_url,
        "metadata": item.metadata_ or {},
    }
    if with_id:
        out["id"] = nucleus_id(ITEM, item.id)
        out["dataset_item_id"] = nucleus_id(ITEM, item.id)
    if dataset_id is not None:
        out["dataset_id"] = nucleus_id(DATASET, dataset_id)
    if item.width is not None:
        out["width"] = item.width
    if item.height is not None:
        out["height"] = item.height
    return out


# --- annotations and predictions --------------------------------------------------------


def _geometry(payload: dict[str, Any], path: str) -> dict[str, Any]:
    geometry = payload.get("geometry", {})
    return _object(geometry if geometry is not None else {}, f"{path}.geometry")


def _vertices(geometry: dict[str, Any], path: str) -> list[Any]:
    vertices = geometry.get("vertices")
    if not isinstance(vertices, list):
        raise Invalid(
            "geometry.vertices must be a list of {x, y}", field=f"{path}.geometry.vertices"
        )
    return vertices


def shape_in(payload: Any, path: str, *, prediction: bool = False) -> Placed:
    """A Nucleus annotation (or prediction) payload as a shape of the annotation model."""
    payload = _object(payload, path)
    kind = payload.get("type")
    common: dict[str, Any] = {}
    annotation_id = payload.get("annotation_id")
    if annotation_id is not None:
        common["id"] = annotation_id
    metadata = payload.get("metadata")
    if metadata:
        common["attributes"] = metadata
    track = payload.get(TRACK)
    if track:
        if not isinstance(track, str):
            raise Invalid("track_reference_id must be a string", field=f"{path}.{TRACK}")
        common["attributes"] = {**(metadata or {}), TRACK: track}
    if prediction:
        for key in ("confidence", "class_pdf"):
            if payload.get(key) is not None:
                common[key] = payload[key]
    if annotation_id is None and kind in ("category", "multicategory"):
        # Nucleus categories carry no id: an item has one per taxonomy, re-uploads replace it.
        common["id"] = f"{kind}:{payload.get('taxonomy_name') or ''}"
    label = payload.get("label")
    if label is not None:
        common["label"] = label
    geometry_path = f"{path}.geometry"
    renames: dict[str, str] = {"id": "annotation_id", "attributes": "metadata"}
    if kind == "box":
        geometry = _geometry(payload, path)
        body = {
            "type": "box",
            **common,
            **{k: geometry.get(k) for k in ("x", "y", "width", "height")},
        }
        renames.update({k: f"geometry.{k}" for k in ("x", "y", "width", "height")})
        target: type = wire.Box
    elif kind in ("polygon", "line"):
        geometry = _geometry(payload, path)
        body = {"type": kind, **common, "vertices": _vertices(geometry, path)}
        renames["vertices"] = "geometry.vertices"
        target = wire.Polygon if kind == "polygon" else wire.Line
    elif kind == "keypoints":
        geometry = _geometry(payload, path)
        points = geometry.get("keypoints")
        names = geometry.get("names")
        if not isinstance(points, list) or not isinstance(names, list) or len(points) != len(names):
            raise Invalid(
                "geometry.keypoints and geometry.names must be lists of one length",
                field=f"{geometry_path}.names",
            )
        body = {
            "type": "keypoints",
            **common,
            "points": [
                {
                    "name": name,
                    "x": (point or {}).get("x") if (point or {}).get("x") is not None else 0.0,
                    "y": (point or {}).get("y") if (point or {}).get("y") is not None else 0.0,
                    "visible": bool((point or {}).get("visible", True)),
                }
                for point, name in zip(points, names, strict=True)
            ],
        }
        if geometry.get("skeleton"):
            body["skeleton"] = geometry["skeleton"]
        renames.update({"points": "geometry.keypoints", "skeleton": "geometry.skeleton"})
        target = wire.Keypoints
    elif kind == "cuboid":
        geometry = _geometry(payload, path)
        body = {
            "type": "cuboid",
            **common,
            "position": geometry.get("position"),
            "dimensions": geometry.get("dimensions"),
            "yaw": geometry.get("yaw") or 0.0,
        }
        renames.update({k: f"geometry.{k}" for k in ("position", "dimensions", "yaw")})
        target = wire.Cuboid
    elif kind == "category":
        body = {"type": "category", **common}
        if payload.get("taxonomy_name"):
            body["taxonomy"] = payload["taxonomy_name"]
        renames["taxonomy"] = "taxonomy_name"
        target = wire.Category
    elif kind == "multicategory":
        labels = payload.get("labels")
        if (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(x, str) for x in labels)
        ):
            raise Invalid("labels must be a non-empty list of strings", field=f"{path}.labels")
        attributes = {**common.get("attributes", {}), MULTI_LABELS: labels}
        body = {"type": "category", **common, "label": labels[0], "attributes": attributes}
        if payload.get("taxonomy_name"):
            body["taxonomy"] = payload["taxonomy_name"]
        renames["taxonomy"] = "taxonomy_name"
        target = wire.Category
    else:
        raise Invalid(
            f"unknown annotation type {kind!r}; one of {', '.join(TYPES)} "
            "(segmentation masks are not served yet)",
            field=f"{path}.type",
        )
    shape = _convert(body, target, path, renames)
    reference_id = payload.get("reference_id")
    item_id = payload.get("item_id")
    if reference_id is not None and not isinstance(reference_id, str):
        raise Invalid("reference_id must be a string", field=f"{path}.reference_id")
    if item_id is not None and not isinstance(item_id, str):
        raise Invalid("item_id must be a string", field=f"{path}.item_id")
    if not reference_id and not item_id:
        raise Invalid(
            "every annotation needs the reference_id of its item", field=f"{path}.reference_id"
        )
    return Placed(
        reference_id or None,
        assay_id(ITEM, item_id) if item_id else None,
        shape,
        _embedding(payload.get("embedding_vector"), f"{path}.embedding_vector"),
    )


def _embedding(value: Any, path: str) -> list[float] | None:
    """An annotation's `embedding_vector`: None, or a non-empty list of numbers (its length
    and finiteness are checked against the object space when it is stored)."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    ):
        raise Invalid("embedding_vector must be a list of numbers", field=path)
    return [float(x) for x in value]


def nucleus_type(data: dict[str, Any]) -> str:
    kind = data.get("type", "")
    if kind == "category" and MULTI_LABELS in data.get("attributes", {}):
        return "multicategory"
    return kind


def shape_out(
    data: dict[str, Any], *, reference_id: str, item_id: str, source_id: str
) -> dict[str, Any] | None:
    """A stored shape of a source (ground truth "" or a model's id) as Nucleus annotation or
    prediction JSON with its internal `id` (`object_id`); None for shapes Nucleus has no
    type for (points, ellipses, spans, text, masks, 2D cuboids: written by the native API)."""
    prediction = source_id != models.GROUND_TRUTH
    kind = nucleus_type(data)
    attributes = dict(data.get("attributes", {}))
    track = attributes.pop(TRACK, None)
    out: dict[str, Any] = {
        "id": object_id(item_id, source_id, shape_key(data)),
        "type": kind,
        "label": data.get("label", ""),
        "annotation_id": data.get("id"),
        "reference_id": reference_id,
        "dataset_item_id": nucleus_id(ITEM, item_id),
        "metadata": attributes,
    }
    if kind == "box":
        out["geometry"] = {k: data[k] for k in ("x", "y", "width", "height")}
    elif kind in ("polygon", "line"):
        out["geometry"] = {"vertices": data["vertices"]}
    elif kind == "keypoints":
        out["geometry"] = {
            "keypoints": [
                {"x": p["x"], "y": p["y"], "visible": p.get("visible", True)}
                for p in data["points"]
            ],
            "names": [p["name"] for p in data["points"]],
            "skeleton": [list(edge) for edge in data.get("skeleton", [])],
        }
    elif kind == "cuboid":
        if "position" not in data:
            return None
        out["geometry"] = {
            "position": data["position"],
            "dimensions": data["dimensions"],
            "yaw": data.get("yaw", 0.0),
        }
    elif kind == "category":
        out["geometry"] = {}
        out["taxonomy_name"] = data.get("taxonomy")
    elif kind == "multicategory":
        out["labels"] = attributes.pop(MULTI_LABELS)
        out["geometry"] = {}
        out["taxonomy_name"] = data.get("taxonomy")
        del out["label"]
    else:
        return None
    if track is not None:
        out[TRACK] = track
    if prediction:
        if data.get("confidence") is not None:
            out["confidence"] = data["confidence"]
        if data.get("class_pdf") is not None:
            out["class_pdf"] = data["class_pdf"]
    return out


def by_type(annotations: list[dict[str, Any]], *, prediction: bool = False) -> dict[str, list]:
    """Nucleus's type-keyed grouping (`{"box": [...], "polygon": [...], ...}`)."""
    kinds = TYPES if not prediction else tuple(t for t in TYPES if t != "multicategory")
    grouped: dict[str, list] = {kind: [] for kind in kinds}
    for annotation in annotations:
        kind = annotation["type"]
        if prediction and kind == "multicategory":
            kind = "category"
        grouped.setdefault(kind, []).append(annotation)
    return grouped


# --- jobs -------------------------------------------------------------------------------

# Assay job status → Nucleus's. A queued job is "Running": the client stops waiting on
# anything else.
STATUS = {
    "queued": "Running",
    "running": "Running",
    "succeeded": "Completed",
    "cancelled": "Cancelled",
}
