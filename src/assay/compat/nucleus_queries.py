"""Nucleus queries (docs/nucleus-wire.md §1 pagination, §3.2, §3.5, §3.6): `query_items`,
`query_objects` (ground truth or a model's predictions), `query_scenes`, and the export page
narrowed by a query.

The Nucleus query string goes through the query bar's engine (`curation/query`, the grammar of
Nucleus's query bar) on the dataset's snapshot, once per page; a page token is the last row
position the previous page returned, as the explorer's cursors are. A query that does not
parse is a 400 naming the token and its column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import MediaUrls, load_dataset
from assay.compat.nucleus_items import MAX_PAGE, _page_args, _secret, export_rows
from assay.compat.nucleus_models import load_model, load_run
from assay.compat.nucleus_scenes import scene_json
from assay.compat.scale_common import OptionalJsonObject
from assay.core.errors import Invalid, NotFound
from assay.curation import evaluation_matches, items, models, slice_objects
from assay.curation.explore import OBJECT_COLUMNS, object_rows
from assay.curation.query import QueryResult, run_query
from assay.curation.query.frames import GT
from assay.curation.snapshots import SNAPSHOTS

router = APIRouter(route_class=ScaleRoute)
# Nucleus's object query types (the client's ObjectQueryType); the matching ones list the
# outcomes of the run's model's latest evaluation (`curation/evaluation_matches.py`).
GROUND_TRUTH_ONLY, PREDICTIONS_ONLY = "ground_truth_only", "predictions_only"
MATCHING = {"iou": "all", "false_positive": "fp", "false_negative": "fn"}


def _query(body: dict[str, Any]) -> str | None:
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise Invalid("query must be a string", field="query")
    return query


def _page(positions: np.ndarray, body: dict[str, Any]) -> tuple[np.ndarray, str | None]:
    """The positions of one page after the token, and the next page's token."""
    token = body.get("pageToken") or None
    size = body.get("pageSize") or MAX_PAGE
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise Invalid("pageSize must be a positive integer", field="pageSize")
    after = -1
    if token is not None:
        if not isinstance(token, str) or not token.isdigit():
            raise Invalid(f"invalid pageToken {token!r}", field="pageToken")
        after = int(token)
    start = int(np.searchsorted(positions, after, side="right"))
    chosen = positions[start : start + min(size, MAX_PAGE)]
    more = start + len(chosen) < len(positions)
    return chosen, (str(int(chosen[-1])) if more and len(chosen) else None)


def items_in_order(session: Session, item_ids: list[str]) -> list[models.Item]:
    """The items by id, in the given order (ids deleted since the snapshot are left out)."""
    found: dict[str, models.Item] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        found.update(
            (item.id, item)
            for item in session.scalars(select(models.Item).where(models.Item.id.in_(chunk)))
        )
    return [found[i] for i in item_ids if i in found]


def _matched_items(
    session: Session, dataset: models.Dataset, body: dict[str, Any]
) -> tuple[list[models.Item], str | None]:
    snapshot = SNAPSHOTS.get(session, dataset)
    result = run_query(snapshot.frames, _query(body), "items")
    chosen, token = _page(result.positions, body)
    ids = snapshot.items["item_id"].to_numpy()[chosen].tolist() if len(chosen) else []
    return items_in_order(session, [str(i) for i in ids]), token


@router.post("/dataset/{dataset_id}/queryItemsPage")
def query_items_page(
    dataset_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        found, token = _matched_items(session, dataset, body or {})
        return {"items": [fmt.item_out(i, urls(i)) for i in found], "nextPageToken": token}


@router.post("/dataset/{dataset_id}/exportForTrainingPage")
def export_for_training_page(
    dataset_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    """Export rows of the items a query matches, or of every item (in the dataset's order,
    without the snapshot) when there is no query."""
    body = body or {}
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        if _query(body):
            found, token = _matched_items(session, dataset, body)
        else:
            token, size = _page_args(body)
            page = items.list_items(session=session, dataset=dataset, cursor=token, limit=size)
            found, token = page.items, page.next_cursor
        return {"data": export_rows(session, found, urls), "nextPageToken": token}


def _object_mask(
    session: Session, actor: Any, dataset: models.Dataset, result: QueryResult, body: dict
) -> np.ndarray:
    """The matched objects of the patch mode's kind."""
    mode = body.get("patch_mode") or GROUND_TRUTH_ONLY
    if mode not in (GROUND_TRUTH_ONLY, PREDICTIONS_ONLY):
        raise Invalid(f"unknown patch_mode {mode!r}", field="patch_mode")
    frames = result.frames
    if mode == GROUND_TRUTH_ONLY:
        return result.mask & frames.object_mask_of(GT)
    run_id = body.get("model_run_id")
    if not run_id:
        return result.mask & frames.object_mask_of(None)
    model, run_dataset = load_run(session, str(run_id), actor)
    if run_dataset.id != dataset.id:
        raise Invalid(f"model run {run_id} is on another dataset", field="model_run_id")
    return result.mask & frames.object_mask_of(model.name)


@router.post("/dataset/{dataset_id}/queryObjectsPage")
def query_objects_page(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    body = body or {}
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        snapshot = SNAPSHOTS.get(session, dataset)
        result = run_query(snapshot.frames, _query(body), "objects")
        if body.get("patch_mode") in MATCHING:
            return _evaluation_matches(session, actor, dataset, snapshot, result, body)
        mask = _object_mask(session, actor, dataset, result, body)
        chosen, token = _page(np.flatnonzero(mask), body)
        page = snapshot.objects.select(
            pl.col(OBJECT_COLUMNS).gather(pl.Series(chosen, dtype=pl.Int64))
        )
        out = []
        for row in object_rows(session, snapshot.items, page):
            if row["shape"] is None:
                continue
            shape = fmt.shape_out(
                row["shape"],
                reference_id=row["reference_id"],
                item_id=row["item_id"],
                source_id=row["object_id"].split(":")[1],
            )
            if shape is not None:  # shapes without a Nucleus type (native only) stay out
                out.append(shape)
        return {"items": out, "nextPageToken": token}


def _evaluated_model(session: Session, actor: Any, dataset: models.Dataset, run_id: Any):
    """The model of the run the matching modes name (a run on this dataset, or a
    dataset-less run of the model) and its latest finished detection evaluation here."""
    if not isinstance(run_id, str) or not run_id:
        raise Invalid("the matching patch modes need a model_run_id", field="model_run_id")
    parts = fmt.parse_run_id(run_id)
    if parts is not None:
        model, run_dataset = load_run(session, run_id, actor)
        if run_dataset.id != dataset.id:
            raise Invalid(f"model run {run_id} is on another dataset", field="model_run_id")
    else:
        try:
            model = load_model(session, fmt.model_of_run(run_id) or run_id, actor)
        except NotFound:
            raise NotFound(f"no model run with id {run_id}", field="model_run_id") from None
    found = evaluation_matches.latest_evaluation(
        session=session, dataset=dataset, model_id=model.id
    )
    if found is None:
        raise Invalid(
            f"model run {run_id} has no finished evaluation on this dataset: evaluate it first "
            "(Dataset.calculate_evaluation_metrics(model), or POST /api/v1/datasets/{id}/"
            "evaluations) and wait for its job",
            field="model_run_id",
        )
    return found


def _evaluation_matches(
    session: Session, actor: Any, dataset: models.Dataset, snapshot: Any, result: Any, body: dict
) -> dict[str, Any]:
    """Nucleus's `EvaluationMatch` rows of the objects the query matched: a true positive
    once (keyed by its prediction), false positives, misses; `iou` lists all three."""
    run_id = body.get("model_run_id")
    evaluation = _evaluated_model(session, actor, dataset, run_id)
    found = evaluation_matches.model_matches(
        session=session,
        evaluation=evaluation,
        objects=snapshot.objects,
        mask=result.mask,
        outcome=MATCHING[body["patch_mode"]],
    )
    chosen, token = _page(np.arange(found.height), body)
    page = found[chosen.tolist()].to_dicts() if len(chosen) else []
    own = [o for row in page for o in (row["object_id"], row["matched_id"]) if o]
    ids = {
        place: fmt.object_id(*found)
        for place, found in slice_objects.refs_of_places(
            session=session, dataset=dataset, object_ids=own
        ).items()
    }
    out = []
    for row in page:
        prediction, ground_truth = (
            (row["object_id"], row["matched_id"])
            if row["prediction"]
            else (row["matched_id"], row["object_id"])
        )
        labels = (row["label"], row["matched_label"])
        out.append(
            {
                "model_run_id": run_id,
                "dataset_item_id": fmt.nucleus_id(fmt.ITEM, row["item_id"]),
                "model_prediction_id": ids.get(prediction) if prediction else None,
                "ground_truth_annotation_id": ids.get(ground_truth) if ground_truth else None,
                "model_prediction_label": labels[0] if row["prediction"] else labels[1],
                "ground_truth_annotation_label": labels[1] if row["prediction"] else labels[0],
                # Unmatched objects have no IoU; the client needs a number.
                "iou": row["iou"] if row["iou"] is not None else 0.0,
                "true_positive": row["match"] == "tp",
            }
        )
    return {"items": out, "nextPageToken": token}


@router.post("/dataset/{dataset_id}/queryScenesPage")
def query_scenes_page(
    dataset_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    """Scenes with at least one matched item (their frames, metadata), in scene order."""
    body = body or {}
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        snapshot = SNAPSHOTS.get(session, dataset)
        result = run_query(snapshot.frames, _query(body), "items")
        ids = snapshot.items["item_id"].to_numpy()[result.positions].tolist()
        scene_ids: set[str] = set()
        for start in range(0, len(ids), 500):
            scene_ids.update(
                s
                for s in session.scalars(
                    select(models.Item.scene_id).where(
                        models.Item.id.in_(ids[start : start + 500]),
                        models.Item.scene_id.is_not(None),
                    )
                )
                if s
            )
        ordered = np.arange(len(scene_ids))
        chosen, token = _page(ordered, body)
        scene_list = sorted(scene_ids)
        wanted = [scene_list[i] for i in chosen.tolist()]
        found = session.scalars(
            select(models.Scene).where(models.Scene.id.in_(wanted)).order_by(models.Scene.id)
        )
        return {
            "items": [_sensor_frames(scene_json(session, s, urls)) for s in found],
            "nextPageToken": token,
        }


def _sensor_frames(scene: dict[str, Any]) -> dict[str, Any]:
    """The client reads every queried scene as a LiDAR-style scene (frames of sensors): a
    video scene's frames become `{"video": item}`."""
    if "frame_rate" in scene:
        scene["frames"] = [{"video": item} for item in scene["frames"]]
    return scene
