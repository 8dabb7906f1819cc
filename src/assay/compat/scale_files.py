"""Scale's file endpoints: uploads stored as blobs, and imports fetched from a URL.

An import is fetched inside the request (Scale's API answers with the file object), bounded by
the upload size limit and the webhook timeout, and only from URLs the webhook allow/deny lists
permit, checked again on every redirect.
"""

from __future__ import annotations

import tempfile
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from assay.api.context import AppContext
from assay.core import blobs, models
from assay.core.auth import Actor
from assay.core.errors import Invalid, TooLarge
from assay.core.urlcheck import check_url

MAX_REDIRECTS = 5
USER_AGENT = "assay-file-import"


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


def _checked(url: str, ctx: AppContext) -> None:
    try:
        check_url(url, ctx.settings)
    except Invalid as exc:
        raise Invalid(
            f"{exc.message} (file imports follow the webhook URL rules)", field="file_url"
        ) from None


def import_url(ctx: AppContext, actor: Actor, url: str) -> models.Blob:
    """Fetch `url` into a spool file, then store it like an upload."""
    limit = ctx.settings.max_upload_bytes
    with tempfile.TemporaryFile() as spool:
        content_type = _download(ctx, url, spool, limit)
        spool.seek(0)
        name = PurePosixPath(urlsplit(url).path).name or "import"
        return store(ctx, actor, spool, filename=name, content_type=content_type)


def _download(ctx: AppContext, url: str, spool: BinaryIO, limit: int) -> str | None:
    # trust_env=False: no proxy from the environment, so the request goes to the address the
    # allow/deny check just approved; redirects are followed by hand to check each hop.
    with httpx.Client(
        timeout=ctx.settings.webhook_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            _checked(url, ctx)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise Invalid(
                            f"fetching {url} answered HTTP {response.status_code}",
                            field="file_url",
                        )
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise TooLarge(
                                f"the file at {url} is larger than the upload limit of "
                                f"{limit} bytes",
                                field="file_url",
                            )
                        spool.write(chunk)
                    return response.headers.get("content-type", "").split(";")[0] or None
            except httpx.HTTPError as exc:
                raise Invalid(f"could not fetch {url}: {exc}", field="file_url") from exc
    raise Invalid(f"more than {MAX_REDIRECTS} redirects fetching the file", field="file_url")
