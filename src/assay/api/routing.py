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
from fastapi.routing import APIRoute, APIRouter
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

    # The heads come from the routes' own paths under their inclusions' prefixes (the path
    # FastAPI gives a route's effective context) without building those contexts: FastAPI
    # builds a router's contexts (dependants, pydantic adapters: ~5 ms a route) the first
    # time a request is matched against it, and a router passed by here never is. A router's
    # heads are those of every route under it, its included routers' included.
    def walk(router: APIRouter, prefix: str) -> tuple[set[str], bool]:
        _, found = heads.setdefault(id(router), (router, set()))
        below: set[str] = set()
        plain = not getattr(router, "_low_priority_routes", None)
        for route in router.routes:
            path = prefix + getattr(route, "path", "")
            if isinstance(route, _IncludedRouter):
                child, child_plain = walk(
                    route.original_router, prefix + route.include_context.prefix
                )
                below |= child
                plain = plain and child_plain
            elif isinstance(route, APIRoute) and path.startswith("/"):
                below.add(path.split("{", 1)[0])
            else:
                plain = False  # a mount or a route without a plain path
        found |= below
        if not plain:
            unfiltered.add(id(router))
        return below, plain

    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            walk(route.original_router, route.include_context.prefix)
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


def build_route_contexts(app: FastAPI) -> int:
    """Build every included router's route contexts (dependants, pydantic adapters) now:
    FastAPI otherwise builds a router's on the first request matched against it (~5 ms a
    route), which a server would rather pay at start-up, before `gc.freeze()`. Returns how
    many were built."""
    if _IncludedRouter is None:
        return 0
    built = 0
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            built += sum(1 for _ in route.effective_route_contexts())  # cached as they are built
            built += len(route.effective_low_priority_routes())
    return built
