"""Scale's file endpoints: uploads stored as blobs, and imports fetched from a URL.

Scale's client reads the file object (`id`, `attachment_url`) from the import's answer, so the
fetch happens inside the request, through `core.outbound` (the policy that guards every
outbound request, each redirect checked again), within `file_import_timeout_seconds` in all
and `max_upload_bytes` of body. Whatever fails is a 4xx naming `file_url`, in our words.
"""

from __future__ import annotations

import tempfile
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

from assay.api.context import AppContext
from assay.core import blobs, models, outbound
from assay.core.auth import Actor
from assay.core.errors import Invalid

MAX_REDIRECTS = 5
USER_AGENT = "assay-file-import"
FIELD = "file_url"


def store(
    ctx: AppContext,
    actor: Actor,
    stream: BinaryIO,
    *,
    filename: str | None,
    content_type: str | None,
) -> models.Blob:
    spool_dir = ctx.settings.data_dir / "spool"
    spool_dir.mkdir(parents=True, exist_ok=True)
    with ctx.db.write() as session:
        return blobs.store_upload(
            session=session,
            store=ctx.blobs,
            stream=stream,
            filename=filename,
            declared_type=content_type,
            actor=actor,
            limit=ctx.settings.max_upload_bytes,
            spool_dir=spool_dir,
        )


def import_url(ctx: AppContext, actor: Actor, url: str) -> models.Blob:
    """Fetch `url` into a spool file, then store it like an upload."""
    with tempfile.TemporaryFile() as spool:
        content_type = _download(ctx, url, spool)
        spool.seek(0)
        name = PurePosixPath(urlsplit(url).path).name or "import"
        return store(ctx, actor, spool, filename=name, content_type=content_type)


def _download(ctx: AppContext, url: str, spool: BinaryIO) -> str | None:
    with outbound.stream(
        url,
        policy=outbound.Policy.from_settings(ctx.settings),
        headers={"User-Agent": USER_AGENT},
        timeout=ctx.settings.file_import_timeout_seconds,
        max_bytes=ctx.settings.max_upload_bytes,
        max_redirects=MAX_REDIRECTS,
        field=FIELD,
    ) as response:
        if response.status_code != 200:
            raise Invalid(
                f"could not fetch the URL: it answered HTTP {response.status_code}, not 200",
                field=FIELD,
            )
        for chunk in response.iter_bytes():
            spool.write(chunk)
        return response.content_type
