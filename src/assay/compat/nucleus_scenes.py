"""Nucleus scenes (docs/nucleus-wire.md §3.6): LiDAR and video scenes appended through the
signed-URL upload (0.18's deprecated sync `append_scenes` too), listed, read by reference id
or by one of their items, deleted; scene metadata merges. Stored by `curation.scenes`."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query, Request

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import MediaUrls, body_list, flag, load_dataset, string_list
from assay.compat.nucleus_items import MAX_IMPORT_ITEMS, _kickoff, _secret
from assay.compat.nucleus_jobs import importer
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.errors import Invalid
from assay.curation import annotations, models, scenes, wire
from assay.curation.snapshots import SNAPSHOTS

router = APIRouter(route_class=ScaleRoute)


def scene_in(payload: Any, path: str, kind: str) -> scenes.SceneIn:
    if not isinstance(payload, dict):
        raise Invalid(f"{path} must be a JSON object", field=path)
    reference_id = payload.get("reference_id")
    if not isinstance(reference_id, str) or not reference_id:
        raise Invalid("every scene needs a reference_id", field=f"{path}.reference_id")
    frames = payload.get("frames") or []
    if not isinstance(frames, list):
        raise Invalid("frames must be a list", field=f"{path}.frames")
    layout: list[dict[str, wire.ItemIn]] = []
    for k, frame in enumerate(frames):
        at = f"{path}.frames[{k}]"
        if kind == "video":
            layout.append({"video": fmt.item_in(frame, at)})
            continue
        if not isinstance(frame, dict) or not frame:
            raise Invalid("a frame maps sensor names to items", field=at)
        layout.append(
            {sensor: fmt.item_in(item, f"{at}.{sensor}") for sensor, item in frame.items()}
        )
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid("metadata must be an object", field=f"{path}.metadata")
    frame_rate = payload.get("frame_rate")
    if frame_rate is not None and not isinstance(frame_rate, int | float):
        raise Invalid("frame_rate must be a number", field=f"{path}.frame_rate")
    return scenes.SceneIn(
        tracks=tracks_in(payload.get("tracks"), f"{path}.tracks"),
        reference_id=reference_id,
        kind=kind,
        frames=layout,
        metadata=metadata,
        frame_rate=frame_rate,
        video_url=payload.get("video_url"),
    )


def tracks_in(payload: Any, path: str) -> list[dict[str, Any]]:
    """A scene's `tracks`: [{reference_id, dataset_id (ignored), metadata?}]."""
    if payload is None:
        return []
    if not isinstance(payload, list):
        raise Invalid("tracks must be a list", field=path)
    found: dict[str, dict[str, Any]] = {}
    for k, track in enumerate(payload):
        at = f"{path}[{k}]"
        reference_id = track.get("reference_id") if isinstance(track, dict) else None
        if not isinstance(reference_id, str) or not reference_id:
            raise Invalid("every track needs a reference_id", field=f"{at}.reference_id")
        if reference_id in found:
            raise Invalid(f"track {reference_id!r} is listed twice", field=f"{at}.reference_id")
        metadata = track.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise Invalid("metadata must be an object", field=f"{at}.metadata")
        found[reference_id] = {"reference_id": reference_id, "metadata": metadata}
    return list(found.values())


def _append(
    session, dataset, actor, payloads: list[Any], kind: str, update: bool
) -> dict[str, Any]:
    found = [scene_in(p, f"scenes[{i}]", kind) for i, p in enumerate(payloads)]
    result = scenes.append_scenes(
        session=session,
        dataset=dataset,
        actor=actor,
        scenes=found,
        update_existing=update,
        max_items=MAX_IMPORT_ITEMS,
    )
    return {
        "new_scenes": result.new,
        "updated_scenes": result.updated,
        "ignored_scenes": result.ignored,
    }


@importer("lidar_scenes")
def import_lidar(session, dataset, actor, lines, payload) -> dict[str, Any]:
    return _append(session, dataset, actor, lines, "lidar", bool(payload.get("update")))


@importer("video_scenes")
def import_video(session, dataset, actor, lines, payload) -> dict[str, Any]:
    return _append(session, dataset, actor, lines, "video", bool(payload.get("update")))


AsyncFlag = Annotated[int, Query(alias="async")]


@router.post("/{dataset_id}/upload_scenes")
def upload_scenes(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx, async_: AsyncFlag = 0
):
    if "requestId" in body:
        return _kickoff(ctx, actor, dataset_id, body, "lidar_scenes")
    payloads = body_list(body, "scenes", required=True)
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        counts = _append(session, dataset, actor, payloads, "lidar", flag(body, "update"))
        return {"dataset_id": dataset_id, **counts}


@router.post("/{dataset_id}/upload_video_scenes")
def upload_video_scenes(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx, async_: AsyncFlag = 0
):
    if "requestId" not in body:
        raise Invalid(
            "video scenes are uploaded through a signed URL (requestId)", field="requestId"
        )
    return _kickoff(ctx, actor, dataset_id, body, "video_scenes")


def scene_json(session, scene: models.Scene, urls: MediaUrls) -> dict[str, Any]:
    by_id = scenes.scene_items(session=session, scene=scene)

    def item(item_id: str) -> dict[str, Any]:
        found = by_id[item_id]
        return fmt.item_out(found, urls(found))

    out: dict[str, Any] = {
        "id": fmt.nucleus_id(fmt.SCENE, scene.id),
        "reference_id": scene.reference_id,
        "metadata": scene.metadata_ or {},
        "tracks": [
            {
                "reference_id": t["reference_id"],
                "dataset_id": fmt.nucleus_id(fmt.DATASET, scene.dataset_id),
                "metadata": t.get("metadata") or {},
            }
            for t in scene.tracks or []
        ],
    }
    if scene.kind == "lidar":
        out["frames"] = [
            {sensor: item(i) for sensor, i in frame.items() if i in by_id} for frame in scene.frames
        ]
    else:
        out["frames"] = [item(i) for i in scene.frames if i in by_id]
        out["frame_rate"] = scene.frame_rate
        out["video_url"] = scene.video_url
    return out


@router.get("/dataset/{dataset_id}/scenes_list")
def scenes_list(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        return {
            "scenes": [
                {
                    "id": fmt.nucleus_id(fmt.SCENE, s.id),
                    "reference_id": s.reference_id,
                    "type": "LidarScene" if s.kind == "lidar" else "VideoScene",
                    "metadata": s.metadata_ or {},
                }
                for s in scenes.list_scenes(session=session, dataset=dataset)
            ]
        }


@router.get("/dataset/{dataset_id}/scene/{reference_id:path}")
def get_scene(
    dataset_id: str,
    reference_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    from_item: int = 0,
) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        if from_item:
            scene = scenes.scene_of_item(
                session=session, dataset=dataset, item_reference_id=reference_id
            )
        else:
            scene = scenes.get_scene(session=session, dataset=dataset, reference_id=reference_id)
        return scene_json(session, scene, MediaUrls(request, _secret(ctx)))


@router.delete("/dataset/{dataset_id}/scene/{reference_id:path}")
def delete_scene(
    dataset_id: str,
    reference_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        scene = scenes.get_scene(session=session, dataset=dataset, reference_id=reference_id)
        deleted = scenes.delete_scene(session=session, dataset=dataset, scene=scene)
        return {"reference_id": reference_id, "deleted_items": deleted}


TRACK_COLUMN = f"attributes.{fmt.TRACK}"


def _tracks(session, dataset: models.Dataset) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(objects with a track: item_row and track, the snapshot's items) of the dataset."""
    snapshot = SNAPSHOTS.get(session, dataset)
    objects = snapshot.objects
    if TRACK_COLUMN not in objects.columns:
        return pl.DataFrame(schema={"item_row": pl.UInt32, "track": pl.Utf8}), snapshot.items
    found = objects.select("item_row", pl.col(TRACK_COLUMN).cast(pl.Utf8).alias("track"))
    return found.filter(pl.col("track").is_not_null()), snapshot.items


@router.get("/dataset/{dataset_id}/tracks")
def tracks(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """The tracks the dataset's scenes declare (with their metadata) and its annotations and
    predictions name (`track_reference_id`)."""
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        found, _ = _tracks(session, dataset)
        declared = scenes.declared_tracks(session=session, dataset=dataset)
        named = set(found["track"].unique().to_list()) | set(declared)
        return {
            "tracks": [
                {"reference_id": t, "dataset_id": dataset_id, "metadata": declared.get(t, {})}
                for t in sorted(named)
            ]
        }


@router.post("/dataset/{dataset_id}/tracks")
def update_track(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """`Track.update`: a declared track's metadata merged (or replaced with `overwrite`)."""
    reference_id, metadata = body.get("reference_id"), body.get("metadata")
    if not isinstance(reference_id, str) or not reference_id:
        raise Invalid("reference_id names the track", field="reference_id")
    if metadata is not None and not isinstance(metadata, dict):
        raise Invalid("metadata must be an object", field="metadata")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        new = scenes.update_track(
            session=session,
            dataset=dataset,
            reference_id=reference_id,
            metadata=metadata or {},
            overwrite=flag(body, "overwrite"),
        )
        return {"reference_id": reference_id, "dataset_id": dataset_id, "metadata": new}


@router.delete("/dataset/{dataset_id}/tracks")
def delete_tracks(dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx):
    """The tracks go: their annotations and predictions stay, no longer on a track."""
    wanted = string_list(body, "track_reference_ids")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        found, items = _tracks(session, dataset)
        rows = found.filter(pl.col("track").is_in(wanted))["item_row"].unique().to_list()
        item_ids = items["item_id"].gather(rows).to_list() if rows else []
        changed = annotations.drop_attribute(
            session=session, dataset=dataset, item_ids=item_ids, key=fmt.TRACK, values=wanted
        )
        scenes.forget_tracks(session=session, dataset=dataset, reference_ids=wanted)
        return {"dataset_id": dataset_id, "deleted_tracks": wanted, "annotations_changed": changed}
