"""The SDK matches the server: every route it calls exists, and it stays light to import."""

from __future__ import annotations

import subprocess
import sys

import assay
import assay.sdk
from assay.sdk import _api, errors


def test_every_sdk_route_exists_in_the_servers_openapi(app):
    paths = app.openapi()["paths"]
    missing = [
        f"{route.method} {route.path} ({route.name})"
        for route in _api.ROUTES
        if route.method.lower() not in paths.get(route.path, {})
    ]
    assert _api.ROUTES, "the registry is empty: were the _api modules imported?"
    assert missing == []


def test_every_route_is_registered_once():
    keys = [(route.method, route.path) for route in _api.ROUTES]
    assert len(keys) == len(set(keys))


def test_exported_members_are_exactly_all():
    public = {name for name in vars(assay.sdk) if not name.startswith("_")}
    modules = {"client", "errors", "models", "eval_models", "users", "keys", "jobs", "blobs"}
    modules |= {"webhooks"}
    modules |= {
        "projects",
        "batches",
        "tasks",
        "queue",
        "quality",
        "datasets",
        "query",
        "slices",
        "ml_models",
        "evaluations",
        "scenarios",
        "providers",
        "eval_sets",
        "eval_runs",
        "calibrations",
        "human_evaluations",
        "rater_profiles",
        "judges",
        "grading",
    }
    assert public - modules == set(assay.sdk.__all__)
    for name in assay.sdk.__all__:
        assert getattr(assay.sdk, name).__module__.startswith("assay.sdk")
    assert assay.Client is assay.sdk.Client


def test_every_error_class_is_exported():
    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.AssayError)
    }
    assert classes <= set(assay.sdk.__all__)


def test_importing_the_sdk_pulls_in_no_server_code():
    code = (
        "import sys, assay\n"
        "client = assay.Client('http://127.0.0.1:9', 'live_x')\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'fastapi', 'starlette', 'alembic', 'uvicorn',"
        " 'argon2', 'assay.core.db', 'assay.api') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
