"""Nucleus ground truth (docs/nucleus-wire.md §3.3): annotate (sync batches and the
signed-URL async import), read one, delete (a job). Stored through `curation.annotations`
as ground truth (`source_id` ""); reads per item are `nucleus_items`' iloc/refloc/loc.

Segmentation masks (`mask_url` + per-index labels) are fetched and decoded into the
annotation model's RLE masks, one per label (`nucleus_masks`).
"""

from __future__ import annotations

import io
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat import nucleus_masks, scale_files
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import body_list, flag, job_json, load_dataset
from assay.compat.nucleus_items import _kickoff
from assay.compat.nucleus_jobs import enqueue_import, importer
from assay.compat.scale_common import OptionalJsonObject
from assay.core.errors import Invalid, NotFound
from assay.core.settings import Settings
from assay.curation import annotations, items, models, object_embeddings, wire

router = APIRouter(route_class=ScaleRoute)
MAX_MASK_FILES = 20


async def read_body(
    request: Request, ctx: Any, actor: Any
) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]]]:
    """The upload's JSON body, and the mask files sent with it: local masks come as
    multipart, a `serialized_request` JSON part and one `mask` part per file, named by the
    path the client read it from (percent-encoded by aiohttp). Each file is stored as a blob."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        body = wire.msgspec.json.decode(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise Invalid("the body must be a JSON object", field="body")
        return body, {}
    async with request.form(max_files=MAX_MASK_FILES, max_fields=10) as form:
        raw = form.get("serialized_request")
        if isinstance(raw, UploadFile):
            raw = (await raw.read()).decode()
        if not isinstance(raw, str):
            raise Invalid(
                "a multipart upload needs a serialized_request part", field="serialized_request"
            )
        files = [
            (unquote(part.filename or ""), await part.read())
            for part in form.getlist("mask")
            if isinstance(part, UploadFile)
        ]
    try:
        body = wire.msgspec.json.decode(raw)
    except wire.msgspec.DecodeError:
        raise Invalid("serialized_request is not JSON", field="serialized_request") from None
    if not isinstance(body, dict):
        raise Invalid("serialized_request must be a JSON object", field="serialized_request")

    def store() -> dict[str, tuple[bytes, str]]:
        local = {}
        for name, data in files:
            blob = scale_files.store(
                ctx, actor, io.BytesIO(data), filename=name, content_type="image/png"
            )
            local[name] = (data, blob.sha256)
        return local

    return body, await run_in_threadpool(store)


def shapes_of(
    body: dict[str, Any],
    key: str,
    settings: Settings,
    *,
    prediction: bool,
    local: dict[str, tuple[bytes, str]] | None = None,
) -> list[annotations.Placed]:
    """The body's annotations (or predictions) as placed shapes, its segmentations' masks
    fetched (or taken from `local`, the files sent with it) and decoded (`nucleus_masks`)."""
    placed = [
        fmt.shape_in(payload, f"{key}[{i}]", prediction=prediction)
        for i, payload in enumerate(body_list(body, "annotations"))
    ]
    for i, payload in enumerate(body_list(body, "segmentations")):
        placed.extend(
            nucleus_masks.masks_in(
                payload, f"segmentations[{i}]", settings, prediction=prediction, local=local
            )
        )
    return placed


def upload(
    session: Any,
    dataset: models.Dataset,
    source_id: str,
    placed: list[annotations.Placed],
    update: bool,
) -> annotations.UploadResult:
    """The shapes, and the `embedding_vector`s they carry into the object space `custom`
    (checked before anything is written; an ignored shape's vector is not kept)."""
    carrying = [i for i, one in enumerate(placed) if one.embedding is not None]
    matrix = object_embeddings.check_vectors(
        dataset=dataset,
        space=object_embeddings.CUSTOM,
        vectors=[placed[i].embedding for i in carrying],  # type: ignore[misc]
        fields=[f"annotations[{i}].embedding_vector" for i in carrying],
    )
    result = annotations.upload(
        session=session,
        dataset=dataset,
        source_id=source_id,
        placed=placed,
        update_existing=update,
    )
    kept = [(k, result.stored[i]) for k, i in enumerate(carrying) if result.stored[i] is not None]
    if kept:
        object_embeddings.write_vectors(
            session=session,
            dataset=dataset,
            space=object_embeddings.CUSTOM,
            objects=[ref for _, ref in kept],  # type: ignore[misc]
            matrix=matrix[[k for k, _ in kept]],
        )
    return result


def lines_as_body(lines: list[Any]) -> dict[str, Any]:
    """An NDJSON upload's lines as a sync body: masks apart, like the client's batches."""
    found: dict[str, list[Any]] = {"annotations": [], "segmentations": []}
    for line in lines:
        is_mask = isinstance(line, dict) and (line.get("type") == "mask" or "mask_url" in line)
        found["segmentations" if is_mask else "annotations"].append(line)
    return found


def prepare_shapes(key: str, prediction: bool):
    """The import's prepare step: the upload's lines as placed shapes (masks fetched)."""

    def prepare(settings: Settings, lines: list[Any], payload: dict[str, Any]) -> list[Any]:
        return shapes_of(lines_as_body(lines), key, settings, prediction=prediction)

    return prepare


@importer("annotations", prepare=prepare_shapes("annotations", prediction=False))
def import_annotations(session, dataset, actor, placed, payload) -> dict[str, Any]:
    result = upload(session, dataset, models.GROUND_TRUTH, placed, bool(payload.get("update")))
    return {"annotations_processed": result.processed, "annotations_ignored": result.ignored}


@router.post("/dataset/{dataset_id}/annotate")
async def annotate(
    dataset_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    async_: Annotated[int, Query(alias="async")] = 0,
) -> dict[str, Any]:
    body, local = await read_body(request, ctx, actor)
    if "requestId" in body:
        return await run_in_threadpool(_kickoff, ctx, actor, dataset_id, body, "annotations")

    def work() -> dict[str, Any]:
        placed = shapes_of(body, "annotations", ctx.settings, prediction=False, local=local)
        with ctx.db.write() as session:
            dataset = load_dataset(session, dataset_id, actor, write=True)
            result = upload(session, dataset, models.GROUND_TRUTH, placed, flag(body, "update"))
        return {
            "dataset_id": dataset_id,
            "annotations_processed": result.processed,
            "annotations_ignored": result.ignored,
        }

    return await run_in_threadpool(work)


def split_reference(session: Any, dataset: models.Dataset, path: str) -> tuple[models.Item, str]:
    """`{reference_id}/{annotation_id}` sent unencoded: either may hold a '/', so each split
    is tried, the item's reference id first from the left."""
    parts = path.split("/")
    for cut in range(1, len(parts)):
        reference_id, annotation_id = "/".join(parts[:cut]), "/".join(parts[cut:])
        try:
            return items.get_item_by_reference(
                session=session, dataset=dataset, reference_id=reference_id
            ), annotation_id
        except NotFound:
            continue
    raise NotFound(f"no item and annotation at {path!r} in this dataset", field="reference_id")


@router.get("/dataset/{dataset_id}/groundTruth/loc/{rest:path}")
def ground_truth_loc(dataset_id: str, rest: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        item, annotation_id = split_reference(session, dataset, rest)
        data = annotations.get_one(
            session=session, item=item, source_id=models.GROUND_TRUTH, annotation_id=annotation_id
        )
        out = fmt.shape_out(
            data, reference_id=item.reference_id, item_id=item.id, source_id=models.GROUND_TRUTH
        )
        if out is None:
            raise NotFound(
                f"annotation {annotation_id!r} has no Nucleus type", field="annotation_id"
            )
        return out


@importer("delete_annotations")
def import_deletion(session, dataset, actor, lines, payload) -> dict[str, Any]:
    removed = annotations.delete_by_items(
        session=session,
        dataset=dataset,
        source_id=models.GROUND_TRUTH,
        reference_ids=payload.get("reference_ids") or None,
    )
    return {"deleted_annotations": removed}


@router.delete("/annotation/{dataset_id}")
def delete_annotations(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """The ground truth of the items named (all items when none are), as a job."""
    reference_ids = body_list(body or {}, "reference_ids")
    if not all(isinstance(ref, str) for ref in reference_ids):
        raise Invalid("reference_ids must be strings", field="reference_ids")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        job = enqueue_import(
            session=session,
            actor=actor,
            what="delete_annotations",
            dataset_id=dataset.id,
            sha256=None,
            reference_ids=reference_ids,
        )
        return job_json(job)
