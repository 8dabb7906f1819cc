"""Nucleus models, model runs and predictions (docs/nucleus-wire.md §3.4, §3.5).

A model is `curation.models.Model` (`prj_` + its id). Assay has no separate run object: a
model run is the model's predictions on one dataset, and its id (`run_<model>_<dataset>`)
names both (`nucleus_format.run_id`). Predictions are stored through
`curation.annotations` with the model's id as their source, keeping the dataset's
`prediction_count`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat import nucleus_matching
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_annotations import (
    prepare_shapes,
    read_body,
    shapes_of,
    split_reference,
    upload,
)
from assay.compat.nucleus_common import MediaUrls, job_json, load_dataset, string_list
from assay.compat.nucleus_items import (
    _kickoff,
    _secret,
    item_at,
    item_by_nucleus_id,
    item_with_annotations,
    segmentations,
)
from assay.compat.nucleus_jobs import importer
from assay.compat.nucleus_slices import SLICE
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.models import Job
from assay.curation import (
    annotations,
    hosted_runs,
    items,
    ml_models,
    model_merges,
    models,
)
from assay.curation.policies import datasets as policy

router = APIRouter(route_class=ScaleRoute)


def model_json(model: models.Model) -> dict[str, Any]:
    return {
        "id": fmt.nucleus_id(fmt.MODEL, model.id),
        "name": model.name,
        "ref_id": model.reference_id,
        "metadata": model.metadata_ or {},
        "tags": list(model.tags or []),
        "trained_slice_ids": list(model.trained_slice_ids or []),
    }


def load_model(session: Session, model_id: str, actor: Actor) -> models.Model:
    policy.can_list(actor)
    return ml_models.get_model(
        session=session, model_id=fmt.assay_id(fmt.MODEL, model_id), mode=actor.mode
    )


def load_run(
    session: Session, run_id: str, actor: Actor, *, write: bool = False
) -> tuple[models.Model, models.Dataset]:
    parts = fmt.parse_run_id(run_id)
    if parts is None:
        raise NotFound(f"no model run with id {run_id}", field="model_run_id")
    model = load_model(session, parts[0], actor)
    dataset = load_dataset(session, parts[1], actor, write=write)
    return model, dataset


# --- models -----------------------------------------------------------------------------


@router.post("/models/add")
def create_model(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    policy.can_create(actor)
    name, reference_id = body.get("name"), body.get("reference_id")
    if not isinstance(name, str):
        raise Invalid("name is required", field="name")
    if not isinstance(reference_id, str):
        raise Invalid("reference_id is required", field="reference_id")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid("metadata must be an object", field="metadata")
    tags = string_list(body, "tags") if body.get("tags") else []
    trained = string_list(body, "trained_slice_ids") if body.get("trained_slice_ids") else []
    with ctx.db.write() as session:
        model = ml_models.create_model(
            session=session,
            mode=actor.mode,
            name=name,
            reference_id=reference_id,
            metadata=metadata,
            created_by=actor.user_id,
        )
        model.tags = list(dict.fromkeys(tags))
        model.trained_slice_ids = list(dict.fromkeys(trained))
        return {"model_id": fmt.nucleus_id(fmt.MODEL, model.id)}


@router.get("/models/")
def list_models(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    policy.can_list(actor)
    with ctx.db.read() as session:
        return {
            "models": [
                model_json(m) for m in ml_models.list_models(session=session, mode=actor.mode)
            ]
        }


@router.get("/model/{model_or_run_id}")
def get_model(model_or_run_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """A model by its id or by one of its runs' ids."""
    with ctx.db.read() as session:
        if fmt.parse_run_id(model_or_run_id):
            model, _ = load_run(session, model_or_run_id, actor)
        elif fmt.model_of_run(model_or_run_id):
            model = load_model(session, fmt.model_of_run(model_or_run_id) or "", actor)
        else:
            model = load_model(session, model_or_run_id, actor)
        return model_json(model)


@router.delete("/model/{model_id}")
def delete_model(
    model_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    with ctx.db.write() as session:
        model = load_model(session, model_id, actor)
        removed = ml_models.delete_model(session=session, model=model)
        return {"model_id": fmt.nucleus_id(fmt.MODEL, model.id), "deleted_predictions": removed}


def _change_list(
    ctx: Any, actor: Actor, model_id: str, body: dict[str, Any], key: str, attribute: str, add: bool
) -> dict[str, Any]:
    """Add to (or remove from) one of the model's lists: its tags or its trained slices."""
    values = string_list(body, key)
    with ctx.db.write() as session:
        model = load_model(session, model_id, actor)
        policy.can_create(actor)
        current = list(getattr(model, attribute) or [])
        changed = [*current, *values] if add else [v for v in current if v not in values]
        setattr(model, attribute, list(dict.fromkeys(changed)))
        return {"model_id": fmt.nucleus_id(fmt.MODEL, model.id), key: getattr(model, attribute)}


@router.post("/model/{model_id}/tag")
def add_model_tags(model_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx):
    return _change_list(ctx, actor, model_id, body, "tags", "tags", add=True)


@router.delete("/model/{model_id}/tag")
def remove_model_tags(model_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx):
    return _change_list(ctx, actor, model_id, body, "tags", "tags", add=False)


@router.post("/model/{model_id}/trainedSliceId")
def add_trained_slices(model_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx):
    return _change_list(
        ctx, actor, model_id, body, "trained_slice_ids", "trained_slice_ids", add=True
    )


@router.delete("/model/{model_id}/trainedSliceId")
def remove_trained_slices(model_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx):
    return _change_list(
        ctx, actor, model_id, body, "trained_slice_ids", "trained_slice_ids", add=False
    )


# --- runs -------------------------------------------------------------------------------


@router.post("/dataset/{dataset_id}/modelRun/create")
def create_model_run(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """The run of the model whose reference id the body names (made when there is none)."""
    name, reference_id = body.get("name"), body.get("reference_id")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name is required", field="name")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        model = None
        if reference_id:
            try:
                model = ml_models.get_model_by_reference(
                    session=session, reference_id=reference_id, mode=actor.mode
                )
            except NotFound:
                model = None
        if model is None:
            policy.can_create(actor)
            model = ml_models.create_model(
                session=session,
                mode=actor.mode,
                name=name,
                reference_id=reference_id or f"{name}-{dataset.id}",
                metadata=body.get("metadata") or {},
                created_by=actor.user_id,
            )
        return {"model_run_id": fmt.run_id(model.id, dataset.id)}


@router.get("/modelRun/{run_id}/info")
def model_run_info(run_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        model, dataset = load_run(session, run_id, actor)
        return {
            "model_run_id": run_id,
            "model_id": fmt.nucleus_id(fmt.MODEL, model.id),
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            "name": model.name,
            "status": "committed",
            "metadata": model.metadata_ or {},
        }


@router.post("/modelRun/{run_id}/commit")
def commit_model_run(
    run_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """Nucleus's commit starts the matching its payload defines: with matching options
    (`class_agnostic`, `allowed_label_matches`) an evaluation as calculateEvaluationMetrics'
    (its `evaluation_id` and `job_id` added); without, nothing to do."""
    options = body or {}
    if not any(name in options for name in nucleus_matching.OPTIONS):
        with ctx.db.read() as session:
            load_run(session, run_id, actor)
        return {"model_run_id": run_id}
    with ctx.db.write() as session:
        model, dataset = load_run(session, run_id, actor, write=True)
        found = nucleus_matching.start_matching(
            session=session, dataset=dataset, model=model, actor=actor, options=options
        )
        return {"model_run_id": run_id, "evaluation_id": found.id, "job_id": found.job_id}


@router.delete("/modelRun/{run_id}")
def delete_model_run(
    run_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """The model's predictions on the run's dataset go; the model stays."""
    with ctx.db.write() as session:
        model, dataset = load_run(session, run_id, actor, write=True)
        removed = annotations.delete_by_items(
            session=session, dataset=dataset, source_id=model.id, reference_ids=None
        )
        return {"model_run_id": run_id, "deleted_predictions": removed}


def _merged_run(session: Session, run_id: Any, field: str, actor: Actor):
    """(model, dataset ids) of a run to merge: one dataset, or every dataset a dataset-less
    run's model has predictions on; the caller must be able to write to each."""
    model_id = fmt.model_of_run(run_id) if isinstance(run_id, str) else None
    if model_id is None:
        raise Invalid("a model run id (run_…) is expected", field=field)
    parts = fmt.parse_run_id(run_id)
    try:
        model = load_model(session, model_id, actor)
        ids = [parts[1]] if parts else ml_models.datasets_of(session=session, model=model)
        return model, [load_dataset(session, d, actor, write=True).id for d in ids]
    except NotFound:
        raise NotFound(f"no model run with id {run_id}", field=field) from None


@router.post("/modelRun/merge", status_code=202)
def merge_model_runs(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """0.22's `client.merge_model_runs(ids, name, metadata)`: a new run (a new model, as
    every Assay run is a model's predictions) holding the predictions of two or more runs of
    one model, filled by a job (`curation/model_merges.py`); answered, as Nucleus does, with
    the run's id, its datasets and the job's id."""
    run_ids = string_list(body, "model_run_ids")
    if len(set(run_ids)) < 2:
        raise Invalid("model_run_ids names two or more distinct runs", field="model_run_ids")
    name, metadata = body.get("name"), body.get("metadata") or {}
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise Invalid("name must be a non-empty string", field="name")
    if not isinstance(metadata, dict):
        raise Invalid("metadata must be an object", field="metadata")
    with ctx.db.write() as session:
        policy.can_create(actor)
        found = [
            _merged_run(session, run, f"model_run_ids[{i}]", actor) for i, run in enumerate(run_ids)
        ]
        source = found[0][0]
        for i, (model, _) in enumerate(found):
            if model.id != source.id:
                raise Invalid(
                    f"{run_ids[i]} is a run of another model; merged runs are of one model",
                    field=f"model_run_ids[{i}]",
                )
        dataset_ids = list(dict.fromkeys(d for _, ids in found for d in ids))
        target, job = model_merges.start_merge(
            session=session,
            source=source,
            dataset_ids=dataset_ids,
            actor=actor,
            name=name,
            metadata={**metadata, "merged_from_model_run_ids": list(dict.fromkeys(run_ids))},
        )
        return {
            "model_run_id": (
                fmt.run_id(target.id, dataset_ids[0])
                if len(dataset_ids) == 1
                else fmt.model_run_id(target.id)
            ),
            "dataset_ids": [fmt.nucleus_id(fmt.DATASET, d) for d in dataset_ids],
            "job_id": fmt.nucleus_id(fmt.JOB, job.id),
        }


@router.post("/model/run/{model_id}/")
def run_hosted_model(model_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx):
    """`Model.run(dataset_id, model_run_name, slice_id)`: a job running the hosted model over
    the dataset (or the slice) that writes its predictions as the run's; the kickoff's job
    JSON (`AsyncJob.from_json` reads it) with the run's id."""
    dataset_id, slice_id, name = (body.get(k) for k in ("dataset_id", "slice_id", "model_run_name"))
    if not isinstance(dataset_id, str) or not dataset_id:
        raise Invalid("dataset_id is required", field="dataset_id")
    if slice_id is not None and not isinstance(slice_id, str):
        raise Invalid("slice_id must be a string", field="slice_id")
    if name is not None and not isinstance(name, str):
        raise Invalid("model_run_name must be a string", field="model_run_name")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        model = load_model(session, model_id, actor)
        job = hosted_runs.start_run(
            session=session,
            model=model,
            dataset=dataset,
            actor=actor,
            slice_id=fmt.assay_id(SLICE, slice_id) if slice_id else None,
            name=name or None,
        )
        return {**job_json(job), "model_run_id": fmt.run_id(model.id, dataset.id)}


# --- prediction uploads -----------------------------------------------------------------


@importer("predictions", prepare=prepare_shapes("predictions", prediction=True))
def import_predictions(session, dataset, actor, placed, payload) -> dict[str, Any]:
    result = upload(session, dataset, payload["model_id"], placed, bool(payload.get("update")))
    return {"predictions_processed": result.processed, "predictions_ignored": result.ignored}


async def _predict(
    request: Request, ctx: Any, actor: Actor, dataset_id: str, model_id: str, run_async: bool
) -> dict[str, Any]:
    body, local = await read_body(request, ctx, actor)

    def check() -> models.Model:
        with ctx.db.read() as session:
            return load_model(session, model_id, actor)

    model = await run_in_threadpool(check)
    if "requestId" in body:
        return await run_in_threadpool(
            _kickoff, ctx, actor, dataset_id, body, "predictions", model_id=model.id
        )

    def work() -> dict[str, Any]:
        placed = shapes_of(body, "annotations", ctx.settings, prediction=True, local=local)
        with ctx.db.write() as session:
            dataset = load_dataset(session, dataset_id, actor, write=True)
            result = upload(session, dataset, model.id, placed, bool(body.get("update")))
        return {
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            "model_run_id": fmt.run_id(model.id, dataset.id),
            "predictions_processed": result.processed,
            "predictions_ignored": result.ignored,
        }

    return await run_in_threadpool(work)


AsyncFlag = Annotated[int, Query(alias="async")]


@router.post("/dataset/{dataset_id}/model/{model_id}/uploadPredictions")
async def upload_predictions(
    dataset_id: str,
    model_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    async_: AsyncFlag = 0,
) -> dict[str, Any]:
    return await _predict(request, ctx, actor, dataset_id, model_id, bool(async_))


@router.post("/dataset/{dataset_id}/modelRun/{run_id}/uploadPredictions")
async def upload_run_predictions(
    dataset_id: str,
    run_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    async_: AsyncFlag = 0,
) -> dict[str, Any]:
    parts = fmt.parse_run_id(run_id)
    if parts is None:
        raise NotFound(f"no model run with id {run_id}", field="model_run_id")
    return await _predict(request, ctx, actor, dataset_id, parts[0], bool(async_))


@router.post("/modelRun/{run_id}/predict")
async def model_run_predict(
    run_id: str, request: Request, actor: CurrentActor, ctx: Ctx, async_: AsyncFlag = 0
) -> dict[str, Any]:
    parts = fmt.parse_run_id(run_id)
    if parts is None:
        raise NotFound(f"no model run with id {run_id}", field="model_run_id")
    return await _predict(request, ctx, actor, parts[1], parts[0], bool(async_))


# --- prediction reads -------------------------------------------------------------------


def _predictions_of(session: Session, item: models.Item, model: models.Model, urls: MediaUrls):
    found = item_with_annotations(session, item, urls, source_id=model.id)
    return {"annotations": found["annotations"]}


def _one_prediction(session: Session, dataset: models.Dataset, model: models.Model, rest: str):
    item, annotation_id = split_reference(session, dataset, rest)
    data = annotations.get_one(
        session=session, item=item, source_id=model.id, annotation_id=annotation_id
    )
    out = fmt.shape_out(data, reference_id=item.reference_id, item_id=item.id, source_id=model.id)
    if out is None:
        raise NotFound(f"prediction {annotation_id!r} has no Nucleus type", field="annotation_id")
    return out


def _export(
    session: Session, dataset: models.Dataset, model: models.Model, urls: MediaUrls
) -> dict[str, list]:
    """Every prediction of the model on the dataset, by type."""
    out: list[dict[str, Any]] = []
    masks: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = items.list_items(session=session, dataset=dataset, cursor=cursor, limit=10_000)
        found = items.annotations_of(
            session=session, item_ids=[i.id for i in page.items], source_id=model.id
        )
        for item in page.items:
            masks.extend(segmentations(found[item.id], item, urls))
            for data in found[item.id]:
                shape = fmt.shape_out(
                    data, reference_id=item.reference_id, item_id=item.id, source_id=model.id
                )
                if shape is not None:
                    out.append(shape)
        cursor = page.next_cursor
        if cursor is None:
            return {**fmt.by_type(out, prediction=True), "segmentation": masks}


@contextmanager
def _loaded(
    ctx: Any,
    actor: Actor,
    *,
    run_id: str | None = None,
    dataset_id: str | None = None,
    model_id: str | None = None,
) -> Iterator[tuple[Session, models.Model, models.Dataset]]:
    """A read session with the model and dataset named by a run id, or by both ids."""
    with ctx.db.read() as session:
        if run_id is not None:
            model, dataset = load_run(session, run_id, actor)
        else:
            dataset = load_dataset(session, dataset_id or "", actor)
            model = load_model(session, model_id or "", actor)
        yield session, model, dataset


def _urls(request: Request, ctx: Any) -> MediaUrls:
    return MediaUrls(request, _secret(ctx))


@router.get("/dataset/{dataset_id}/model/{model_id}/iloc/{index}")
def predictions_iloc(
    dataset_id: str, model_id: str, index: int, request: Request, actor: CurrentActor, ctx: Ctx
):
    with _loaded(ctx, actor, dataset_id=dataset_id, model_id=model_id) as (session, model, ds):
        return _predictions_of(session, item_at(session, ds, index), model, _urls(request, ctx))


@router.get("/dataset/{dataset_id}/model/{model_id}/referenceId/{reference_id:path}")
def predictions_refloc(
    dataset_id: str,
    model_id: str,
    reference_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
):
    with _loaded(ctx, actor, dataset_id=dataset_id, model_id=model_id) as (session, model, ds):
        item = items.get_item_by_reference(session=session, dataset=ds, reference_id=reference_id)
        return _predictions_of(session, item, model, _urls(request, ctx))


@router.get("/dataset/{dataset_id}/model/{model_id}/loc/{rest:path}")
def prediction_loc(dataset_id: str, model_id: str, rest: str, actor: CurrentActor, ctx: Ctx):
    with _loaded(ctx, actor, dataset_id=dataset_id, model_id=model_id) as (session, model, ds):
        return _one_prediction(session, ds, model, rest)


@router.get("/dataset/{dataset_id}/model/{model_id}/export")
def export_predictions(
    dataset_id: str, model_id: str, request: Request, actor: CurrentActor, ctx: Ctx
):
    with _loaded(ctx, actor, dataset_id=dataset_id, model_id=model_id) as (session, model, ds):
        return _export(session, ds, model, _urls(request, ctx))


@router.get("/modelRun/{run_id}/ungrouped")
def run_export(run_id: str, request: Request, actor: CurrentActor, ctx: Ctx):
    with _loaded(ctx, actor, run_id=run_id) as (session, model, dataset):
        return _export(session, dataset, model, _urls(request, ctx))


@router.get("/modelRun/{run_id}/iloc/{index}")
def run_iloc(run_id: str, index: int, request: Request, actor: CurrentActor, ctx: Ctx):
    with _loaded(ctx, actor, run_id=run_id) as (session, model, dataset):
        item = item_at(session, dataset, index)
        return _predictions_of(session, item, model, _urls(request, ctx))


@router.get("/modelRun/{run_id}/refloc/{reference_id:path}")
def run_refloc(run_id: str, reference_id: str, request: Request, actor: CurrentActor, ctx: Ctx):
    with _loaded(ctx, actor, run_id=run_id) as (session, model, dataset):
        item = items.get_item_by_reference(
            session=session, dataset=dataset, reference_id=reference_id
        )
        return _predictions_of(session, item, model, _urls(request, ctx))


@router.get("/modelRun/{run_id}/loc/{item_id}")
def run_loc(run_id: str, item_id: str, request: Request, actor: CurrentActor, ctx: Ctx):
    with _loaded(ctx, actor, run_id=run_id) as (session, model, dataset):
        item = item_by_nucleus_id(session, dataset, item_id)
        return _predictions_of(session, item, model, _urls(request, ctx))


@router.get("/modelRun/{run_id}/prediction/loc/{rest:path}")
def run_prediction_loc(run_id: str, rest: str, actor: CurrentActor, ctx: Ctx):
    with ctx.db.read() as session:
        model, dataset = load_run(session, run_id, actor)
        return _one_prediction(session, dataset, model, rest)


@router.post("/dataset/{dataset_id}/model/{model_id}/calculateEvaluationMetrics")
def calculate_evaluation_metrics(
    dataset_id: str,
    model_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    """`Dataset.calculate_evaluation_metrics(model, options)`: an evaluation of the model's
    predictions on the dataset (`curation/evaluations.py`) with Nucleus's matching options
    (`nucleus_matching.py`: class-agnostic by default, `allowed_label_matches`); the
    kickoff's job JSON with the evaluation's id."""
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        model = load_model(session, model_id, actor)
        found = nucleus_matching.start_matching(
            session=session, dataset=dataset, model=model, actor=actor, options=body or {}
        )
        job = session.get(Job, found.job_id)
        return {**job_json(job), "evaluation_id": found.id}
