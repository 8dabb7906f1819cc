"""One real `assay serve` per test module (per database dialect), driven by the official
`scaleapi` client. Tests stay independent by making their own users and unique names."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scaleapi import ScaleClient

from tests.conftest import Account, Accounts
from tests.support.servers import LiveServer


@pytest.fixture(scope="module")
def server(module_server: LiveServer) -> LiveServer:
    return module_server


@pytest.fixture
def manager(module_accounts: Accounts) -> Account:
    return module_accounts.make("manager")


@pytest.fixture
def make_account(module_accounts: Accounts) -> Callable[[str], Account]:
    return module_accounts.make


@pytest.fixture
def scale(server: LiveServer) -> Callable[[str], ScaleClient]:
    """`scale(key)`: the official client pointed at the server, v2 included."""

    def connect(api_key: str) -> ScaleClient:
        client = ScaleClient(api_key, api_instance_url=f"{server.url}/v1")
        client.v2.api_client.configuration.host = server.url
        return client

    return connect


@pytest.fixture
def name() -> Callable[[str], str]:
    """Unique names: projects and batches are unique per server sandbox."""
    return lambda prefix: f"{prefix} {uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain HTTP file server on loopback: (base URL, the directory it serves)."""
    root = tmp_path_factory.mktemp("files")
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
