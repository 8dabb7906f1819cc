"""What leaves a Nucleus slice (docs/nucleus-wire.md §3.7, §3.5): export-for-training pages
of its items with their ground truth or a model's predictions (of an object slice: only its
member objects), its raw JSON (an object slice's: a row per object) and raw items,
and `send_to_labeling` — a job (`sendToLabeling`) making a batch of one task per item in an
Assay labeling project (`curation/to_labeling.py`), whose completed labels come back as
ground truth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from assay.api.deps import Ctx, CurrentActor
from assay.api.projects import load_project
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import (
    SEND_TO_LABELING_JOB,
    MediaUrls,
    job_actor,
    job_json,
    refusals_as_user_errors,
)
from assay.compat.nucleus_items import MAX_PAGE, _secret, export_rows
from assay.compat.nucleus_models import load_model
from assay.compat.nucleus_queries import items_in_order
from assay.compat.nucleus_slices import SLICE, _load, member_filter, object_json, object_members
from assay.compat.scale_common import OptionalJsonObject
from assay.core import jobs
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.core.jobs import job_kind
from assay.curation import models, slices, to_labeling
from assay.labeling.policies import projects as project_policy

router = APIRouter(route_class=ScaleRoute)


def _page(session: Any, found: models.Slice, dataset: models.Dataset, body: dict[str, Any]):
    """One page of the slice's items (the token is the offset of the next page)."""
    token = body.get("pageToken") or "0"
    size = body.get("pageSize") or MAX_PAGE
    if not isinstance(token, str) or not token.isdigit():
        raise Invalid(f"invalid pageToken {token!r}", field="pageToken")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise Invalid("pageSize must be a positive integer", field="pageSize")
    ids = slices.slice_item_ids(session=session, dataset=dataset, found=found)
    start, size = int(token), min(size, MAX_PAGE)
    chosen = items_in_order(session, ids[start : start + size])
    return chosen, (str(start + size) if start + size < len(ids) else None)


def _all(session: Any, found: models.Slice, dataset: models.Dataset) -> list[models.Item]:
    return items_in_order(
        session, slices.slice_item_ids(session=session, dataset=dataset, found=found)
    )


@router.post("/slice/{slice_id}/exportForTrainingPage")
def slice_export_page(
    slice_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        chosen, token = _page(session, found, dataset, body or {})
        keep = member_filter(session, found, models.GROUND_TRUTH)
        return {"data": export_rows(session, chosen, urls, keep=keep), "nextPageToken": token}


@router.get("/slice/{slice_id}/{model_id}/exportForTraining")
def slice_export_predictions(
    slice_id: str, model_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        model = load_model(session, model_id, actor)
        keep = member_filter(session, found, model.id)
        chosen = _all(session, found, dataset)
        return {"exportedRows": export_rows(session, chosen, urls, source_id=model.id, keep=keep)}


@router.post("/slice/{slice_id}/{model_id}/exportForTrainingPage")
def slice_export_predictions_page(
    slice_id: str,
    model_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        model = load_model(session, model_id, actor)
        chosen, token = _page(session, found, dataset, body or {})
        keep = member_filter(session, found, model.id)
        rows = export_rows(session, chosen, urls, source_id=model.id, keep=keep)
        return {"data": rows, "nextPageToken": token}


@router.get("/slice/{slice_id}/export_raw_json")
def slice_raw_json(
    slice_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> list[dict[str, Any]]:
    """An object slice's: one row per object, `{"item", "annotation" | "prediction"}`; an item
    slice's: `{"item"}` per item."""
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        if found.kind == "object":
            return [
                {
                    "item": fmt.item_out(item, urls(item), dataset_id=dataset.id),
                    ("annotation" if ref.source_id == models.GROUND_TRUTH else "prediction"): out,
                }
                for ref, shape, item in object_members(session, found)
                if (out := object_json(ref, shape, item)) is not None
            ]
        return [
            {"item": fmt.item_out(item, urls(item), dataset_id=dataset.id)}
            for item in _all(session, found, dataset)
        ]


@router.get("/slice/{slice_id}/exportRawItems")
def slice_raw_items(
    slice_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> list[dict[str, Any]]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        return [
            {
                "id": fmt.nucleus_id(fmt.ITEM, item.id),
                "ref_id": item.reference_id,
                "metadata": item.metadata_ or {},
                "original_url": item.media,
                "scale_url": urls(item),
            }
            for item in _all(session, found, dataset)
        ]


# --- send to labeling -------------------------------------------------------------------


def _check_project(session: Any, project_id: str, actor: Actor, dataset: models.Dataset):
    project, role = load_project(session, project_id, actor)
    project_policy.require_manager(actor, project, role, "sending items to a project")
    if project.mode != dataset.mode:
        raise Invalid(f"no project with id {project_id}", field="project_id")
    return project


@router.post("/slice/{slice_id}/{project_id}/send_to_labeling")
def send_to_labeling(
    slice_id: str,
    project_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    """Checked now (the slice, the project, the caller managing it), sent by the job."""
    with ctx.db.write() as session:
        found, dataset = _load(session, slice_id, actor, write=True)
        _check_project(session, project_id, actor, dataset)
        if not slices.slice_item_ids(session=session, dataset=dataset, found=found):
            raise Invalid("the slice has no items to send", field="slice_id")
        job = jobs.enqueue(
            session=session,
            kind=SEND_TO_LABELING_JOB,
            payload={
                "dataset_id": dataset.id,
                "slice_id": found.id,
                "project_id": project_id,
                "user_id": actor.user_id,
                "mode": actor.mode,
            },
            actor=actor,
        )
        return job_json(job)


@job_kind(SEND_TO_LABELING_JOB, max_attempts=1)
def run_send_to_labeling(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """A Nucleus `send_to_labeling`: the slice's items as one batch of the project."""
    with refusals_as_user_errors(), ctx.db.write() as session:
        actor = job_actor(session, payload)
        found, dataset = _load(session, SLICE + payload["slice_id"], actor, write=True)
        project = _check_project(session, payload["project_id"], actor, dataset)
        link = to_labeling.send_items(
            session=session,
            dataset=dataset,
            item_ids=slices.slice_item_ids(session=session, dataset=dataset, found=found),
            project=project,
            actor=actor,
            settings=ctx.settings,
            batch_name=f"{found.name} ({fmt.nucleus_id(fmt.JOB, ctx.job_id)})",
            slice_id=found.id,
        )
        return {"batch_id": link.batch_id, "project_id": project.id, "sent": link.sent}
