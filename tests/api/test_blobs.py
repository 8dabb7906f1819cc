"""The blob API and /media: round trips on local and S3 stores, limits, traversal, signatures."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assay.api.app import build_context, create_app
from assay.api.context import AppContext
from assay.core import blobs, models
from tests.support import aio
from tests.support.s3 import CREDENTIALS, MotoServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class BlobEnv:
    """A server (in process) over one blob store, and a way to list what that store holds."""

    client: TestClient
    ctx: AppContext
    stored: Callable[[], list[str]]

    def rows(self) -> int:
        with self.ctx.db.read() as session:
            return session.scalar(select(func.count()).select_from(models.Blob))


@pytest.fixture
def make_env(request, settings, monkeypatch) -> Iterator[Callable[..., BlobEnv]]:
    """`make_env("local" | "s3", **settings_overrides)`, on this test's database."""
    opened: list[tuple[TestClient, AppContext]] = []

    def make(kind: str = "local", **overrides: Any) -> BlobEnv:
        if kind == "s3":
            moto: MotoServer = request.getfixturevalue("moto")
            for name, value in CREDENTIALS.items():
                monkeypatch.setenv(name, value)
            prefix = f"api-{len(opened)}-{os.urandom(6).hex()}"
            overrides["blob_store_url"] = moto.store_url(prefix)

            def stored() -> list[str]:
                return moto.keys(prefix + "/")
        else:
            root = settings.data_dir / "blobs"

            def stored() -> list[str]:
                return sorted(str(p) for p in root.rglob("*") if p.is_file())

        ctx = build_context(settings.model_copy(update=overrides))
        client = TestClient(
            create_app(context=ctx, migrate_on_start=False, run_workers=False),
            raise_server_exceptions=False,
        )
        client.__enter__()
        opened.append((client, ctx))
        return BlobEnv(client, ctx, stored)

    yield make
    for client, ctx in opened:
        client.__exit__(None, None, None)
        ctx.db.dispose()


@pytest.fixture(params=["local", "s3"])
def env(request, make_env) -> BlobEnv:
    return make_env(request.param)


def post_file(
    env: BlobEnv, account, data: bytes, name: str = "cat.png", declared: str = "image/png"
):
    return env.client.post(
        "/api/v1/blobs", files={"file": (name, data, declared)}, headers=account.headers
    )


def media_url(env: BlobEnv, account, sha256: str) -> str:
    response = env.client.post(f"/api/v1/blobs/{sha256}/url", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()["url"]


def test_upload_metadata_signed_url_download_round_trip(env, accounts):
    labeler = accounts.make("labeler")
    created = post_file(env, labeler, PNG, name="../../holiday/cat.png")
    assert created.status_code == 201, created.text
    sha = hashlib.sha256(PNG).hexdigest()
    body = created.json()
    assert body["sha256"] == sha and body["size"] == len(PNG)
    assert (body["content_type"], body["filename"]) == ("image/png", "cat.png")
    assert env.client.get(f"/api/v1/blobs/{sha}", headers=labeler.headers).json() == body
    assert len(env.stored()) == 1

    signed = env.client.post(f"/api/v1/blobs/{sha}/url", headers=labeler.headers).json()
    assert signed["url"].startswith(f"/media/{sha}?exp=")
    ttl = env.ctx.settings.media_url_ttl_seconds
    downloaded = env.client.get(signed["url"])  # no Authorization: the signature is the key
    assert downloaded.status_code == 200 and downloaded.content == PNG
    headers = downloaded.headers
    assert headers["content-type"] == "image/png"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "sandbox"
    assert headers["content-disposition"].startswith("inline")
    assert headers["content-length"] == str(len(PNG))
    cache, max_age = headers["cache-control"].split(", max-age=")
    assert cache == "private" and 0 < int(max_age) <= ttl

    ranged = env.client.get(signed["url"], headers={"Range": "bytes=8-11"})
    assert ranged.status_code == 206 and ranged.content == PNG[8:12]
    assert ranged.headers["content-range"] == f"bytes 8-11/{len(PNG)}"
    tail = env.client.get(signed["url"], headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == PNG[-5:]
    beyond = env.client.get(signed["url"], headers={"Range": f"bytes={len(PNG)}-"})
    assert beyond.status_code == 416


def test_same_bytes_uploaded_twice_are_one_blob(env, accounts):
    one, two = accounts.make("labeler"), accounts.make("reviewer")
    first = post_file(env, one, PNG, name="a.png").json()
    second = post_file(env, two, PNG, name="b.png")
    assert second.status_code == 201 and second.json() == first
    assert env.rows() == 1 and len(env.stored()) == 1


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_oversize_upload_is_413_and_stores_nothing(make_env, accounts, streamed):
    env = make_env("local", max_upload_bytes=4096)
    admin = accounts.make("admin")
    boundary = "assayboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
    ).encode()
    payload = head + PNG + bytes(8000) + f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(payload), 1000):
            yield payload[i : i + 1000]

    response = env.client.post(
        "/api/v1/blobs",
        content=chunks() if streamed else payload,
        headers={**admin.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert env.rows() == 0 and env.stored() == []
    spool = env.ctx.settings.data_dir / "spool"
    assert not spool.exists() or list(spool.iterdir()) == []
    assert post_file(env, admin, PNG).status_code == 201  # under the limit still works


def test_oversize_upload_to_s3_stores_nothing(make_env, accounts):
    env = make_env("s3", max_upload_bytes=4096)
    response = post_file(env, accounts.make("admin"), PNG + bytes(5000))
    assert response.status_code == 413 and env.rows() == 0 and env.stored() == []


def test_html_claiming_to_be_png_is_never_served_as_html(env, accounts):
    labeler = accounts.make("labeler")
    page = b"<html><body><script>fetch('/api/v1/users')</script></body></html>"
    for name, declared in [
        ("x.png", "image/png"),
        ("x.html", "text/html"),
        ("x.svg", "image/svg+xml"),
    ]:
        created = post_file(env, labeler, page + name.encode(), name=name, declared=declared)
        assert created.status_code == 201 and created.json()["content_type"] == "text/plain"
        served = env.client.get(media_url(env, labeler, created.json()["sha256"]))
        assert served.headers["content-type"] == "text/plain; charset=utf-8"
        assert served.headers["content-disposition"].startswith("attachment")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "sandbox"


def test_text_formats_download_as_attachments(env, accounts):
    labeler = accounts.make("labeler")
    for name, data, kind in [
        ("t.csv", b"a,b\n1,2\n", "text/csv"),
        ("d.json", b'{"a": 1}', "application/json"),
        ("r.jsonl", b'{"a": 1}\n{"a": 2}\n', "application/jsonl"),
    ]:
        created = post_file(env, labeler, data, name=name, declared="application/octet-stream")
        assert created.json()["content_type"] == kind
        served = env.client.get(media_url(env, labeler, created.json()["sha256"]))
        assert served.content == data
        assert served.headers["content-type"] == f"{kind}; charset=utf-8"
        assert served.headers["content-disposition"] == (
            f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
        )


def test_unaccepted_types_and_missing_files_are_422(env, accounts):
    labeler = accounts.make("labeler")
    refused = post_file(env, labeler, b"MZ\x90\x00" + bytes(200), name="setup.png")
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "file"
    no_file = env.client.post("/api/v1/blobs", data={"other": "x"}, headers=labeler.headers)
    assert no_file.status_code == 422 and no_file.json()["error"]["field"] == "file"
    as_json = env.client.post("/api/v1/blobs", json={"file": "x"}, headers=labeler.headers)
    assert as_json.status_code == 422
    assert env.rows() == 0 and env.stored() == []


def test_blob_routes_need_authentication_but_media_urls_do_not(env, accounts):
    labeler = accounts.make("labeler")
    sha = post_file(env, labeler, PNG).json()["sha256"]
    anonymous = env.client
    assert anonymous.post("/api/v1/blobs", files={"file": ("a.png", PNG)}).status_code == 401
    assert anonymous.get(f"/api/v1/blobs/{sha}").status_code == 401
    assert anonymous.post(f"/api/v1/blobs/{sha}/url").status_code == 401
    assert anonymous.get(media_url(env, labeler, sha)).status_code == 200


def test_bad_or_expired_signatures_are_403_and_unknown_blobs_404(env, accounts):
    labeler = accounts.make("labeler")
    sha = post_file(env, labeler, PNG).json()["sha256"]
    other = post_file(env, labeler, PNG + b"!").json()["sha256"]
    url = media_url(env, labeler, sha)
    exp, sig = (part.split("=", 1)[1] for part in url.split("?", 1)[1].split("&"))
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    secret = env.ctx.settings.secret_key.get_secret_value()
    expired = blobs.signed_media_url(
        sha256=sha, secret=secret, ttl_seconds=60, now=time.time() - 3600
    ).url
    for attempt in [
        f"/media/{sha}?exp={exp}&sig={flipped}",
        f"/media/{sha}?exp={int(exp) + 3600}&sig={sig}",
        f"/media/{other}?exp={exp}&sig={sig}",
        f"/media/{sha}?exp={exp}",
        f"/media/{sha}?sig={sig}",
        f"/media/{sha}",
        f"/media/{sha}?exp={exp}&sig={sig}&sig=",
        expired,
    ]:
        response = env.client.get(attempt)
        assert response.status_code == 403, attempt
        assert response.json()["error"]["code"] == "forbidden"
        assert PNG not in response.content

    unknown = hashlib.sha256(b"never uploaded").hexdigest()
    signed_unknown = blobs.signed_media_url(sha256=unknown, secret=secret, ttl_seconds=60).url
    assert env.client.get(signed_unknown).status_code == 404
    assert env.client.get(f"/api/v1/blobs/{unknown}", headers=labeler.headers).status_code == 404
    assert (
        env.client.post(f"/api/v1/blobs/{unknown}/url", headers=labeler.headers).status_code == 404
    )


# --- traversal --------------------------------------------------------------------------

_watched: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watched is None or not (event == "open" or event.startswith(("os.", "shutil."))):
        return
    for arg in args:
        if isinstance(arg, str | bytes | os.PathLike):
            _watched.append(os.fsdecode(arg))


@pytest.fixture
def file_accesses() -> Iterator[list[str]]:
    """Every path this process opens, lists or stats through an audited call meanwhile."""
    global _watched
    if not getattr(sys, "_assay_blob_audit_installed", False):
        sys.addaudithook(_audit)  # hooks cannot be removed; it is idle outside this fixture
        sys._assay_blob_audit_installed = True  # type: ignore[attr-defined]
    _watched = []
    try:
        yield _watched
    finally:
        _watched = None


def asgi_request(app, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send `target` exactly as written (HTTP clients normalise `..` away); the path is
    percent-decoded the way uvicorn does it."""
    raw_path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    aio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_traversal_attempts_are_4xx_and_never_read_outside_the_store(
    make_env, accounts, tmp_path, file_accesses
):
    env = make_env("local")
    labeler = accounts.make("labeler")
    assert post_file(env, labeler, PNG).status_code == 201
    canary = tmp_path / "canary-secret.txt"
    canary.write_text("CANARY-CONTENTS")
    root = env.ctx.blobs.root
    assert canary.resolve() == (root / ".." / ".." / canary.name).resolve()
    full = str(canary)
    attempts = [
        f"../../{canary.name}",
        f"../../../../{canary.name}",
        "../../../../../../etc/passwd",
        f"..%2F..%2F{canary.name}",
        f"..%2f..%2f..%2f..%2f{canary.name}",
        f"%2e%2e%2f%2e%2e%2f{canary.name}",
        f"%2E%2E/%2E%2E/{canary.name}",
        f"..%252F..%252F{canary.name}",
        f"..%5C..%5C{canary.name}",
        f"..\\..\\{canary.name}",
        quote(full, safe=""),
        full.lstrip("/"),
        "%2F" + quote(full.lstrip("/")),
        "..",
        "%2e%2e",
        ".",
        "%00",
        "a" * 64 + "%00",
        "a" * 64 + "%0A",
        "A" * 64,
        "a" * 63,
        "g" * 64,
        quote("\uff0e\uff0e\uff0f") + canary.name,
        "..%c0%af" + canary.name,
        "aa/../../" + canary.name,
        "ab/cd/" + "a" * 64,
    ]
    secret = env.ctx.settings.secret_key.get_secret_value()
    exp = int(time.time()) + 60
    app = env.client.app
    file_accesses.clear()
    for attempt in attempts:
        # Even a correctly signed URL for a traversal string must not reach the store.
        sig = blobs._media_signature(secret, unquote(attempt), exp)
        for method, target, headers in [
            ("GET", f"/api/v1/blobs/{attempt}", labeler.headers),
            ("POST", f"/api/v1/blobs/{attempt}/url", labeler.headers),
            ("GET", f"/media/{attempt}?exp={exp}&sig={sig}", {}),
        ]:
            status, body = asgi_request(app, method, target, headers)
            assert 400 <= status < 500, (target, status)
            assert b"CANARY" not in body and b"root:" not in body
    assert not [p for p in file_accesses if "canary" in p or "passwd" in p]

    # The watch works: reading the canary directly is seen.
    assert canary.read_text() == "CANARY-CONTENTS"
    assert any("canary" in p for p in file_accesses)
