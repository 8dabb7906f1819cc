"""`client.blobs`: files (images, audio, documents) stored once per content."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from assay.sdk._api.blobs import BlobsAPI
from assay.sdk._http import HTTP
from assay.sdk.models import Blob, BlobUrl


class Blobs:
    def __init__(self, http: HTTP) -> None:
        self._http = http
        self._api = BlobsAPI(http)

    def upload(
        self,
        file: str | os.PathLike[str] | bytes | IO[bytes],
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> Blob:
        """Upload a path, bytes or a binary file object; the same bytes are stored once.

        The stored content type is sniffed from the bytes by the server.
        """
        if isinstance(file, str | os.PathLike):
            path = Path(file)
            with path.open("rb") as handle:
                return self._send(handle, filename or path.name, content_type)
        if isinstance(file, bytes):
            return self._send(file, filename or "upload", content_type)
        name = filename or Path(str(getattr(file, "name", "upload"))).name
        return self._send(file, name, content_type)

    def _send(self, content: bytes | IO[bytes], filename: str, content_type: str | None) -> Blob:
        part = (filename, content, content_type or "application/octet-stream")
        return self._api.upload(files={"file": part})

    def get(self, sha256: str) -> Blob:
        """A blob's metadata."""
        return self._api.get(sha256=sha256)

    def url(self, sha256: str) -> BlobUrl:
        """A short-lived absolute URL that serves the bytes with no API key (for <img src>)."""
        signed = self._api.url(sha256=sha256)
        return signed.model_copy(update={"url": str(self._http.client.base_url.join(signed.url))})

    def download(self, sha256: str) -> bytes:
        """The blob's bytes."""
        return self._http.request("GET", self.url(sha256).url).content
