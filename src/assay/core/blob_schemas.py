"""Wire schemas of blobs: `Blob` out, `BlobUrl` for signed media URLs."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from assay.core.schemas import Schema


class Blob(Schema):
    sha256: str = Field(description="sha256 of the bytes; the blob's id.")
    size: int = Field(description="Size in bytes.")
    content_type: str = Field(
        description="Sniffed from the bytes, not taken from the client's declaration."
    )
    filename: str = Field(description="Name given at the first upload of these bytes.")
    created_at: dt.datetime


class BlobUrl(Schema):
    url: str = Field(
        description="Relative URL that serves the bytes without further authentication "
        "until `expires_at` (usable in <img src>)."
    )
    expires_at: dt.datetime
