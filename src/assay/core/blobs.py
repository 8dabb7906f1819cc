"""Content-addressed blob storage behind one interface (local directory or S3)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from assay.core.errors import Invalid, NotFound
from assay.core.settings import Settings

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


def check_sha256(value: str) -> str:
    if not SHA256_RE.fullmatch(value):
        raise Invalid("blob ids are 64 lowercase hex characters (a sha256)", field="sha256")
    return value


class BlobStore(Protocol):
    """Stores immutable bytes under their sha256."""

    def put_file(self, sha256: str, path: Path) -> None: ...
    def exists(self, sha256: str) -> bool: ...
    def open(self, sha256: str) -> Iterator[bytes]: ...
    def size(self, sha256: str) -> int: ...
    def delete(self, sha256: str) -> None: ...


class LocalBlobStore:
    """Files under root/ab/cd/<sha256>; paths come only from validated hex digests."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_file(self, sha256: str, path: Path) -> None:
        target = self.path_for(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Durable before we acknowledge: fsync the data, then rename atomically.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> Iterator[bytes]:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFound(f"no blob {sha256}", field="sha256")

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk

        return chunks()

    def size(self, sha256: str) -> int:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFound(f"no blob {sha256}", field="sha256")
        return path.stat().st_size

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)


_backends: dict[str, Callable[[str, Settings], BlobStore]] = {}


def register_backend(scheme: str, factory: Callable[[str, Settings], BlobStore]) -> None:
    _backends[scheme] = factory


register_backend("file", lambda url, _s: LocalBlobStore(Path(unquote(urlparse(url).path))))


def open_store(settings: Settings) -> BlobStore:
    url = settings.resolved_blob_store_url
    scheme = urlparse(url).scheme
    if scheme not in _backends:
        raise ValueError(f"ASSAY_BLOB_STORE_URL scheme {scheme!r} is not one of "
                         f"{sorted(_backends)}")
    return _backends[scheme](url, settings)


def hash_stream(stream: BinaryIO, spool: BinaryIO, *, limit: int) -> tuple[str, int]:
    """Copy `stream` into `spool`, returning (sha256, size); Invalid past `limit` bytes."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise Invalid(f"file is larger than the limit of {limit} bytes", field="file")
        digest.update(chunk)
        spool.write(chunk)
    spool.flush()
    return digest.hexdigest(), size
