"""Nucleus's `Dataset.scene_and_annotation_generator(slice_id, page_size)` (docs/nucleus-wire.md
§3.1): a page of the dataset's scenes (≤ 30), each with its ground-truth boxes grouped into
tracks across its frames, the way Scale's API returns video task data.

A box's track is its `track_reference_id` (kept as an attribute, `nucleus_format.TRACK`), else
a `track_id` attribute, else its annotation id; a box with none of them cannot be placed on a
track and the page is refused naming its frame (Nucleus answers an error too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import load_dataset
from assay.compat.nucleus_slices import _load
from assay.compat.scale_common import OptionalJsonObject
from assay.core.errors import Invalid
from assay.curation import items, models, scenes, slices

router = APIRouter(route_class=ScaleRoute)
MAX_SCENES = 30


@router.post("/dataset/{dataset_id}/exportForTrainingByScene")
def export_by_scene(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    body = body or {}
    size = body.get("pageSize") or 10
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SCENES:
        raise Invalid(f"pageSize is from 1 to {MAX_SCENES} scenes", field="pageSize")
    token = body.get("pageToken") or ""
    if not isinstance(token, str):
        raise Invalid("pageToken must be a string", field="pageToken")
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        query = select(models.Scene).where(
            models.Scene.dataset_id == dataset.id, models.Scene.id > token
        )
        if body.get("sliceId"):
            found, in_slice = _load(session, str(body["sliceId"]), actor)
            if in_slice.id != dataset.id:
                raise Invalid("the slice is of another dataset", field="sliceId")
            chosen = slices.slice_item_ids(session=session, dataset=dataset, found=found)
            scene_ids = set()
            for start in range(0, len(chosen), 500):
                scene_ids.update(
                    session.scalars(
                        select(models.Item.scene_id).where(
                            models.Item.id.in_(chosen[start : start + 500]),
                            models.Item.scene_id.is_not(None),
                        )
                    )
                )
            query = query.where(models.Scene.id.in_(sorted(scene_ids)))
        page = list(session.scalars(query.order_by(models.Scene.id).limit(size + 1)))
        more = len(page) > size
        page = page[:size]
        data = [_scene_with_tracks(session, scene) for scene in page]
    return {"data": data, "nextPageToken": page[-1].id if more else None}


def _frame_ids(scene: models.Scene) -> list[str]:
    """The scene's item ids in frame order (a LiDAR frame's sensors in their order)."""
    if scene.kind == "lidar":
        return [item_id for frame in scene.frames for item_id in frame.values()]
    return list(scene.frames)


def _scene_with_tracks(session: Session, scene: models.Scene) -> dict[str, Any]:
    by_id = scenes.scene_items(session=session, scene=scene)
    frame_ids = [i for i in _frame_ids(scene) if i in by_id]
    truth = items.annotations_of(session=session, item_ids=frame_ids)
    tracks: dict[str, dict[str, Any]] = {}
    for item_id in frame_ids:
        item = by_id[item_id]
        for shape in truth.get(item_id, []):
            if shape.get("type") != "box":
                continue
            attributes = dict(shape.get("attributes") or {})
            track = attributes.pop(fmt.TRACK, None) or attributes.get("track_id") or shape.get("id")
            if not track:
                raise Invalid(
                    f"a box on frame {item.reference_id!r} of scene {scene.reference_id!r} has "
                    "no track_reference_id, track_id or annotation id to group it by",
                    field="annotations",
                )
            entry = tracks.setdefault(
                str(track), {"label": shape.get("label"), "name": str(track), "frames": []}
            )
            entry["frames"].append(
                {
                    "left": shape["x"],
                    "top": shape["y"],
                    "width": shape["width"],
                    "height": shape["height"],
                    "key": item.reference_id,
                    "dataset_item_id": fmt.nucleus_id(fmt.ITEM, item.id),
                    "metadata": attributes,
                }
            )
    return {
        "scene": {
            "id": fmt.nucleus_id(fmt.SCENE, scene.id),
            "reference_id": scene.reference_id,
            "metadata": scene.metadata_ or {},
            "type": scene.kind,
            "fileLocation": scene.video_url,
        },
        "annotations": tracks,
    }
