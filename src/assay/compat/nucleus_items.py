"""Nucleus dataset items (docs/nucleus-wire.md §3.2, §3.9): append (0.18's sync batches,
the signed-URL upload and its async import, multipart with local images), reads by index,
reference id and id, pages, export for training, deletes, metadata updates.

Signed-URL uploads: `signedUrl/{request_id}` answers a URL on this server carrying an HMAC
of (user, dataset, request id, expiry) — the mechanism of the signed media URLs — that
takes one unauthenticated PUT; the bytes are stored as a blob and staged under the request
id (`curation.uploads`), and the kickoff imports them in a job (`nucleus_jobs`).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assay.api.context import AppContext
from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat import nucleus_masks, scale_files
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import (
    MediaUrls,
    body_list,
    flag,
    job_json,
    load_dataset,
    signed_upload_url,
    verify_upload,
)
from assay.compat.nucleus_jobs import enqueue_import, importer
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core import users
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.curation import item_metadata, items, models, scenes, uploads, wire

router = APIRouter(route_class=ScaleRoute)
# One import job takes a whole signed-URL upload in one transaction.
MAX_IMPORT_ITEMS = 1_000_000
MAX_PAGE = 10_000
MAX_LOCAL_FILES = 10


def _secret(ctx: AppContext) -> str:
    return ctx.settings.secret_key.get_secret_value()


# --- appends ----------------------------------------------------------------------------


def _append(
    session: Any,
    dataset: models.Dataset,
    actor: Actor,
    payloads: list[Any],
    update: bool,
    max_items: int,
    media: dict[int, str] | None = None,
) -> items.AppendResult:
    append = wire.AppendIn(
        items=[fmt.item_in(p, f"items[{i}]", (media or {}).get(i)) for i, p in enumerate(payloads)],
        update=update,
    )
    return items.append_items(
        session=session, dataset=dataset, actor=actor, append=append, max_items=max_items
    )


@importer("items")
def import_items(session, dataset, actor, lines, payload) -> dict[str, Any]:
    result = _append(
        session,
        dataset,
        actor,
        payload.get("items") or lines,
        bool(payload.get("update")),
        MAX_IMPORT_ITEMS,
        {int(k): v for k, v in (payload.get("media") or {}).items()},
    )
    return {
        "new_items": result.new,
        "updated_items": result.updated,
        "ignored_items": result.ignored,
    }


def _counts(dataset_id: str, result: items.AppendResult) -> dict[str, Any]:
    return {
        "dataset_id": dataset_id,
        "new_items": result.new,
        "updated_items": result.updated,
        "ignored_items": result.ignored,
        "upload_errors": 0,
    }


@router.get("/dataset/{dataset_id}/signedUrl/{request_id}")
def signed_url(
    dataset_id: str, request_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    uploads.check_request_id(request_id)
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
    return {
        "signed_url": signed_upload_url(
            request,
            _secret(ctx),
            user_id=actor.user_id,
            dataset_id=dataset.id,
            request_id=request_id,
        )
    }


@router.put("/upload/{dataset_id}/{request_id}")
async def put_upload(
    dataset_id: str,
    request_id: str,
    request: Request,
    ctx: Ctx,
    user: str = "",
    exp: str = "",
    sig: str = "",
) -> dict[str, Any]:
    """The signed URL's PUT: no key, the signature is the credential."""
    verify_upload(
        _secret(ctx), user_id=user, dataset_id=dataset_id, request_id=request_id, exp=exp, sig=sig
    )
    body = await request.body()

    def stage() -> dict[str, Any]:
        with ctx.db.read() as session:
            owner = users.get_user(session=session, user_id=user)
            actor = Actor(user_id=owner.id, email=owner.email, role=owner.role)
        blob = scale_files.store(
            ctx,
            actor,
            io.BytesIO(body),
            filename=f"{request_id}.ndjson",
            content_type="application/x-ndjson",
        )
        with ctx.db.write() as session:
            uploads.stage(
                session=session,
                dataset_id=dataset_id,
                request_id=request_id,
                sha256=blob.sha256,
                created_by=user,
            )
        return {}

    return await run_in_threadpool(stage)


def _kickoff(
    ctx: AppContext, actor: Actor, dataset_id: str, body: dict[str, Any], what: str, **extra: Any
) -> dict[str, Any]:
    request_id = body.get("requestId")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        sha = uploads.staged(
            session=session, dataset_id=dataset.id, request_id=request_id, created_by=actor.user_id
        )
        uploads.forget(session=session, dataset_id=dataset.id, request_id=request_id)
        job = enqueue_import(
            session=session,
            actor=actor,
            what=what,
            dataset_id=dataset.id,
            sha256=sha,
            update=flag(body, "update"),
            **extra,
        )
        return job_json(job)


async def _multipart(
    request: Request, ctx: AppContext, actor: Actor, dataset_id: str, run_async: bool
) -> dict[str, Any]:
    """Local images: an `items` JSON part and one `image` part per file, each stored as a
    blob and shown by the item whose image_url names the file."""
    async with request.form(max_files=MAX_LOCAL_FILES, max_fields=10) as form:
        raw = form.get("items")
        if isinstance(raw, UploadFile):
            raw = (await raw.read()).decode()
        if not isinstance(raw, str):
            raise Invalid("the multipart append needs an `items` part", field="items")
        files = [
            (unquote(part.filename or ""), part)
            for part in form.getlist("image")
            if isinstance(part, UploadFile)
        ]

        def store() -> dict[str, str]:
            by_name = {}
            for name, part in files:
                blob = scale_files.store(
                    ctx, actor, part.file, filename=name, content_type=part.content_type
                )
                by_name[name] = f"blob:{blob.sha256}"
            return by_name

        by_name = await run_in_threadpool(store)
    try:
        payloads = wire.msgspec.json.decode(raw)
    except Exception:
        raise Invalid("the items part is not JSON", field="items") from None
    if not isinstance(payloads, list):
        raise Invalid("the items part must be a list", field="items")
    media: dict[int, str] = {}
    for i, payload in enumerate(payloads):
        name = payload.get("image_url") if isinstance(payload, dict) else None
        if name not in by_name:
            raise Invalid(f"no file part for {name!r}", field=f"items[{i}].image_url")
        media[i] = by_name[name]
    update = bool(payloads and isinstance(payloads[0], dict) and payloads[0].get("update"))
    payloads = [{k: v for k, v in p.items() if k != "update"} for p in payloads]

    def write() -> dict[str, Any]:
        with ctx.db.write() as session:
            dataset = load_dataset(session, dataset_id, actor, write=True)
            if run_async:
                job = enqueue_import(
                    session=session,
                    actor=actor,
                    what="items",
                    dataset_id=dataset.id,
                    sha256=None,
                    items=payloads,
                    media={str(k): v for k, v in media.items()},
                    update=update,
                )
                return job_json(job)
            result = _append(
                session, dataset, actor, payloads, update, ctx.settings.max_append_items, media
            )
            return _counts(dataset_id, result)

    return await run_in_threadpool(write)


@router.post("/dataset/{dataset_id}/append")
async def append(
    dataset_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    async_: Annotated[int, Query(alias="async")] = 0,
) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _multipart(request, ctx, actor, dataset_id, bool(async_))
    body = wire.msgspec.json.decode(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object", field="body")
    if "requestId" in body:
        return await run_in_threadpool(_kickoff, ctx, actor, dataset_id, body, "items")

    def work() -> dict[str, Any]:
        payloads = body_list(body, "items", required=True)
        with ctx.db.write() as session:
            dataset = load_dataset(session, dataset_id, actor, write=True)
            result = _append(
                session,
                dataset,
                actor,
                payloads,
                flag(body, "update"),
                ctx.settings.max_append_items,
            )
        return _counts(dataset_id, result)

    return await run_in_threadpool(work)


# --- reads ------------------------------------------------------------------------------


def item_with_annotations(
    session: Any, item: models.Item, urls: MediaUrls, source_id: str = models.GROUND_TRUTH
) -> dict[str, Any]:
    prediction = source_id != models.GROUND_TRUTH
    found = items.annotations_of(session=session, item_ids=[item.id], source_id=source_id)
    shapes = [
        out
        for data in found[item.id]
        if (
            out := fmt.shape_out(
                data, reference_id=item.reference_id, item_id=item.id, source_id=source_id
            )
        )
    ]
    grouped = fmt.by_type(shapes, prediction=prediction)
    grouped["segmentation"] = segmentations(found[item.id], item, urls)
    return {"item": fmt.item_out(item, urls(item)), "annotations": grouped}


def segmentations(
    stored: list[dict[str, Any]], item: models.Item, urls: MediaUrls
) -> list[dict[str, Any]]:
    return nucleus_masks.segmentations_out(
        stored,
        reference_id=item.reference_id,
        dataset_item_id=fmt.nucleus_id(fmt.ITEM, item.id),
        show=urls.show,
    )


def item_at(session: Any, dataset: models.Dataset, index: int) -> models.Item:
    item = session.scalar(
        select(models.Item)
        .where(models.Item.dataset_id == dataset.id)
        .order_by(models.Item.id)
        .offset(index)
        .limit(1)
    )
    if index < 0 or item is None:
        raise NotFound(
            f"no item at index {index} (the dataset has {dataset.item_count})", field="index"
        )
    return item


def item_by_nucleus_id(session: Any, dataset: models.Dataset, item_id: str) -> models.Item:
    return items.get_item(session=session, dataset=dataset, item_id=fmt.assay_id(fmt.ITEM, item_id))


def _item_answer(ctx: AppContext, request: Request, actor: Actor, dataset_id: str, find: Any):
    """An item found by `find(session, dataset)` with its ground truth, in Nucleus's shape."""
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        item = find(session, dataset)
        return item_with_annotations(session, item, MediaUrls(request, _secret(ctx)))


@router.get("/dataset/{dataset_id}/iloc/{index}")
def iloc(
    dataset_id: str, index: int, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    return _item_answer(ctx, request, actor, dataset_id, lambda s, d: item_at(s, d, index))


@router.get("/dataset/{dataset_id}/refloc/{reference_id:path}")
def refloc(
    dataset_id: str, reference_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    return _item_answer(
        ctx,
        request,
        actor,
        dataset_id,
        lambda s, d: items.get_item_by_reference(session=s, dataset=d, reference_id=reference_id),
    )


@router.get("/dataset/{dataset_id}/loc/{item_id}")
def loc(
    dataset_id: str, item_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    return _item_answer(
        ctx, request, actor, dataset_id, lambda s, d: item_by_nucleus_id(s, d, item_id)
    )


@router.delete("/dataset/{dataset_id}/refloc/{reference_id:path}")
def delete_item(
    dataset_id: str,
    reference_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        if not items.delete_items(session=session, dataset=dataset, reference_ids=[reference_id]):
            raise NotFound(
                f"no item with reference_id {reference_id!r} in this dataset", field="reference_id"
            )
        return {"dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id), "deleted": [reference_id]}


@router.get("/dataset/{dataset_id}/datasetItems")
def dataset_items(
    dataset_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        found, cursor = [], None
        while True:
            page = items.list_items(session=session, dataset=dataset, cursor=cursor, limit=MAX_PAGE)
            found.extend(fmt.item_out(item, urls(item)) for item in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return {"dataset_items": found}


def _page_args(body: dict[str, Any] | None) -> tuple[str | None, int]:
    body = body or {}
    token = body.get("pageToken") or None
    size = body.get("pageSize") or MAX_PAGE
    if not isinstance(size, int) or size < 1:
        raise Invalid("pageSize must be a positive integer", field="pageSize")
    if token is not None and not isinstance(token, str):
        raise Invalid("pageToken must be a string", field="pageToken")
    return token, min(size, MAX_PAGE)


@router.post("/dataset/{dataset_id}/itemsPage")
def items_page(
    dataset_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    token, size = _page_args(body)
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        page = items.list_items(session=session, dataset=dataset, cursor=token, limit=size)
        return {
            "items": [fmt.item_out(item, urls(item)) for item in page.items],
            "nextPageToken": page.next_cursor,
        }


def export_rows(
    session: Any,
    page_items: list[models.Item],
    urls: MediaUrls,
    source_id: str = models.GROUND_TRUTH,
    keep: Callable[[str, dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Export-for-training rows: each item with its annotations (or a model's predictions)
    by type; `keep(item_id, shape)` picks the shapes shown (an object slice's members)."""
    found = items.annotations_of(
        session=session, item_ids=[item.id for item in page_items], source_id=source_id
    )
    if keep is not None:
        found = {i: [s for s in shapes if keep(i, s)] for i, shapes in found.items()}
    rows = []
    for item in page_items:
        shapes = [
            out
            for data in found[item.id]
            if (
                out := fmt.shape_out(
                    data, reference_id=item.reference_id, item_id=item.id, source_id=source_id
                )
            )
        ]
        grouped = fmt.by_type(shapes)
        grouped.setdefault("multicategory", [])
        masks = segmentations(found[item.id], item, urls)
        rows.append(
            {
                "item": fmt.item_out(item, urls(item)),
                **grouped,
                "segmentation": masks[0] if masks else None,
            }
        )
    return rows


@router.get("/dataset/{dataset_id}/exportForTraining")
def export_for_training(
    dataset_id: str, request: Request, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        rows, cursor = [], None
        while True:
            page = items.list_items(session=session, dataset=dataset, cursor=cursor, limit=MAX_PAGE)
            rows.extend(export_rows(session, page.items, urls))
            cursor = page.next_cursor
            if cursor is None:
                return {"exportedRows": rows}


# --- metadata ---------------------------------------------------------------------------


def _metadata_updates(body: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    level = body.get("level", "item")
    if level not in ("item", "scene"):
        raise Invalid("level is item or scene", field="level")
    updates: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(body_list(body, "metadata", required=True)):
        if not isinstance(entry, dict) or not isinstance(entry.get("reference_id"), str):
            raise Invalid("each entry needs a reference_id", field=f"metadata[{i}].reference_id")
        metadata = entry.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise Invalid("metadata must be an object", field=f"metadata[{i}].metadata")
        metadata = dict(metadata)
        if level == "item" and entry.get("camera_params") is not None:
            metadata["camera_params"] = entry["camera_params"]
        updates[entry["reference_id"]] = metadata
    return level, updates


def _merge(session: Any, dataset: models.Dataset, level: str, updates: dict) -> int:
    merge = scenes.merge_metadata if level == "scene" else item_metadata.merge_metadata
    return merge(session=session, dataset=dataset, updates=updates)


@importer("metadata")
def import_metadata(session, dataset, actor, lines, payload) -> dict[str, Any]:
    updated = _merge(session, dataset, payload.get("level", "item"), payload["updates"])
    return {"updated": updated}


@router.post("/dataset/{dataset_id}/metadata")
def update_metadata(
    dataset_id: str,
    body: JsonObject,
    actor: CurrentActor,
    ctx: Ctx,
    async_: Annotated[int, Query(alias="async")] = 0,
) -> dict[str, Any]:
    level, updates = _metadata_updates(body)
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        if async_:
            job = enqueue_import(
                session=session,
                actor=actor,
                what="metadata",
                dataset_id=dataset.id,
                sha256=None,
                updates=updates,
                level=level,
            )
            return job_json(job)
        updated = _merge(session, dataset, level, updates)
        return {"dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id), "updated": updated}
