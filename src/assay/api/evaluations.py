"""Model evaluations under /api/v1/datasets/{id}/evaluations: start one (a job), list, read
its metrics, re-evaluate a slice from its stored matches, page through its matches, and a
standalone HTML report of one to share."""

from __future__ import annotations

import io
from typing import Annotated

import polars as pl
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.orm import Session

from assay.api.datasets import load_dataset
from assay.api.deps import CurrentActor, Db
from assay.api.evaluation_report import REPORT_CSP, render_report
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core.errors import Invalid, NotFound
from assay.curation import evaluation_comparisons, evaluations, ml_models, schemas, slices
from assay.curation.policies import datasets as policy

router = APIRouter(tags=["evaluations"], route_class=JsonRoute)
MATCH_OUTCOMES = ("tp", "fp", "fn", "ignored")


def _view(found) -> schemas.Evaluation:
    return schemas.Evaluation.model_validate(found)


@router.post(
    "/datasets/{dataset_id}/evaluations",
    response_model=schemas.Evaluation,
    status_code=202,
    operation_id="start_evaluation",
)
def start_evaluation(
    dataset_id: str,
    evaluation_in: schemas.EvaluationCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
) -> JSONResponse:
    """Evaluate a model's predictions against the dataset's ground truth (the COCO
    protocol, pycocotools' numbers) as a job; follow it at /jobs/{job_id}, read the result
    here when its status is done. With an Idempotency-Key, a retry returns the same
    evaluation instead of queuing another."""

    def create(session: Session) -> schemas.Evaluation:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        model = ml_models.get_model(
            session=session, model_id=evaluation_in.model_id, mode=actor.mode
        )
        found = evaluations.start_evaluation(
            session=session,
            dataset=dataset,
            model=model,
            actor=actor,
            slice_id=evaluation_in.slice_id,
            query=evaluation_in.query,
            name=evaluation_in.name,
            params=evaluation_in.params,
            task=evaluation_in.task,
        )
        return _view(found)

    return create_once(
        request, actor=actor, db=db, body=evaluation_in, create=create, status_code=202
    )


@router.get(
    "/datasets/{dataset_id}/evaluations",
    response_model=schemas.EvaluationPage,
    operation_id="list_evaluations",
)
def list_evaluations(
    dataset_id: str,
    actor: CurrentActor,
    db: Db,
    model_id: Annotated[str | None, Query(max_length=64)] = None,
) -> schemas.EvaluationPage:
    """The dataset's evaluations, newest first (a model's, with model_id)."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = evaluations.list_evaluations(session=session, dataset=dataset, model_id=model_id)
        return schemas.EvaluationPage(
            items=[
                schemas.EvaluationBrief(
                    id=e.id,
                    dataset_id=e.dataset_id,
                    model_id=e.model_id,
                    name=e.name,
                    task=e.task,
                    status=e.status,
                    summary=(e.metrics or {}).get("summary"),
                    created_at=e.created_at,
                    finished_at=e.finished_at,
                )
                for e in found
            ],
            next_cursor=None,
        )


@router.get(
    "/datasets/{dataset_id}/evaluations/compare",
    response_model=schemas.EvaluationComparison,
    operation_id="compare_evaluations",
)
def compare_evaluations(
    dataset_id: str,
    actor: CurrentActor,
    db: Db,
    base: Annotated[str, Query(max_length=64, description="The baseline evaluation.")],
    new: Annotated[str, Query(max_length=64, description="The evaluation compared to it.")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> schemas.EvaluationComparison:
    """Two evaluations side by side on the items both evaluated: deltas of the summary and
    per class (new - base), and the items where the new model does worse, worst first."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = {
            which: evaluations.get_evaluation(
                session=session, dataset=dataset, evaluation_id=evaluation_id, field=which
            )
            for which, evaluation_id in (("base", base), ("new", new))
        }
        return schemas.EvaluationComparison(
            **evaluation_comparisons.compare(
                session=session, dataset=dataset, base=found["base"], new=found["new"], limit=limit
            )
        )


@router.get(
    "/datasets/{dataset_id}/evaluations/{evaluation_id}",
    response_model=schemas.Evaluation,
    operation_id="get_evaluation",
)
def get_evaluation(
    dataset_id: str, evaluation_id: str, actor: CurrentActor, db: Db
) -> schemas.Evaluation:
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        return _view(
            evaluations.get_evaluation(
                session=session, dataset=dataset, evaluation_id=evaluation_id
            )
        )


@router.get(
    "/datasets/{dataset_id}/evaluations/{evaluation_id}/slices/{slice_id}",
    response_model=schemas.EvaluationSliceMetrics,
    operation_id="evaluation_of_slice",
)
def evaluation_of_slice(
    dataset_id: str, evaluation_id: str, slice_id: str, actor: CurrentActor, db: Db
) -> schemas.EvaluationSliceMetrics:
    """The evaluation restricted to a slice's items, from its stored matches (nothing
    matched again): the summary numbers and per-class AP."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = evaluations.get_evaluation(
            session=session, dataset=dataset, evaluation_id=evaluation_id
        )
        chosen = slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        item_ids = slices.slice_item_ids(session=session, dataset=dataset, found=chosen)
        return schemas.EvaluationSliceMetrics(
            **evaluation_comparisons.metrics_for_items(
                session=session, dataset=dataset, evaluation=found, item_ids=item_ids
            )
        )


@router.get(
    "/datasets/{dataset_id}/evaluations/{evaluation_id}/matches",
    response_model=schemas.EvaluationMatchPage,
    operation_id="list_evaluation_matches",
)
def list_matches(
    dataset_id: str,
    evaluation_id: str,
    actor: CurrentActor,
    db: Db,
    match: Annotated[str | None, Query(description="tp, fp, fn or ignored")] = None,
    item_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> schemas.EvaluationMatchPage:
    """Every evaluated object's outcome at the writeback threshold, by object id (cursor:
    the last object id of the previous page)."""
    if match is not None and match not in MATCH_OUTCOMES:
        raise Invalid(f"match must be one of {', '.join(MATCH_OUTCOMES)}", field="match")
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = evaluations.get_evaluation(
            session=session, dataset=dataset, evaluation_id=evaluation_id
        )
        if found.matches is None:
            raise Invalid(
                f"evaluation {found.id} is {found.status}, not done", field="evaluation_id"
            )
        frame = pl.read_parquet(io.BytesIO(found.matches))
    if match is not None:
        frame = frame.filter(pl.col("match") == match)
    if item_id is not None:
        frame = frame.filter(pl.col("item_id") == item_id)
    frame = frame.sort("object_id")
    if cursor is not None:
        frame = frame.filter(pl.col("object_id") > cursor)
    page = frame.head(limit)
    rows = page.to_dicts()
    return schemas.EvaluationMatchPage(
        items=[schemas.EvaluationMatch(**row) for row in rows],
        next_cursor=rows[-1]["object_id"] if frame.height > limit else None,
    )


def _report_names(session: Session, dataset, found) -> tuple[str, str]:
    """The evaluated model's name and the scope in words (ids when they were deleted since)."""
    try:
        model = ml_models.get_model(session=session, model_id=found.model_id, mode=dataset.mode)
        model_name = model.name
    except NotFound:
        model_name = found.model_id
    scope = found.scope or {}
    if scope.get("slice_id"):
        try:
            chosen = slices.get_slice(session=session, dataset=dataset, slice_id=scope["slice_id"])
            return model_name, f"slice {chosen.name}"
        except NotFound:
            return model_name, f"slice {scope['slice_id']} (deleted)"
    if "query" in scope:
        query = scope["query"]
        return model_name, f"items matching {query if isinstance(query, str) else 'a query plan'}"
    return model_name, "the whole dataset"


@router.get(
    "/datasets/{dataset_id}/evaluations/{evaluation_id}/report",
    response_class=HTMLResponse,
    operation_id="evaluation_report",
    responses={200: {"content": {"text/html": {}}, "description": "The report page."}},
)
def evaluation_report(
    dataset_id: str,
    evaluation_id: str,
    actor: CurrentActor,
    db: Db,
    download: Annotated[bool, Query(description="As an attachment (a file to send).")] = False,
) -> HTMLResponse:
    """A finished evaluation as one self-contained HTML page to share: the summary, per-class
    table, PR curves, confusion matrix and confidence histogram as inline SVG; no script, no
    external asset."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = evaluations.get_evaluation(
            session=session, dataset=dataset, evaluation_id=evaluation_id
        )
        if found.status != "done" or found.metrics is None:
            raise Invalid(
                f"evaluation {found.id} is {found.status}, not done", field="evaluation_id"
            )
        model_name, scope = _report_names(session, dataset, found)
        page = render_report(
            evaluation=found, dataset_name=dataset.name, model_name=model_name, scope=scope
        )
    headers = {"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="evaluation-{found.id}.html"'
    return HTMLResponse(page, headers=headers)
