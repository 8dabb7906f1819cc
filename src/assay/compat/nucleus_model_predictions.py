"""0.22's run-free model predictions (docs/nucleus-wire.md §3.4, "model v2"): predictions
tied to the model and each item, named by `item_id` (`di_…`) or by `dataset_id` +
`reference_id`, so one upload may reach items of several datasets; reads by item id,
reference id or index; the model's runs (one per dataset it predicted on)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

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
from assay.core.errors import Invalid, NotFound
from assay.curation import annotations, items, ml_models, models

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


@router.post("/model/{model_id}/predictions")
async def upload_model_predictions(
    model_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
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
                "model_id": fmt.nucleus_id(fmt.MODEL, model.id),
                "predictions_processed": processed,
                "predictions_ignored": ignored,
            }

    return await run_in_threadpool(work)


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
                data, reference_id=item.reference_id, item_id=item.id, prediction=True
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
