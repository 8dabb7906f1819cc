from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import assay
from assay.core.db import Database
from tests.conftest import Accounts
from tests.support.servers import LiveServer

PLUGIN_ENV = {"ASSAY_PLUGINS": '["tests.support.jobkinds"]'}


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    return PLUGIN_ENV


@pytest.fixture
def server(module_server) -> LiveServer:
    """The module's real `assay serve` on loopback (tests/conftest.py), with test job kinds;
    a test's people and database are the server's."""
    return module_server


@pytest.fixture
def accounts(module_accounts) -> Accounts:
    return module_accounts


@pytest.fixture
def db(module_accounts) -> Database:
    return module_accounts.db


@pytest.fixture
def connect() -> Iterator[Callable[..., assay.Client]]:
    """`connect(url, key, **options)`: a Client closed when the test ends."""
    clients: list[assay.Client] = []

    def make(url: str, api_key: str, **options: Any) -> assay.Client:
        clients.append(assay.Client(url, api_key, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()
