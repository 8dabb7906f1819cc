"""A Nucleus dataset's label vocabularies (docs/nucleus-wire.md §3.1): the ground truth's
class labels, of the dataset or of a slice's items (`export_class_labels`), and 0.22's
`evaluation_label_schema` (ground truth and prediction labels) — read from the snapshot's
objects, so they follow every upload and delete."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter

from assay.api.deps import Ctx, CurrentActor
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import load_dataset
from assay.compat.nucleus_slices import _load
from assay.compat.scale_common import OptionalJsonObject
from assay.curation import slices
from assay.curation.query.frames import GT, QueryFrames
from assay.curation.snapshots import SNAPSHOTS

router = APIRouter(route_class=ScaleRoute)


def _named(labels: Any) -> list[str]:
    return sorted(label for label in labels if label)


@router.get("/dataset/{dataset_id}/class_labels")
def dataset_class_labels(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        frames = SNAPSHOTS.get(session, dataset).frames
        return {"data": _named(frames.labels_of(GT))}


def _labels_of_items(frames: QueryFrames, positions: np.ndarray) -> list[str]:
    """Ground-truth labels of the objects of the items at these rows."""
    objects = frames.objects_of(positions)
    truth = objects[frames.object_mask_of(GT)[objects]]
    codes = np.unique(frames.labels.codes[truth])
    return _named(frames.labels.names[c] for c in codes if c >= 0)


@router.get("/slice/{slice_id}/class_labels")
def slice_class_labels(slice_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        snapshot = SNAPSHOTS.get(session, dataset)
        members = slices.slice_item_ids(session=session, dataset=dataset, found=found)
        positions = np.flatnonzero(snapshot.items["item_id"].is_in(members).to_numpy())
        return {"data": _labels_of_items(snapshot.frames, positions)}


@router.get("/dataset/{dataset_id}/labelSchema")
def label_schema(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        frames = SNAPSHOTS.get(session, dataset).frames
        return {
            "gt_labels": _named(frames.labels_of(GT)),
            "prediction_labels": _named(frames.labels_of(None)),
        }
