"""0.22's run-free model predictions (docs/nucleus-wire.md §3.4, "model v2"): predictions
tied to the model and each item, named by `item_id` (`di_…`) or by `dataset_id` +
`reference_id`, so one upload may reach items of several datasets; reads by item id,
reference id or index; the model's runs (one per dataset it predicted on); dataset-less runs
(`run_<model>`, the same predictions) and their uploads; a run's predictions copied to
another model."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_annotations import read_body, shapes_of, upload
from assay.compat.nucleus_common import MediaUrls, flag, load_dataset
from assay.compat.nucleus_items import _secret, segmentations
from assay.compat.nucleus_models import load_model
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.errors import Invalid, NotFound
from assay.curation import annotations, items, ml_models, models, point_labels, wire

router = APIRouter(route_class=ScaleRoute)
ITEMS = models.Item.__table__


def _datasets_of_items(session: Any, item_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        found.update(
            session.execute(
                select(ITEMS.c.id, ITEMS.c.dataset_id).where(ITEMS.c.id.in_(chunk))
            ).all()
        )
    return found


async def _upload_across_datasets(
    request: Request, ctx: Any, actor: Any, model_id: str, key: str
) -> dict[str, Any]:
    """Predictions of the model, each on the item named by `item_id` or by `dataset_id` +
    `reference_id`, grouped by dataset; all or nothing. `key` names the answer's id."""
    body, local = await read_body(request, ctx, actor)
    raw = body.get("annotations") or []
    if not isinstance(raw, list):
        raise Invalid("annotations must be a list", field="annotations")

    def work() -> dict[str, Any]:
        placed = shapes_of(body, "annotations", ctx.settings, prediction=True, local=local)
        with ctx.db.write() as session:
            model = load_model(session, model_id, actor)
            owners = _datasets_of_items(session, [p.item_id for p in placed if p.item_id])
            groups: dict[str, list[annotations.Placed]] = defaultdict(list)
            for i, one in enumerate(placed):
                dataset_id = None
                if one.reference_id:
                    payload = raw[i] if i < len(raw) and isinstance(raw[i], dict) else {}
                    dataset_id = payload.get("dataset_id")
                    if not dataset_id:
                        raise Invalid(
                            "a prediction named by reference_id needs its dataset_id",
                            field=f"annotations[{i}].dataset_id",
                        )
                    dataset_id = fmt.assay_id(fmt.DATASET, dataset_id)
                else:
                    dataset_id = owners.get(one.item_id or "")
                    if dataset_id is None:
                        raise Invalid(
                            f"no item with id {one.item_id!r}", field=f"annotations[{i}].item_id"
                        )
                groups[dataset_id].append(one)
            processed = ignored = 0
            for dataset_id, group in groups.items():
                dataset = load_dataset(session, dataset_id, actor, write=True)
                result = upload(session, dataset, model.id, group, flag(body, "update"))
                processed += result.processed
                ignored += result.ignored
            return {
                key: (
                    fmt.nucleus_id(fmt.MODEL, model.id)
                    if key == "model_id"
                    else fmt.model_run_id(model.id)
                ),
                "predictions_processed": processed,
                "predictions_ignored": ignored,
            }

    return await run_in_threadpool(work)


@router.post("/model/{model_id}/predictions")
async def upload_model_predictions(
    model_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    return await _upload_across_datasets(request, ctx, actor, model_id, "model_id")


@router.post("/model/{model_id}/modelRun/create")
def create_dataset_less_run(
    model_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """0.22's run without a dataset: the model's predictions on any dataset (Assay keeps no
    run object, so its name and metadata are not kept)."""
    with ctx.db.read() as session:
        model = load_model(session, model_id, actor)
        return {"model_run_id": fmt.model_run_id(model.id)}


@router.post("/modelRun/{run_id}/uploadPredictions")
async def upload_run_predictions_across_datasets(
    run_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """`ModelRun.add_predictions` on a dataset-less run (or any run of the model)."""
    model_id = fmt.model_of_run(run_id)
    if model_id is None:
        raise NotFound(f"no model run with id {run_id}", field="model_run_id")
    return await _upload_across_datasets(request, ctx, actor, model_id, "model_run_id")


@router.post("/model/{model_id}/predictions/copyFromRun")
def copy_predictions_from_run(
    model_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """The run's predictions (its model's, on its dataset) become this model's too: shapes
    and ids as they are; this model's predictions on the same items with the same ids are
    replaced."""
    run_id = body.get("model_run_id")
    parts = fmt.parse_run_id(run_id) if isinstance(run_id, str) else None
    if parts is None:
        raise Invalid(
            "model_run_id names a run on a dataset (run_<model>_<dataset>)", field="model_run_id"
        )
    with ctx.db.write() as session:
        model = load_model(session, model_id, actor)
        source = load_model(session, parts[0], actor)
        dataset = load_dataset(session, parts[1], actor, write=True)
        placed: list[annotations.Placed] = []
        cursor = None
        while True:
            page = items.list_items(session=session, dataset=dataset, cursor=cursor, limit=10_000)
            stored = items.annotations_of(
                session=session, item_ids=[i.id for i in page.items], source_id=source.id
            )
            placed.extend(
                annotations.Placed(None, item.id, msgspec.convert(data, type=wire.Shape))
                for item in page.items
                for data in stored[item.id]
            )
            cursor = page.next_cursor
            if cursor is None:
                break
        result = upload(session, dataset, model.id, placed, True)
        return {
            "model_id": fmt.nucleus_id(fmt.MODEL, model.id),
            "model_run_id": fmt.run_id(model.id, dataset.id),
            "predictions_copied": result.processed,
        }


def _flat(
    session: Any, model: models.Model, found: list[models.Item], urls: MediaUrls
) -> dict[str, Any]:
    """`{"predictions": [...]}`, each with its type (0.22 groups them)."""
    stored = items.annotations_of(
        session=session, item_ids=[i.id for i in found], source_id=model.id
    )
    out: list[dict[str, Any]] = []
    for item in found:
        for data in stored[item.id]:
            shape = fmt.shape_out(
                data, reference_id=item.reference_id, item_id=item.id, source_id=model.id
            )
            if shape is not None and shape["type"] != "multicategory":
                shape["dataset_id"] = fmt.nucleus_id(fmt.DATASET, item.dataset_id)
                out.append(shape)
        out.extend(segmentations(stored[item.id], item, urls))
    return {"predictions": out}


@router.get("/model/{model_id}/predictions/loc/{item_id}")
def model_predictions_loc(
    model_id: str, item_id: str, request: Request, actor: CurrentActor, ctx: Ctx
):
    with ctx.db.read() as session:
        model = load_model(session, model_id, actor)
        item = session.get(models.Item, fmt.assay_id(fmt.ITEM, item_id))
        if item is None:
            raise NotFound(f"no item with id {item_id}", field="item_id")
        load_dataset(session, item.dataset_id, actor)
        return _flat(session, model, [item], MediaUrls(request, _secret(ctx)))


@router.get("/model/{model_id}/predictions/refloc/{reference_id:path}")
def model_predictions_refloc(
    model_id: str, reference_id: str, request: Request, actor: CurrentActor, ctx: Ctx
):
    with ctx.db.read() as session:
        model = load_model(session, model_id, actor)
        found = ml_models.items_with_predictions(
            session=session, model=model, mode=actor.mode, reference_id=reference_id
        )
        return _flat(session, model, found, MediaUrls(request, _secret(ctx)))


@router.get("/model/{model_id}/predictions/iloc/{index}")
def model_predictions_iloc(
    model_id: str, index: int, request: Request, actor: CurrentActor, ctx: Ctx
):
    """The index runs over the items the model predicted on, oldest first."""
    with ctx.db.read() as session:
        model = load_model(session, model_id, actor)
        found = ml_models.items_with_predictions(session=session, model=model, mode=actor.mode)
        if not 0 <= index < len(found):
            raise NotFound(f"the model has predictions on {len(found)} items", field="index")
        return _flat(session, model, [found[index]], MediaUrls(request, _secret(ctx)))


@router.get("/model/{model_id}/modelRun")
def model_runs(model_id: str, actor: CurrentActor, ctx: Ctx) -> list[str]:
    with ctx.db.read() as session:
        model = load_model(session, model_id, actor)
        return [
            fmt.run_id(model.id, d) for d in ml_models.datasets_of(session=session, model=model)
        ]


@router.post(
    "/dataset/{dataset_id}/model/{model_id}/pointcloud/{reference_id:path}/uploadLSSPrediction"
)
def upload_lidar_semseg(
    dataset_id: str,
    model_id: str,
    reference_id: str,
    body: JsonObject,
    actor: CurrentActor,
    ctx: Ctx,
) -> dict[str, Any]:
    """A model's label per point of a point cloud (`curation/point_labels.py`): the labels
    file and the point cloud are fetched first, then stored in one short write."""
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        load_model(session, model_id, actor)
        cloud_url = point_labels.point_cloud_url(
            items.get_item_by_reference(session=session, dataset=dataset, reference_id=reference_id)
        )
    source = body.get("pointsSegmentationUrl")
    field = "pointsSegmentationUrl"
    labels = point_labels.parse_labels(
        point_labels.fetch_json(source, ctx.settings, field, "the labels file"), source, field
    )
    cloud = point_labels.fetch_json(
        cloud_url, ctx.settings, "pointcloud_location", "the point cloud"
    )
    points = point_labels.count_points(cloud, "pointcloud_location")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        model = load_model(session, model_id, actor)
        item = items.get_item_by_reference(
            session=session, dataset=dataset, reference_id=reference_id
        )
        masks = point_labels.upload_point_labels(
            session=session,
            dataset=dataset,
            model=model,
            item=item,
            labels=labels,
            points=points,
            field=f"{field}.point_objects",
        )
        return {
            "dataset_id": dataset_id,
            "model_id": fmt.nucleus_id(fmt.MODEL, model.id),
            "reference_id": reference_id,
            "points": points,
            "labels": sorted({m.label for m in masks}),
        }
