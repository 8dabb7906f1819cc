"""Fixtures for tests that drive the official `scale-nucleus` client (both release lines)
against the module's live `assay serve` (tests/compat/conftest.py's `server`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.nucleus_clients import LINES, run_client
from tests.support.servers import LiveServer

# The client tests are slow (a subprocess per call); CI time stays bounded by running these
# modules on PostgreSQL too and the rest on SQLite only.
POSTGRES_MODULES = {"test_harness", "test_datasets"}
# Where the older line's wire differs (sync appends and scenes, model runs, its own dataset
# calls); jobs and slices are the same calls in both lines.
OLDER_LINE_MODULES = {
    "test_harness",
    "test_datasets",
    "test_items",
    "test_scenes",
    "test_annotations",
    "test_models",
    "test_hosted_models",
    "test_validate",
}


def _runs(module: str, dialect: str, line: str) -> bool:
    """Which (database, client line) pairs a module's tests run on: the current line on both
    databases where the database can change the wire (the client's harness and dataset
    calls), on SQLite elsewhere (the compat layer under the rest is dialect-free, and
    curation's own tests run on both); the older line on SQLite, in the modules where its
    wire differs (what differs between the lines is the wire, which the database under the
    server does not change)."""
    if line != LINES[0]:
        return dialect == "sqlite" and module in OLDER_LINE_MODULES
    return dialect == "sqlite" or module in POSTGRES_MODULES


def pytest_collection_modifyitems(config, items) -> None:
    """The pairs `_runs` leaves out are deselected at collection, not skipped at set-up: a
    skip in a function fixture comes after the module's `assay serve` (and its database)
    has been started for nothing."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        path = str(item.fspath).replace("\\", "/")
        if "tests/compat/nucleus/" in path and "nucleus_line" in params:
            module = path.rsplit("/", 1)[-1].removesuffix(".py")
            runs = _runs(module, params.get("db_template", "sqlite"), params["nucleus_line"])
            (keep if runs else drop).append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=LINES, ids=[f"nucleus-{line}" for line in LINES])
def nucleus_line(request: pytest.FixtureRequest, dialect: str) -> str:
    """Each test using it runs once per client release line, on the databases `_runs` says
    (the pairs it leaves out are deselected at collection)."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    assert _runs(module, dialect, request.param), (module, dialect, request.param)
    return request.param


@pytest.fixture
def nucleus(server: LiveServer, nucleus_line: str) -> Callable[..., Any]:
    """`nucleus(key, code, *, script=None, args=None)`: run_client with this test's line and
    the live server."""

    def run(api_key: str, code: str | None = None, **kwargs: Any) -> Any:
        return run_client(nucleus_line, server.url, api_key, code, **kwargs)

    return run
