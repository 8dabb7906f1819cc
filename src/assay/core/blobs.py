"""Content-addressed blobs: stores (local directory, S3), uploads, signed media URLs.

A blob is named by the sha256 of its bytes. That name is the only thing ever turned into a
storage path or key, and only after `check_sha256`, so no client input reaches the filesystem.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol
from urllib.parse import unquote, urlparse

import filetype
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import blob_refs, dialects, models
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Forbidden, Invalid, NotFound, TooLarge
from assay.core.settings import Settings

SHA256_RE = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024
SNIFF_BYTES = 8192  # `filetype` looks at no more than this many leading bytes
JSON_SNIFF_MAX_BYTES = 16 * 1024 * 1024


def check_sha256(value: str) -> str:
    if not isinstance(value, str) or not SHA256_RE.fullmatch(value):
        raise Invalid("blob ids are 64 lowercase hex characters (a sha256)", field="sha256")
    return value


# --- stores -----------------------------------------------------------------------------


class BlobStore(Protocol):
    """Stores immutable bytes under their sha256.

    `put_file` returns only once the bytes are durable and is a no-op for a blob already
    stored; `open` raises NotFound before yielding anything if the blob is missing.
    """

    def put_file(self, sha256: str, path: Path) -> None: ...
    def exists(self, sha256: str) -> bool: ...
    def open(
        self, sha256: str, *, start: int = 0, length: int | None = None
    ) -> Iterator[bytes]: ...
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
        if target.is_file():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Durable before we acknowledge: fsync the data, rename atomically, fsync the
        # directories so the new names survive a power cut too.
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
        for directory in (target.parent, target.parent.parent, self.root):
            _fsync_dir(directory)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str, *, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._existing(sha256)

        def chunks() -> Iterator[bytes]:
            remaining = length
            with open(path, "rb") as f:
                f.seek(start)
                while remaining is None or remaining > 0:
                    chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
                    if not chunk:
                        return
                    if remaining is not None:
                        remaining -= len(chunk)
                    yield chunk

        return chunks()

    def size(self, sha256: str) -> int:
        return self._existing(sha256).stat().st_size

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def _existing(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFound(f"no stored bytes for blob {sha256}", field="sha256")
        return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_backends: dict[str, Callable[[str, Settings], BlobStore]] = {}


def register_backend(scheme: str, factory: Callable[[str, Settings], BlobStore]) -> None:
    """Make `ASSAY_BLOB_STORE_URL=<scheme>://…` open a store built by `factory(url, settings)`."""
    _backends[scheme] = factory


def _open_local(url: str, _settings: Settings) -> BlobStore:
    return LocalBlobStore(Path(unquote(urlparse(url).path)))


def _open_s3(url: str, _settings: Settings) -> BlobStore:
    from assay.core.s3 import S3BlobStore  # boto3 is an optional extra

    return S3BlobStore.from_url(url)


register_backend("file", _open_local)
register_backend("s3", _open_s3)


def open_store(settings: Settings) -> BlobStore:
    url = settings.resolved_blob_store_url
    scheme = urlparse(url).scheme
    if scheme not in _backends:
        raise ValueError(
            f"ASSAY_BLOB_STORE_URL scheme {scheme!r} is not one of {sorted(_backends)}"
        )
    return _backends[scheme](url, settings)


# --- spooling ---------------------------------------------------------------------------


@dataclass
class Spooled:
    """An upload copied to a private temp file, with what we learned while copying it."""

    path: Path
    sha256: str
    size: int
    head: bytes
    utf8_text: bool  # valid UTF-8 throughout, with no NUL bytes


def _copy_hashing(
    stream: BinaryIO, spool: BinaryIO, *, limit: int, observe: Callable[[bytes], None] | None = None
) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"file is larger than the limit of {limit} bytes", field="file")
        digest.update(chunk)
        spool.write(chunk)
        if observe is not None:
            observe(chunk)
    spool.flush()
    return digest.hexdigest(), size


def hash_stream(stream: BinaryIO, spool: BinaryIO, *, limit: int) -> tuple[str, int]:
    """Copy `stream` into `spool`, returning (sha256, size); TooLarge past `limit` bytes."""
    return _copy_hashing(stream, spool, limit=limit)


def spool_stream(stream: BinaryIO, *, limit: int, spool_dir: Path | None = None) -> Spooled:
    """Copy `stream` to a temp file while hashing it; the caller deletes `Spooled.path`."""
    head = bytearray()
    decoder = codecs.getincrementaldecoder("utf-8")()
    text = True

    def observe(chunk: bytes) -> None:
        nonlocal text
        if len(head) < SNIFF_BYTES:
            head.extend(chunk[: SNIFF_BYTES - len(head)])
        if text:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                text = False
            else:
                text = b"\x00" not in chunk

    fd, name = tempfile.mkstemp(prefix="assay-upload-", dir=spool_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as spool:
            sha256, size = _copy_hashing(stream, spool, limit=limit, observe=observe)
        if text:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                text = False
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path=path, sha256=sha256, size=size, head=bytes(head), utf8_text=text)


# --- content types ----------------------------------------------------------------------

PARQUET = "application/vnd.apache.parquet"
JSONL = "application/jsonl"

# fmt: off
_allowed_types: set[str] = {
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff",
    "image/avif", "image/heic",
    "video/mp4", "video/webm", "video/quicktime", "video/x-matroska", "video/mpeg",
    "video/x-msvideo",
    "audio/mpeg", "audio/ogg", "audio/wav", "audio/flac", "audio/aac", "audio/mp4",
    "application/pdf", "application/zip", "application/gzip", "application/x-tar", PARQUET,
    "text/plain", "text/csv", "text/tab-separated-values", "text/markdown",
    "application/json", JSONL,
}
# fmt: on
# `filetype` names a few formats by legacy or non-standard types.
_CANONICAL = {
    "audio/x-wav": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/m4a": "audio/mp4",
    "video/x-m4v": "video/mp4",
}
# Text is text; the declared type or the extension only says which kind of text.
_TEXT_BY_DECLARED = {
    "text/csv": "text/csv",
    "text/tab-separated-values": "text/tab-separated-values",
    "text/markdown": "text/markdown",
    JSONL: JSONL,
    "application/x-ndjson": JSONL,
    "application/x-jsonlines": JSONL,
}
_TEXT_BY_EXTENSION = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".md": "text/markdown",
    ".jsonl": JSONL,
    ".ndjson": JSONL,
}
_INLINE_TYPES = frozenset({"application/pdf"})

Sniffer = Callable[[bytes], str | None]
_sniffers: list[Sniffer] = []


def register_sniffer(sniffer: Sniffer) -> Sniffer:
    """Add a magic-bytes detector `fn(head) -> content type | None`; first answer wins."""
    _sniffers.append(sniffer)
    return sniffer


def allow_content_type(content_type: str) -> None:
    """Accept uploads whose sniffed type is `content_type` (plugins add formats here)."""
    _allowed_types.add(content_type)


def is_accepted(content_type: str) -> bool:
    """Whether uploads of this (sniffed) type are accepted."""
    return content_type in _allowed_types


@register_sniffer
def _sniff_with_filetype(head: bytes) -> str | None:
    kind = filetype.guess(head)
    return _CANONICAL.get(kind.mime, kind.mime) if kind else None


@register_sniffer
def _sniff_parquet(head: bytes) -> str | None:
    return PARQUET if head.startswith(b"PAR1") else None


def _looks_like_json(path: Path, head: bytes, size: int) -> bool:
    if size > JSON_SNIFF_MAX_BYTES or head.lstrip()[:1] not in (b"{", b"["):
        return False
    try:
        json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        return False
    return True


def sniff_content_type(spooled: Spooled, *, declared_type: str | None, filename: str) -> str:
    """The type the bytes really are; the declared type only chooses among kinds of text."""
    for sniffer in _sniffers:
        found = sniffer(spooled.head)
        if found:
            return found
    if not spooled.utf8_text:
        return "application/octet-stream"
    declared = (declared_type or "").partition(";")[0].strip().lower()
    text_kind = _TEXT_BY_DECLARED.get(declared) or _TEXT_BY_EXTENSION.get(
        Path(filename).suffix.lower()
    )
    if text_kind:
        return text_kind
    if _looks_like_json(spooled.path, spooled.head, spooled.size):
        return "application/json"
    return "text/plain"


def is_inline(content_type: str) -> bool:
    """Media a browser may render in place; everything else is served as a download."""
    major = content_type.partition("/")[0]
    return content_type in _INLINE_TYPES or (
        major in ("image", "video", "audio") and "svg" not in content_type
    )


def clean_filename(filename: str | None) -> str:
    """The last path component, without control characters; metadata only, never a path."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return "" if name in (".", "..") else name[:255]


# --- services ---------------------------------------------------------------------------


def store_upload(
    *,
    session: Session,
    store: BlobStore,
    stream: BinaryIO,
    filename: str | None,
    declared_type: str | None,
    actor: Actor | None,
    limit: int,
    spool_dir: Path | None = None,
) -> models.Blob:
    """Store uploaded bytes and record them; identical bytes return the existing row.

    The bytes are spooled, sniffed and made durable in the store before the first
    statement runs on `session`, so a write transaction (which begins lazily) holds no
    lock while a large file streams in, and no row ever points at bytes we don't have.
    """
    spooled = spool_stream(stream, limit=limit, spool_dir=spool_dir)
    try:
        name = clean_filename(filename)
        content_type = sniff_content_type(spooled, declared_type=declared_type, filename=name)
        if not is_accepted(content_type):
            raise Invalid(
                f"files of type {content_type} are not accepted; accepted types: "
                f"{', '.join(sorted(_allowed_types))}",
                field="file",
            )
        store.put_file(spooled.sha256, spooled.path)
    finally:
        spooled.path.unlink(missing_ok=True)
    return record_blob(
        session=session,
        sha256=spooled.sha256,
        size=spooled.size,
        content_type=content_type,
        filename=name,
        actor=actor,
    )


class StoredBlob(NamedTuple):
    """Bytes already durable in the store, to be recorded (`record_blobs`)."""

    sha256: str
    size: int
    content_type: str
    filename: str


def record_blobs(*, session: Session, stored: Sequence[StoredBlob], actor: Actor | None) -> None:
    """Insert the rows of stored bytes unless they exist (a concurrent upload may win), and
    let the uploader read them: one executemany per statement, whatever their number."""
    if not stored:
        return
    created_by = actor.user_id if actor and actor.via != "system" else None
    now = utcnow()
    rows = [
        {
            "sha256": check_sha256(blob.sha256),
            "size": blob.size,
            "content_type": blob.content_type,
            "filename": blob.filename,
            "created_by": created_by,
            "created_at": now,
        }
        for blob in stored
    ]
    dialect = session.get_bind().dialect.name
    session.execute(
        dialects.insert(models.Blob.__table__, dialect).on_conflict_do_nothing(
            index_elements=["sha256"]
        ),
        rows,
    )
    if created_by is not None:
        # Each uploader of the same bytes may read them, not only the first.
        blob_refs.add_refs(
            session=session,
            sha256s=[blob.sha256 for blob in stored],
            scope=blob_refs.USER,
            scope_id=created_by,
        )


def record_blob(
    *,
    session: Session,
    sha256: str,
    size: int,
    content_type: str,
    filename: str,
    actor: Actor | None,
) -> models.Blob:
    """Record stored bytes (`record_blobs`) and return their row."""
    record_blobs(
        session=session, stored=[StoredBlob(sha256, size, content_type, filename)], actor=actor
    )
    return session.execute(
        select(models.Blob)
        .where(models.Blob.sha256 == sha256)
        .execution_options(populate_existing=True)
    ).scalar_one()


def get_blob(*, session: Session, sha256: str) -> models.Blob:
    blob = session.get(models.Blob, check_sha256(sha256))
    if blob is None:
        raise NotFound(f"no blob {sha256}", field="sha256")
    return blob


# --- signed media URLs ------------------------------------------------------------------


class SignedUrl(NamedTuple):
    url: str
    expires_at: dt.datetime


def _media_signature(secret: str, sha256: str, exp: int) -> str:
    message = f"assay-media:v1:{sha256}:{exp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_media_url(
    *, sha256: str, secret: str, ttl_seconds: int, now: float | None = None
) -> SignedUrl:
    """A relative `/media/<sha256>?exp=…&sig=…` URL; the signature is the credential."""
    check_sha256(sha256)
    exp = int(now if now is not None else time.time()) + ttl_seconds
    sig = _media_signature(secret, sha256, exp)
    return SignedUrl(f"/media/{sha256}?exp={exp}&sig={sig}", dt.datetime.fromtimestamp(exp, dt.UTC))


def verify_media_signature(
    *, sha256: str, exp: str | None, sig: str | None, secret: str, now: float | None = None
) -> int:
    """Seconds the URL stays valid; Forbidden for a missing, wrong or expired signature."""
    check_sha256(sha256)
    if not exp or not sig or not exp.isascii() or not exp.isdigit() or len(exp) > 12:
        raise Forbidden(
            "media URLs need a valid `exp` and `sig`; ask the API for a new URL "
            "(POST /api/v1/blobs/{sha256}/url)"
        )
    expected = _media_signature(secret, sha256, int(exp))
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        raise Forbidden("media URL signature does not match; ask the API for a new URL")
    remaining = int(exp) - int(now if now is not None else time.time())
    if remaining <= 0:
        raise Forbidden("media URL has expired; ask the API for a new URL")
    return remaining
