"""Routers skipped by their paths' heads (api/routing.py) still route every path to the route
FastAPI's own in-order matching picks."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.routing import Match

from assay.api.app import create_app
from assay.api.routing import build_route_contexts, skip_routers_by_prefix


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}:]+(:path)?\}", "x1", path)


def _first_match(app, scope) -> tuple[Match, str | None]:
    partial = None
    for route in app.router.routes:
        match, child = route.matches(dict(scope))
        endpoint = getattr(child.get("endpoint"), "__qualname__", None)
        if match == Match.FULL:
            return match, endpoint
        if match == Match.PARTIAL and partial is None:
            partial = (match, endpoint)
    return partial or (Match.NONE, None)


def test_every_route_matches_as_without_the_prefilter(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path))
    app = create_app()
    routers = skip_routers_by_prefix(app)
    assert len(routers) > 5  # the API's modules, Scale's and Nucleus's routers
    paths = {
        (_concrete(context.path), method)
        for route in app.router.routes
        if hasattr(route, "effective_route_contexts")
        for context in route.effective_route_contexts()
        if isinstance(getattr(context, "original_route", None), APIRoute)
        for method in context.methods or {"GET"}
    }
    paths |= {("/api/v1/nowhere", "GET"), ("/v1/nucleus/nowhere", "POST"), ("/v2/x", "PUT")}
    assert len(paths) > 250

    def scope(path: str, method: str) -> dict:
        return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}

    filtered = {key: _first_match(app, scope(*key)) for key in paths}
    saved = [router.__dict__.pop("matches") for router in routers]  # FastAPI's own matching
    try:
        plain = {key: _first_match(app, scope(*key)) for key in paths}
    finally:
        for router, matches in zip(routers, saved, strict=True):
            router.matches = matches
    assert filtered == plain
    assert plain[("/api/v1/nowhere", "GET")] == (Match.NONE, None)
    assert sum(1 for match, _ in plain.values() if match == Match.FULL) > 250


def test_a_server_builds_its_routes_at_start_up(settings):
    """`warm_routes` (on by default, off in the tests' settings): the routes' contexts are
    built in the lifespan, before the first request, and requests are answered the same."""
    from fastapi.testclient import TestClient

    app = create_app(settings.model_copy(update={"warm_routes": True}))
    with TestClient(app) as client:
        included = [r for r in app.router.routes if hasattr(r, "effective_candidates")]
        # Built already: asking again finds every router's candidates cached.
        assert included and all(r._effective_candidates_version is not None for r in included)
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/projects").status_code == 401  # routed, then refused
    assert build_route_contexts(app) > 250
