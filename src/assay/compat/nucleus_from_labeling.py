"""Nucleus's bridges from labeling (docs/nucleus-wire.md §3.1): `create_dataset_from_project`
and `Dataset.ingest_tasks` — completed tasks become items with their responses as ground
truth (`curation/from_labeling.py`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import load_dataset, string_list
from assay.compat.scale_common import JsonObject
from assay.core.errors import Invalid
from assay.curation import datasets, from_labeling
from assay.curation.policies import datasets as policy

router = APIRouter(route_class=ScaleRoute)


def _counts(found: from_labeling.Ingested) -> dict[str, int]:
    return {
        "ingested_tasks": len(found.ingested),
        "ignored_tasks": len(found.ignored),
        "pending_tasks": len(found.pending),
    }


@router.post("/dataset/create_from_project")
def create_from_project(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    policy.can_create(actor)
    project_id = body.get("project_id")
    if not isinstance(project_id, str) or not project_id:
        raise Invalid("project_id is required", field="project_id")
    last = body.get("last_n_tasks")
    if last is not None:
        try:
            last = int(last)  # the client sends it as a string
        except (TypeError, ValueError):
            raise Invalid("last_n_tasks must be a whole number", field="last_n_tasks") from None
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise Invalid("name must be a non-empty string", field="name")
    with ctx.db.write() as session:
        project, tasks = from_labeling.project_tasks(
            session=session, actor=actor, project_id=project_id, last=last
        )
        dataset = datasets.create_dataset(
            session=session,
            mode=actor.mode,
            name=name or project.name,
            is_scene=False,
            metadata={"from_project": project.id},
            created_by=actor.user_id,
        )
        found = from_labeling.ingest(session=session, dataset=dataset, actor=actor, tasks=tasks)
        return {"dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id), **_counts(found)}


@router.post("/dataset/{dataset_id}/ingest_tasks")
def ingest_tasks(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, int]:
    task_ids = string_list(body, "tasks")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        tasks = from_labeling.tasks_by_id(session=session, actor=actor, task_ids=task_ids)
        found = from_labeling.ingest(session=session, dataset=dataset, actor=actor, tasks=tasks)
        return _counts(found)
