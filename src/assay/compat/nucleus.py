"""Scale Nucleus's API (`https://api.scale.com/v1/nucleus`) over the curation services. Point
the official `scale-nucleus` client at it with
`NucleusClient(api_key, endpoint=f"{server}/v1/nucleus")`.

docs/nucleus-wire.md catalogues what both client lines (0.22, 0.18) send and read, and
marks the calls served. Every route is thin: translate the Nucleus body
(`nucleus_format`), load by Nucleus id, authorize with the native policies, call the
curation services, translate back. Auth is HTTP Basic with the key as username (the native
keys); errors use Scale's `{"error", "status_code"}` shape (compat/errors.py). One module
per noun: datasets, items, annotations, models (and predictions), jobs.
"""

from __future__ import annotations

from fastapi import APIRouter

from assay.compat import (
    nucleus_annotations,
    nucleus_datasets,
    nucleus_items,
    nucleus_jobs,
    nucleus_models,
)
from assay.compat.errors import ScaleRoute

PREFIX = "/v1/nucleus"
router = APIRouter(prefix=PREFIX, route_class=ScaleRoute, include_in_schema=False)
for module in (nucleus_datasets, nucleus_items, nucleus_annotations, nucleus_models, nucleus_jobs):
    router.include_router(module.router)
