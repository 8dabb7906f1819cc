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


@pytest.fixture(params=LINES, ids=[f"nucleus-{line}" for line in LINES])
def nucleus_line(request: pytest.FixtureRequest, dialect: str) -> str:
    """Each test using it runs once per client release line: the current line on both
    databases, the older line on SQLite only (what differs between the lines is the wire,
    which the database under the server does not change; CI time stays bounded)."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    if request.param != LINES[0] and module not in OLDER_LINE_MODULES:
        pytest.skip(
            f"jobs and slices are the same calls in the {request.param} line as in {LINES[0]}"
        )
    if dialect != "sqlite":
        if request.param != LINES[0]:
            pytest.skip(f"the {request.param} line runs on SQLite; {LINES[0]} covers PostgreSQL")
        if module not in POSTGRES_MODULES:
            pytest.skip(
                "on PostgreSQL the client's harness and dataset calls run; the compat layer "
                "under the rest is dialect-free (curation's own tests run on both)"
            )
    return request.param


@pytest.fixture
def nucleus(server: LiveServer, nucleus_line: str) -> Callable[..., Any]:
    """`nucleus(key, code, *, script=None, args=None)`: run_client with this test's line and
    the live server."""

    def run(api_key: str, code: str | None = None, **kwargs: Any) -> Any:
        return run_client(nucleus_line, server.url, api_key, code, **kwargs)

    return run
