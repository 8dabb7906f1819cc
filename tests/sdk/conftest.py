from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import assay
from tests.support.servers import LiveServer

PLUGIN_ENV = {"ASSAY_PLUGINS": '["tests.support.jobkinds"]'}


@pytest.fixture
def server(settings, tmp_path) -> Iterator[LiveServer]:
    """A real `assay serve` on loopback over this test's database, with test job kinds."""
    live = LiveServer(settings, tmp_path / "serve.log", **PLUGIN_ENV)
    try:
        yield live
    finally:
        live.stop()


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
