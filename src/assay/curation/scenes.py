"""Scenes of a scene dataset (`models.Scene`): LiDAR scenes (frames of sensors) and video
scenes (frames, or a video URL alone). Appending scenes appends their items
(`items.append_items`, all or nothing, one revision) and links them to their scene
(`scene_id`, `frame_index`); deleting a scene deletes its items (tombstones kept).

A scene may declare tracks with their metadata (`Scene.tracks`); shapes join a track by
naming it (their `track_reference_id` attribute). Two scenes may declare one track: its
metadata is the newest scene's, and an update reaches every scene declaring it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Invalid, NotFound
from assay.core.ids import new_ids
from assay.curation import items, models, wire
from assay.curation.items import ITEMS

SCENES = models.Scene.__table__
KINDS = ("lidar", "video")


@dataclass
class SceneIn:
    reference_id: str
    kind: str
    # lidar: [{sensor: item}] by frame; video: [[item]] (one item a frame).
    frames: list[dict[str, wire.ItemIn]]
    metadata: dict[str, Any] = field(default_factory=dict)
    frame_rate: float | None = None
    video_url: str | None = None
    # The tracks it declares: [{"reference_id", "metadata"}].
    tracks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SceneResult:
    new: int
    updated: int
    ignored: int


def append_scenes(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    scenes: Sequence[SceneIn],
    update_existing: bool,
    max_items: int,
) -> SceneResult:
    if not dataset.is_scene:
        raise Invalid("the dataset does not hold scenes (create it with is_scene)", field="scenes")
    seen: dict[str, int] = {}
    for i, scene in enumerate(scenes):
        if scene.kind not in KINDS:
            raise Invalid(f"a scene is one of {', '.join(KINDS)}", field=f"scenes[{i}].kind")
        if scene.reference_id in seen:
            raise Invalid(
                f"reference_id {scene.reference_id!r} is also scenes[{seen[scene.reference_id]}]",
                field=f"scenes[{i}].reference_id",
            )
        seen[scene.reference_id] = i
        if scene.kind == "video" and not scene.frames and not scene.video_url:
            raise Invalid("a video scene has frames or a video_url", field=f"scenes[{i}].frames")
        if scene.kind == "lidar" and not scene.frames:
            raise Invalid("a LiDAR scene has at least one frame", field=f"scenes[{i}].frames")
    known = dict(
        session.execute(
            select(SCENES.c.reference_id, SCENES.c.id).where(
                SCENES.c.dataset_id == dataset.id, SCENES.c.reference_id.in_(list(seen))
            )
        ).all()
    )
    wanted = [s for s in scenes if update_existing or s.reference_id not in known]
    ignored = len(scenes) - len(wanted)
    if not wanted:
        return SceneResult(0, 0, ignored)
    flat = [item for scene in wanted for frame in scene.frames for item in frame.values()]
    items.append_items(
        session=session,
        dataset=dataset,
        actor=actor,
        append=wire.AppendIn(items=flat, update=True),
        max_items=max_items,
    )
    item_ids = items.existing_items(session, dataset.id, [item.reference_id for item in flat])
    fresh = iter(new_ids(sum(1 for s in wanted if s.reference_id not in known)))
    now = utcnow()
    links: list[dict[str, Any]] = []
    inserts, updates = [], []
    for scene in wanted:
        scene_id = known.get(scene.reference_id) or next(fresh)
        layout: list[Any] = []
        for index, frame in enumerate(scene.frames):
            ids = {sensor: item_ids[item.reference_id] for sensor, item in frame.items()}
            layout.append(ids if scene.kind == "lidar" else next(iter(ids.values())))
            links.extend(
                {"key": i, "scene_id": scene_id, "frame_index": index} for i in ids.values()
            )
        row = {
            "kind": scene.kind,
            "metadata": scene.metadata,
            "frames": layout,
            "frame_rate": scene.frame_rate,
            "video_url": scene.video_url,
            "tracks": scene.tracks,
            "updated_at": now,
        }
        if scene.reference_id in known:
            updates.append(row | {"key": scene_id})
        else:
            inserts.append(
                row
                | {
                    "id": scene_id,
                    "dataset_id": dataset.id,
                    "reference_id": scene.reference_id,
                    "created_at": now,
                }
            )
    if inserts:
        session.execute(SCENES.insert(), inserts)
    if updates:
        session.execute(
            update(SCENES)
            .where(SCENES.c.id == bindparam("key"))
            .values({k: bindparam(k) for k in updates[0] if k != "key"}),
            updates,
        )
    if links:
        session.execute(
            update(ITEMS)
            .where(ITEMS.c.id == bindparam("key"))
            .values(scene_id=bindparam("scene_id"), frame_index=bindparam("frame_index")),
            links,
        )
    return SceneResult(len(inserts), len(updates), ignored)


def list_scenes(*, session: Session, dataset: models.Dataset) -> list[models.Scene]:
    return list(
        session.scalars(
            select(models.Scene)
            .where(models.Scene.dataset_id == dataset.id)
            .order_by(models.Scene.id)
        )
    )


def get_scene(*, session: Session, dataset: models.Dataset, reference_id: str) -> models.Scene:
    scene = session.scalar(
        select(models.Scene).where(
            models.Scene.dataset_id == dataset.id, models.Scene.reference_id == reference_id
        )
    )
    if scene is None:
        raise NotFound(f"no scene with reference_id {reference_id!r}", field="reference_id")
    return scene


def scene_of_item(
    *, session: Session, dataset: models.Dataset, item_reference_id: str
) -> models.Scene:
    item = items.get_item_by_reference(
        session=session, dataset=dataset, reference_id=item_reference_id
    )
    scene = session.get(models.Scene, item.scene_id) if item.scene_id else None
    if scene is None:
        raise NotFound(f"item {item_reference_id!r} is in no scene", field="reference_id")
    return scene


def scene_items(*, session: Session, scene: models.Scene) -> dict[str, models.Item]:
    """item id → item, for the scene's frames."""
    found = session.scalars(select(models.Item).where(models.Item.scene_id == scene.id))
    return {item.id: item for item in found}


def delete_scene(*, session: Session, dataset: models.Dataset, scene: models.Scene) -> int:
    """Delete the scene and its items; returns how many items went."""
    references = list(
        session.scalars(select(ITEMS.c.reference_id).where(ITEMS.c.scene_id == scene.id))
    )
    deleted = items.delete_items(session=session, dataset=dataset, reference_ids=references)
    session.delete(scene)
    session.flush()
    return deleted


def merge_metadata(
    *, session: Session, dataset: models.Dataset, updates: dict[str, dict[str, Any]]
) -> int:
    """Merge each mapping into the metadata of the scene with that reference id."""
    found = {
        scene.reference_id: scene
        for scene in session.scalars(
            select(models.Scene).where(
                models.Scene.dataset_id == dataset.id,
                models.Scene.reference_id.in_(list(updates)),
            )
        )
    }
    for reference_id in updates:
        if reference_id not in found:
            raise Invalid(
                f"no scene with reference_id {reference_id!r} in this dataset",
                field=f"metadata[{reference_id}]",
            )
    for reference_id, metadata in updates.items():
        scene = found[reference_id]
        scene.metadata_ = {**scene.metadata_, **metadata}
    session.flush()
    return len(found)


def _declaring(session: Session, dataset: models.Dataset) -> list[models.Scene]:
    """The dataset's scenes declaring a track, oldest first."""
    scenes = session.scalars(
        select(models.Scene).where(models.Scene.dataset_id == dataset.id).order_by(models.Scene.id)
    )
    return [scene for scene in scenes if scene.tracks]


def declared_tracks(*, session: Session, dataset: models.Dataset) -> dict[str, dict[str, Any]]:
    """reference id → metadata of every track the dataset's scenes declare (the latest
    declaration's, should two differ)."""
    found: dict[str, dict[str, Any]] = {}
    for scene in _declaring(session, dataset):
        for track in scene.tracks:
            found[track["reference_id"]] = track.get("metadata") or {}
    return found


def update_track(
    *,
    session: Session,
    dataset: models.Dataset,
    reference_id: str,
    metadata: dict[str, Any],
    overwrite: bool,
) -> dict[str, Any]:
    """Merge `metadata` into a declared track's (or replace it); returns the new metadata."""
    declaring = [
        s
        for s in _declaring(session, dataset)
        if any(t["reference_id"] == reference_id for t in s.tracks)
    ]
    if not declaring:
        raise NotFound(
            f"no scene of this dataset declares a track {reference_id!r}", field="reference_id"
        )
    current = declared_tracks(session=session, dataset=dataset)[reference_id]
    new = dict(metadata) if overwrite else {**current, **metadata}
    for scene in declaring:
        scene.tracks = [
            {**t, "metadata": new} if t["reference_id"] == reference_id else t for t in scene.tracks
        ]
    session.flush()
    return new


def forget_tracks(
    *, session: Session, dataset: models.Dataset, reference_ids: Sequence[str]
) -> int:
    """The tracks are no longer declared by any scene; returns how many scenes changed."""
    gone, changed = set(reference_ids), 0
    for scene in _declaring(session, dataset):
        kept = [t for t in scene.tracks if t["reference_id"] not in gone]
        if len(kept) != len(scene.tracks):
            scene.tracks, changed = kept, changed + 1
    session.flush()
    return changed
