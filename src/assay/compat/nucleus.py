"""Scale Nucleus's API (`https://api.scale.com/v1/nucleus`) over the curation services. Point
the official `scale-nucleus` client at it with
`NucleusClient(api_key, endpoint=f"{server}/v1/nucleus")`.

docs/nucleus-wire.md catalogues what both client lines (0.22, 0.18) send and read, and
marks the calls served. Every route is thin: translate the Nucleus body
(`nucleus_format`), load by Nucleus id, authorize with the native policies, call the
curation services, translate back. Auth is HTTP Basic with the key as username (the native
keys); errors use Scale's `{"error", "status_code"}` shape (compat/errors.py). One module
per noun: datasets, items, annotations, models (and predictions), jobs, validate.
"""

from __future__ import annotations

from fastapi import APIRouter

from assay.api.deps import CurrentActor
from assay.compat import (
    nucleus_annotations,
    nucleus_autotags,
    nucleus_datasets,
    nucleus_dedup,
    nucleus_embeddings,
    nucleus_from_labeling,
    nucleus_indexing,
    nucleus_items,
    nucleus_jobs,
    nucleus_labels,
    nucleus_model_predictions,
    nucleus_models,
    nucleus_queries,
    nucleus_scene_exports,
    nucleus_scenes,
    nucleus_slice_exports,
    nucleus_slices,
    nucleus_task_info,
    nucleus_validate,
)
from assay.compat.errors import ScaleRoute
from assay.core.errors import NotFound

PREFIX = "/v1/nucleus"
router = APIRouter(prefix=PREFIX, route_class=ScaleRoute, include_in_schema=False)
for module in (
    nucleus_from_labeling,  # before dataset/{id} routes: dataset/create_from_project
    nucleus_datasets,
    nucleus_items,
    nucleus_annotations,
    nucleus_models,
    nucleus_model_predictions,
    nucleus_queries,
    nucleus_scenes,
    nucleus_scene_exports,
    nucleus_slices,
    nucleus_slice_exports,
    nucleus_embeddings,
    nucleus_indexing,
    nucleus_dedup,
    nucleus_autotags,
    nucleus_labels,
    nucleus_task_info,
    nucleus_validate,
    nucleus_jobs,
):
    router.include_router(module.router)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_served(path: str, actor: CurrentActor) -> None:
    """Every other Nucleus route: the key is checked first (401), then a 404 in Scale's
    shape saying the call is not served (docs/nucleus-wire.md marks which are)."""
    raise NotFound(
        f"/v1/nucleus/{path} is not served by this server (see docs/nucleus-wire.md)",
        field="path",
    )
