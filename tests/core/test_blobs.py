"""Blob stores (local directory and S3 on a real moto server), uploads, sniffing, signatures."""

from __future__ import annotations

import gzip
import hashlib
import io
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from assay.core import blobs, keys, models
from assay.core.auth import SYSTEM
from assay.core.blobs import LocalBlobStore
from assay.core.errors import Forbidden, Invalid, NotFound, TooLarge, Unavailable
from assay.core.s3 import S3BlobStore
from assay.core.settings import Settings
from tests.support.s3 import CREDENTIALS, MotoServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
BAD_IDS = [
    "../../etc/passwd",
    "..",
    "",
    "A" * 64,
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "a" * 64 + "\n",
    "/" + "a" * 63,
    "..%2F..%2Fetc%2Fpasswd",
]


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    request.getfixturevalue("s3_env")
    return S3BlobStore.from_url(request.getfixturevalue("moto").store_url())


def spooled_file(tmp_path: Path, data: bytes) -> tuple[str, Path]:
    path = tmp_path / f"src-{hashlib.sha256(data).hexdigest()[:8]}"
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), path


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- stores ---------------------------------------------------------------------------


def test_store_round_trip_ranges_and_delete(store, tmp_path):
    data = bytes(range(256)) * 4000  # spans several read chunks on neither backend
    sha, path = spooled_file(tmp_path, data)
    assert not store.exists(sha)
    store.put_file(sha, path)
    store.put_file(sha, path)  # idempotent
    assert store.exists(sha) and store.size(sha) == len(data)
    assert b"".join(store.open(sha)) == data
    assert b"".join(store.open(sha, start=1000, length=10)) == data[1000:1010]
    assert b"".join(store.open(sha, start=len(data) - 5)) == data[-5:]
    assert b"".join(store.open(sha, start=3, length=0)) == b""
    store.delete(sha)
    assert not store.exists(sha)
    with pytest.raises(NotFound):
        store.open(sha)
    with pytest.raises(NotFound):
        store.size(sha)


def test_store_refuses_ids_that_are_not_sha256(store, tmp_path):
    _, path = spooled_file(tmp_path, b"x")
    for bad in BAD_IDS:
        for call in (
            lambda b: store.put_file(b, path),
            store.exists,
            store.open,
            store.size,
            store.delete,
        ):
            with pytest.raises(Invalid):
                call(bad)


def test_local_store_layout_is_content_addressed_without_leftovers(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    sha, path = spooled_file(tmp_path, PNG)
    store.put_file(sha, path)
    assert stored_files(tmp_path / "blobs") == [tmp_path / "blobs" / sha[:2] / sha[2:4] / sha]


def test_s3_keys_are_content_addressed_under_the_prefix(moto, s3_env, tmp_path):
    store = S3BlobStore.from_url(moto.store_url("layout/nested"))
    sha, path = spooled_file(tmp_path, PNG)
    store.put_file(sha, path)
    assert moto.keys("layout/") == [f"layout/nested/{sha[:2]}/{sha[2:4]}/{sha}"]


def test_s3_failures_are_unavailable_not_crashes(moto, s3_env, tmp_path):
    store = S3BlobStore.from_url(moto.store_url().replace(moto.bucket, "no-such-bucket", 1))
    sha, path = spooled_file(tmp_path, PNG)
    with pytest.raises(Unavailable):
        store.put_file(sha, path)


def test_open_store_chooses_the_backend_from_the_url(tmp_path, moto, s3_env):
    local = blobs.open_store(Settings(data_dir=tmp_path / "d"))
    assert isinstance(local, LocalBlobStore) and local.root == (tmp_path / "d" / "blobs")
    s3 = blobs.open_store(Settings(data_dir=tmp_path, blob_store_url=moto.store_url("p/q")))
    assert isinstance(s3, S3BlobStore) and (s3.bucket, s3.prefix) == (moto.bucket, "p/q")
    assert s3.client.meta.endpoint_url == moto.endpoint
    assert s3.client.meta.region_name == "us-east-1"
    with pytest.raises(ValueError, match="scheme"):
        blobs.open_store(Settings(data_dir=tmp_path, blob_store_url="ftp://x/y"))
    with pytest.raises(ValueError, match="unknown option"):
        blobs.open_store(Settings(data_dir=tmp_path, blob_store_url="s3://b/p?endpoint=x"))


# --- sniffing ---------------------------------------------------------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


SNIFF_CASES = [
    (PNG, "image/png", "a.png", "image/png"),
    (PNG, "text/html", "a.html", "image/png"),
    (b"\xff\xd8\xff\xe0" + bytes(40), None, "", "image/jpeg"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(20), None, "", "video/mp4"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(30), None, "", "audio/wav"),
    (b"%PDF-1.7\n%...", "application/octet-stream", "x", "application/pdf"),
    (_zip(), None, "a.zip", "application/zip"),
    (gzip.compress(b"{}\n", mtime=0), None, "a.jsonl.gz", "application/gzip"),
    (b"PAR1" + bytes(20) + b"PAR1", None, "t.parquet", blobs.PARQUET),
    (b'{"a": [1, 2]}', None, "", "application/json"),
    (b'{"a": 1}\n{"a": 2}\n', "application/x-ndjson", "", blobs.JSONL),
    (b'{"a": 1}\n{"a": 2}\n', None, "rows.jsonl", blobs.JSONL),
    (b"{not json", "application/json", "", "text/plain"),
    (b"a,b\n1,2\n", "text/csv", "", "text/csv"),
    (b"a,b\n1,2\n", None, "t.CSV", "text/csv"),
    ("héllo wörld".encode(), None, "", "text/plain"),
    (b"", None, "", "text/plain"),
    (b"<html><script>alert(1)</script></html>", "image/png", "a.png", "text/plain"),
    (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "image/svg+xml",
        "a.svg",
        "text/plain",
    ),
    (b"<html></html>", "text/html", "a.html", "text/plain"),
    (b"text\x00with nul", "text/plain", "", "application/octet-stream"),
    (b"\xc3\x28 invalid utf-8", "text/plain", "", "application/octet-stream"),
    (b"MZ\x90\x00" + bytes(100), "image/png", "", "application/x-msdownload"),
]


@pytest.mark.parametrize(
    ("data", "declared", "filename", "expected"),
    SNIFF_CASES,
    ids=[f"{i}-{case[3]}" for i, case in enumerate(SNIFF_CASES)],
)
def test_sniffed_type_comes_from_the_bytes(tmp_path, data, declared, filename, expected):
    spooled = blobs.spool_stream(io.BytesIO(data), limit=1 << 20, spool_dir=tmp_path)
    assert spooled.sha256 == hashlib.sha256(data).hexdigest() and spooled.size == len(data)
    sniffed = blobs.sniff_content_type(spooled, declared_type=declared, filename=filename)
    assert sniffed == expected
    assert "html" not in sniffed and "svg" not in sniffed


def test_utf8_split_across_chunks_is_still_text(tmp_path):
    data = b"a" * (blobs.CHUNK - 1) + "é".encode() * 10
    spooled = blobs.spool_stream(io.BytesIO(data), limit=len(data), spool_dir=tmp_path)
    assert spooled.utf8_text
    assert len(spooled.head) == blobs.SNIFF_BYTES


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("a\r\nSet-Cookie: x.png", "aSet-Cookie: x.png"),
        ("..", ""),
        (None, ""),
        ("x" * 300 + ".png", "x" * 255),
    ],
)
def test_filenames_are_metadata_not_paths(given, kept):
    assert blobs.clean_filename(given) == kept


def test_only_media_renders_inline():
    assert all(
        blobs.is_inline(t) for t in ("image/png", "video/mp4", "audio/wav", "application/pdf")
    )
    assert not any(
        blobs.is_inline(t)
        for t in ("text/plain", "application/json", "image/svg+xml", "application/zip")
    )


# --- signatures -------------------------------------------------------------------------

SECRET = "s" * 40
SHA = hashlib.sha256(b"x").hexdigest()


def _query(url: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))


def test_signed_urls_verify_until_they_expire():
    now = time.time()
    signed = blobs.signed_media_url(sha256=SHA, secret=SECRET, ttl_seconds=60, now=now)
    assert signed.url.startswith(f"/media/{SHA}?")
    q = _query(signed.url)
    assert int(signed.expires_at.timestamp()) == int(q["exp"])
    assert (
        blobs.verify_media_signature(sha256=SHA, exp=q["exp"], sig=q["sig"], secret=SECRET, now=now)
        == 60
    )
    with pytest.raises(Forbidden, match="expired"):
        blobs.verify_media_signature(
            sha256=SHA, exp=q["exp"], sig=q["sig"], secret=SECRET, now=now + 61
        )


def test_tampered_signatures_are_forbidden():
    q = _query(blobs.signed_media_url(sha256=SHA, secret=SECRET, ttl_seconds=60).url)
    other = hashlib.sha256(b"y").hexdigest()
    flipped = ("0" if q["sig"][0] != "0" else "1") + q["sig"][1:]
    for sha, exp, sig, secret in [
        (SHA, q["exp"], flipped, SECRET),
        (SHA, str(int(q["exp"]) + 3600), q["sig"], SECRET),
        (other, q["exp"], q["sig"], SECRET),
        (SHA, q["exp"], q["sig"], "another-secret-" * 3),
        (SHA, q["exp"], q["sig"].upper(), SECRET),
        (SHA, q["exp"], "é" * 64, SECRET),
        (SHA, None, q["sig"], SECRET),
        (SHA, q["exp"], None, SECRET),
        (SHA, "-1", q["sig"], SECRET),
        (SHA, "1e10", q["sig"], SECRET),
        (SHA, "٣" * 5, q["sig"], SECRET),
    ]:
        with pytest.raises(Forbidden):
            blobs.verify_media_signature(sha256=sha, exp=exp, sig=sig, secret=secret)
    with pytest.raises(Invalid):
        blobs.verify_media_signature(sha256="../x", exp=q["exp"], sig=q["sig"], secret=SECRET)


# --- the upload service (SQLite and PostgreSQL) ------------------------------------------


@pytest.fixture
def actor(db, accounts):
    account = accounts.make("labeler")
    with db.read() as session:
        return keys.resolve_key(session=session, raw_key=account.key)


def upload(
    db,
    store,
    data: bytes,
    *,
    filename="a.png",
    declared="image/png",
    actor=None,
    limit=1 << 20,
    spool_dir=None,
) -> models.Blob:
    with db.write() as session:
        return blobs.store_upload(
            session=session,
            store=store,
            stream=io.BytesIO(data),
            filename=filename,
            declared_type=declared,
            actor=actor,
            limit=limit,
            spool_dir=spool_dir,
        )


def blob_rows(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(models.Blob))


def test_upload_records_sniffed_metadata_and_dedupes(db, ctx, actor):
    first = upload(db, ctx.blobs, PNG, filename="../../cat.png", declared="text/html", actor=actor)
    assert (first.sha256, first.size) == (hashlib.sha256(PNG).hexdigest(), len(PNG))
    assert (first.content_type, first.filename, first.created_by) == (
        "image/png",
        "cat.png",
        actor.user_id,
    )
    assert b"".join(ctx.blobs.open(first.sha256)) == PNG
    again = upload(db, ctx.blobs, PNG, filename="other.png", actor=actor)
    assert (again.sha256, again.filename, again.created_at) == (
        first.sha256,
        "cat.png",
        first.created_at,
    )
    assert blob_rows(db) == 1


def test_upload_restores_bytes_missing_from_the_store(db, ctx, actor):
    blob = upload(db, ctx.blobs, PNG, actor=actor)
    ctx.blobs.delete(blob.sha256)
    upload(db, ctx.blobs, PNG, actor=actor)
    assert b"".join(ctx.blobs.open(blob.sha256)) == PNG


def test_too_large_and_refused_uploads_leave_nothing_behind(db, ctx, actor, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    with pytest.raises(TooLarge) as too_large:
        upload(db, ctx.blobs, PNG, limit=len(PNG) - 1, actor=actor, spool_dir=spool)
    assert too_large.value.field == "file"
    with pytest.raises(Invalid) as refused:
        upload(db, ctx.blobs, b"\x00\x01binary", actor=actor, spool_dir=spool)
    assert refused.value.field == "file"
    assert blob_rows(db) == 0
    assert stored_files(ctx.blobs.root) == [] and list(spool.iterdir()) == []
    exactly = upload(db, ctx.blobs, PNG, limit=len(PNG), actor=actor, spool_dir=spool)
    assert exactly.size == len(PNG)


def test_no_row_when_the_store_write_fails(db, actor, moto, s3_env):
    broken = S3BlobStore.from_url(moto.store_url().replace(moto.bucket, "no-such-bucket", 1))
    with pytest.raises(Unavailable):
        upload(db, broken, PNG, actor=actor)
    assert blob_rows(db) == 0


class _WriterDuringRead(io.BytesIO):
    """An upload stream that takes the database write lock from another connection while
    it is being read; that only works if the upload does not hold the lock meanwhile."""

    def __init__(self, data: bytes, db) -> None:
        super().__init__(data)
        self.db = db
        self.writes = 0

    def read(self, size: int | None = -1) -> bytes:
        if self.db.dialect == "sqlite":
            other = sqlite3.connect(self.db.engine.url.database, timeout=2, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            finally:
                other.close()
        else:
            with self.db.write() as session:
                session.execute(text("SELECT 1"))
        self.writes += 1
        return super().read(size)


def test_upload_holds_no_database_lock_while_streaming(db, ctx, actor):
    stream = _WriterDuringRead(PNG, db)
    with db.write() as session:
        blob = blobs.store_upload(
            session=session,
            store=ctx.blobs,
            stream=stream,
            filename="a.png",
            declared_type=None,
            actor=actor,
            limit=1 << 20,
        )
    assert stream.writes >= 1 and blob.content_type == "image/png"


def test_system_actor_records_no_creator(db, ctx):
    assert upload(db, ctx.blobs, PNG, actor=SYSTEM).created_by is None
