"""Models and their predictions under /api/v1: register a model (shell, or hosted with a
runner), list and read models, upload a model's predictions on a dataset's items (named by
reference id), run a hosted model over a dataset as a job."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.datasets import load_dataset
from assay.api.deps import Ctx, CurrentActor, Db
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core import schemas as core_schemas
from assay.core.errors import Invalid
from assay.curation import annotations, hosted_runs, ml_models, schemas, wire
from assay.curation.items import check_shape, existing_items
from assay.curation.policies import datasets as policy

# Not "models": Swagger UI keeps its schemas section under that name and stops rendering.
router = APIRouter(tags=["ml-models"], route_class=JsonRoute)
MAX_PREDICTIONS = 200_000


@router.post(
    "/models", response_model=schemas.MlModel, status_code=201, operation_id="create_model"
)
def create_model(
    model_in: schemas.ModelCreate, request: Request, actor: CurrentActor, ctx: Ctx
) -> JSONResponse:
    """A model whose predictions you upload, or with `runner` one Assay runs (hosted);
    `reference_id` is yours and unique. An endpoint's API key is stored encrypted and never
    returned."""
    policy.can_create(actor)
    db = ctx.db

    def create(session: Session) -> schemas.MlModel:
        model = ml_models.create_model(
            session=session,
            mode=actor.mode,
            name=model_in.name,
            reference_id=model_in.reference_id,
            metadata=model_in.metadata,
            created_by=actor.user_id,
            runner_in=model_in.runner,
            secret_key=ctx.settings.secret_key.get_secret_value(),
        )
        return schemas.MlModel.model_validate(model)

    return create_once(request, actor=actor, db=db, body=model_in, create=create)


@router.get("/models", response_model=schemas.ModelPage, operation_id="list_models")
def list_models(actor: CurrentActor, db: Db) -> schemas.ModelPage:
    policy.can_list(actor)
    with db.read() as session:
        found = ml_models.list_models(session=session, mode=actor.mode)
        return schemas.ModelPage(
            items=[schemas.MlModel.model_validate(m) for m in found], next_cursor=None
        )


@router.get("/models/{model_id}", response_model=schemas.MlModel, operation_id="get_model")
def get_model(model_id: str, actor: CurrentActor, db: Db) -> schemas.MlModel:
    policy.can_list(actor)
    with db.read() as session:
        model = ml_models.get_model(session=session, model_id=model_id, mode=actor.mode)
        return schemas.MlModel.model_validate(model)


@router.post(
    "/models/{model_id}/runs",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="run_model",
)
def run_model(
    model_id: str, run_in: schemas.ModelRunCreate, actor: CurrentActor, db: Db
) -> core_schemas.Job:
    """A job running the hosted model over the dataset's items (a slice's or a query's) and
    writing its predictions; follow it at /jobs/{id}."""
    with db.write() as session:
        dataset = load_dataset(session, run_in.dataset_id, actor)
        policy.can_write(actor, dataset)
        model = ml_models.get_model(session=session, model_id=model_id, mode=actor.mode)
        job = hosted_runs.start_run(
            session=session,
            model=model,
            dataset=dataset,
            actor=actor,
            slice_id=run_in.slice_id,
            query=run_in.query,
            name=run_in.name,
        )
        return core_schemas.Job.model_validate(job)


_PREDICTIONS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["model_id", "items"],
                    "properties": {
                        "model_id": {"type": "string"},
                        "items": {
                            "type": "object",
                            "description": "{reference_id: [shapes with confidence]}",
                        },
                        "update": {"type": "boolean", "default": True},
                    },
                }
            }
        },
    }
}


@router.post(
    "/datasets/{dataset_id}/predictions",
    response_model=schemas.PredictionsWritten,
    operation_id="upload_predictions",
    openapi_extra=_PREDICTIONS_BODY,
)
async def upload_predictions(
    dataset_id: str, request: Request, actor: CurrentActor, db: Db
) -> schemas.PredictionsWritten:
    """A model's predictions (the annotation model, with `confidence` and `class_pdf`) on
    items by reference id; all or nothing, the 4xx naming the item and field."""
    body = await request.body()

    def work() -> schemas.PredictionsWritten:
        upload = wire.decode(body, wire.PredictionsIn)
        placed = [
            annotations.Placed(reference_id, None, shape)
            for reference_id, shapes in upload.items.items()
            for shape in shapes
        ]
        if len(placed) > MAX_PREDICTIONS:
            raise Invalid(
                f"{len(placed)} predictions in one request; at most {MAX_PREDICTIONS}",
                field="items",
            )
        for reference_id, shapes in upload.items.items():
            for k, shape in enumerate(shapes):
                check_shape(shape, f"items.{reference_id}[{k}]")
        with db.write() as session:
            dataset = load_dataset(session, dataset_id, actor)
            policy.can_write(actor, dataset)
            model = ml_models.get_model(session=session, model_id=upload.model_id, mode=actor.mode)
            known = existing_items(session, dataset.id, list(upload.items))
            for reference_id in upload.items:
                if reference_id not in known:
                    raise Invalid(
                        f"no item with reference_id {reference_id!r} in this dataset",
                        field=f"items.{reference_id}",
                    )
            result = annotations.upload(
                session=session,
                dataset=dataset,
                source_id=model.id,
                placed=placed,
                update_existing=upload.update,
                field="items",
            )
        return schemas.PredictionsWritten(written=result.processed, ignored=result.ignored)

    return await to_thread.run_sync(work)
