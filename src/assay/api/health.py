from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assay.api.deps import Ctx
from assay.api.json_body import JsonRoute
from assay.core import migrate

router = APIRouter(tags=["health"], route_class=JsonRoute)


@router.get("/healthz", operation_id="healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz")
def readyz(ctx: Ctx) -> JSONResponse:
    """The database answers and its schema is at this version's migration head."""
    try:
        current, head = migrate.revision_status(ctx.db)
    except Exception as exc:  # any database failure means not ready
        return JSONResponse({"status": "unavailable", "reason": f"database: {exc}"}, 503)
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": f"schema at {current}, expected {head}: run `assay db upgrade`",
            },
            503,
        )
    return JSONResponse({"status": "ok", "schema": current})
