"""Matching a request against only the routers whose paths could match it.

FastAPI (0.16x) matches a request against every route of an included router in turn, and
twice (once to find the route, once to handle it): ~2.5 µs a route, a millisecond a request
for a path near the end of Assay's few hundred routes (the curation routes come after the
labeling ones). `skip_routers_by_prefix` gives each included router the literal heads of
its routes' paths (the text before the first `{`); a path that starts with none of them
passes the router by in one `str.startswith`, without changing which route a path matches
(a route can only match a path that starts with its head).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette.routing import Match

try:  # FastAPI's lazily included routers; on a FastAPI without them nothing is changed.
    from fastapi.routing import _IncludedRouter  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the FastAPI release
    _IncludedRouter = None


def skip_routers_by_prefix(app: FastAPI) -> list[APIRouter]:
    """Call once every route is added; returns the routers given heads. Calling it again
    (another app over the same module-level routers) replaces their heads."""
    if _IncludedRouter is None:
        return []
    heads: dict[int, tuple[APIRouter, set[str]]] = {}
    unfiltered: set[int] = set()

    def walk(included: Any) -> None:
        router = included.original_router
        _, found = heads.setdefault(id(router), (router, set()))
        for context in included.effective_route_contexts():
            path = getattr(context, "path", None)
            if not isinstance(path, str) or not path.startswith("/"):
                unfiltered.add(id(router))  # a mount or a route without a plain path
                continue
            found.add(path.split("{", 1)[0])
        for candidate in included.effective_candidates():
            if isinstance(candidate, _IncludedRouter):
                walk(candidate)

    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            walk(route)
    patched = []
    for key, (router, found) in heads.items():
        if key in unfiltered or not found or "" in found:
            continue
        plain = type(router).matches.__get__(router)  # the class's: never a wrapper of a wrapper
        router.matches = _prefiltered(plain, tuple(sorted(found)))  # type: ignore[method-assign]
        patched.append(router)
    return patched


def _prefiltered(matches: Callable[[Any], tuple[Match, Any]], heads: tuple[str, ...]) -> Callable:
    def prefiltered(scope: Any) -> tuple[Match, Any]:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(heads):
            return Match.NONE, {}
        return matches(scope)

    return prefiltered
