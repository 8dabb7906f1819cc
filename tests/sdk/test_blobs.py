"""`client.blobs` against a real `assay serve`: upload, metadata, signed URLs, download."""

from __future__ import annotations

import hashlib
import io

import httpx
import pytest

from assay.sdk import NotFound

pytestmark = pytest.mark.live


def test_upload_from_bytes_path_or_file_then_read_back(connect, server, accounts, tmp_path):
    client = connect(server.url, accounts.make("labeler").key)
    content = b'{"hello": "world"}\n' * 100
    digest = hashlib.sha256(content).hexdigest()

    uploaded = client.blobs.upload(content, filename="hello.json")
    assert (uploaded.sha256, uploaded.size, uploaded.filename) == (
        digest,
        len(content),
        "hello.json",
    )
    path = tmp_path / "again.json"
    path.write_bytes(content)
    assert client.blobs.upload(path).sha256 == digest
    handle = io.BytesIO(content)
    handle.read(5)  # file objects are sent whole, from their start
    assert client.blobs.upload(handle, filename="x.json").sha256 == digest
    assert client.blobs.get(digest) == uploaded

    signed = client.blobs.url(digest)
    assert signed.url.startswith(f"{server.url}/media/{digest}?")
    assert httpx.get(signed.url).content == content  # no API key needed
    assert client.blobs.download(digest) == content

    with pytest.raises(NotFound):
        client.blobs.get("0" * 64)
