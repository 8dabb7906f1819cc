"""One real `assay serve` per test module (per database dialect), driven by the official
`scaleapi` client. Tests stay independent by making their own users and unique names."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scaleapi import ScaleClient

from assay.core.db import Database
from assay.core.settings import Settings
from tests.conftest import Account, Accounts, DatabaseTemplate
from tests.support.receiver import LOOPBACK_ALLOW
from tests.support.servers import LiveServer


@pytest.fixture(scope="module")
def module_database_url(
    db_template: DatabaseTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database shared by the tests of one module."""
    if db_template.dialect == "sqlite":
        path = tmp_path_factory.mktemp("scale-db") / "assay.db"
        shutil.copyfile(db_template.url, path)
        yield f"sqlite:///{path}"
        return
    cluster, clones = db_template.cluster, db_template.clones
    assert cluster is not None and clones is not None
    name = clones.take()
    try:
        yield cluster.url(name)
    finally:
        clones.give_back(name)


@pytest.fixture(scope="module")
def module_settings(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("scale-data"),
        database_url=module_database_url,
        secret_key="test-secret-key-with-enough-characters-0123456789",
        password_hash_memory_kib=1024,
        workers=0,
        job_poll_seconds=0.05,
        job_lease_seconds=2.0,
        job_retry_base_seconds=0.1,
        outbound_allow=LOOPBACK_ALLOW,
    )


@pytest.fixture(scope="module")
def module_accounts(module_settings: Settings) -> Iterator[Accounts]:
    db = Database(module_settings.resolved_database_url)
    try:
        yield Accounts(db)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def server(
    module_settings: Settings,
    module_accounts: Accounts,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("scale-serve") / "serve.log"
    live = LiveServer(module_settings, log)
    try:
        yield live
    finally:
        live.stop()


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
