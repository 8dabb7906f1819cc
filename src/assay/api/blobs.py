"""Blob upload, metadata and signed media URLs under /api/v1/blobs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assay.api.context import AppContext
from assay.api.deps import Ctx, CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.core import blob_refs, blobs
from assay.core.auth import Actor
from assay.core.blob_schemas import Blob, BlobUrl
from assay.core.errors import Invalid
from assay.core.policies import blobs as policy

router = APIRouter(tags=["blobs"], route_class=JsonRoute)

_MULTIPART_FILE = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "/blobs",
    status_code=201,
    response_model=Blob,
    operation_id="create_blob",
    openapi_extra=_MULTIPART_FILE,
    summary="Upload a file (multipart field `file`); identical bytes are stored once",
)
async def create_blob(request: Request, actor: CurrentActor, ctx: Ctx) -> Blob:
    # The body is parsed here, after authentication, so anonymous callers cannot make the
    # server spool large uploads.
    policy.can_upload(actor)
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("send the file as the multipart/form-data field `file`", field="file")
        return await run_in_threadpool(_store, ctx, actor, upload)


def _store(ctx: AppContext, actor: Actor, upload: UploadFile) -> Blob:
    spool_dir = ctx.settings.data_dir / "spool"
    spool_dir.mkdir(parents=True, exist_ok=True)
    with ctx.db.write() as session:
        blob = blobs.store_upload(
            session=session,
            store=ctx.blobs,
            stream=upload.file,
            filename=upload.filename,
            declared_type=upload.content_type,
            actor=actor,
            limit=ctx.settings.max_upload_bytes,
            spool_dir=spool_dir,
        )
        return Blob.model_validate(blob)


@router.get("/blobs/{sha256}", response_model=Blob, operation_id="get_blob")
def get_blob(sha256: str, actor: CurrentActor, db: Db) -> Blob:
    with db.read() as session:
        blob = blobs.get_blob(session=session, sha256=sha256)
        policy.can_read(actor, blob, blob_refs.may_read(session=session, actor=actor, blob=blob))
        return Blob.model_validate(blob)


@router.post(
    "/blobs/{sha256}/url",
    response_model=BlobUrl,
    operation_id="create_blob_url",
    summary="A short-lived URL that serves the bytes without an Authorization header",
)
def create_blob_url(sha256: str, actor: CurrentActor, ctx: Ctx) -> BlobUrl:
    with ctx.db.read() as session:
        blob = blobs.get_blob(session=session, sha256=sha256)
        policy.can_read(actor, blob, blob_refs.may_read(session=session, actor=actor, blob=blob))
    signed = blobs.signed_media_url(
        sha256=blob.sha256,
        secret=ctx.settings.secret_key.get_secret_value(),
        ttl_seconds=ctx.settings.media_url_ttl_seconds,
    )
    return BlobUrl(url=signed.url, expires_at=signed.expires_at)
