"""GET /media/{sha256}?exp=…&sig=…: blob bytes behind a signed URL, so <img src> works.

The signature is the credential (no Authorization header). Responses are hardened against
uploaded content being run as a page: nosniff, a sandbox CSP, and downloads for anything a
browser should not render in place.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response, StreamingResponse

from assay.api.deps import Ctx
from assay.api.errors import error_body
from assay.api.json_body import JsonRoute
from assay.core import blobs, models

router = APIRouter(tags=["media"], route_class=JsonRoute)

_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_TEXT_TYPES = ("application/json", blobs.JSONL)


@router.get(
    "/media/{sha256}",
    operation_id="get_media",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "The requested byte range"},
        403: {"description": "Missing, wrong or expired signature"},
    },
)
def get_media(
    sha256: str,
    ctx: Ctx,
    exp: str | None = None,
    sig: str | None = None,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    remaining = blobs.verify_media_signature(
        sha256=sha256, exp=exp, sig=sig, secret=ctx.settings.secret_key.get_secret_value()
    )
    with ctx.db.read() as session:
        blob = blobs.get_blob(session=session, sha256=sha256)
    headers = _media_headers(blob, remaining)
    wanted = _parse_range(range_header, blob.size)
    if wanted == "unsatisfiable":
        return JSONResponse(
            error_body("range_not_satisfiable", f"the blob has {blob.size} bytes"),
            416,
            headers={"Content-Range": f"bytes */{blob.size}"},
        )
    if wanted is None:
        start, length, status = 0, blob.size, 200
    else:
        start, end = wanted
        length, status = end - start + 1, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    headers["Content-Length"] = str(length)
    chunks = ctx.blobs.open(sha256, start=start, length=length if status == 206 else None)
    return StreamingResponse(
        chunks, status_code=status, media_type=_media_type(blob), headers=headers
    )


def _media_type(blob: models.Blob) -> str:
    if blob.content_type.startswith("text/") or blob.content_type in _TEXT_TYPES:
        return f"{blob.content_type}; charset=utf-8"
    return blob.content_type


def _media_headers(blob: models.Blob, remaining: int) -> dict[str, str]:
    disposition = "inline" if blobs.is_inline(blob.content_type) else "attachment"
    name = blob.filename or blob.sha256
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", name)
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": f"private, max-age={remaining}",
        "Content-Disposition": (
            f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
        ),
        "Referrer-Policy": "no-referrer",
        "Accept-Ranges": "bytes",
        "ETag": f'"{blob.sha256}"',
    }


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """One `bytes=` range as (first, last); None means the whole blob. Multi-range and
    malformed headers are ignored, as RFC 9110 allows."""
    match = _RANGE_RE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    if size == 0:
        return "unsatisfiable"
    first, last = match.groups()
    if first == "":  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            return "unsatisfiable"
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, end
