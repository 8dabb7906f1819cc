"""Exports and prelabel imports of a project, as jobs, under /api/v1/projects/{id}/…

The export job's result names a blob (`{"blob", "filename", "count"}`); fetch it through
POST /api/v1/blobs/{sha256}/url. Both are for project managers and global managers/admins.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.core import schemas
from assay.labeling import batches, exports
from assay.labeling.policies import projects as policy

router = APIRouter(tags=["exports"], route_class=JsonRoute)


@router.post(
    "/projects/{project_id}/exports",
    response_model=schemas.Job,
    status_code=202,
    operation_id="create_export",
)
def create_export(
    project_id: str,
    export_in: exports.ExportCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
) -> JSONResponse:
    """Export the project's tasks (completed by default) as jsonl, coco, yolo, csv or conll."""

    def create(session: Session) -> schemas.Job:
        project, role = load_project(session, project_id, actor)
        policy.require_manager(actor, project, role, "exporting a project's results")
        batch = None
        if export_in.batch_id is not None:
            batch = batches.get_batch(session=session, batch_id=export_in.batch_id, mode=actor.mode)
        job = exports.request_export(
            session=session, project=project, export_in=export_in, batch=batch, actor=actor
        )
        return schemas.Job.model_validate(job)

    return create_once(request, actor=actor, db=db, body=export_in, create=create, status_code=202)


@router.get(
    "/projects/{project_id}/exports",
    response_model=schemas.JobPage,
    operation_id="list_exports",
)
def list_exports(project_id: str, actor: CurrentActor, db: Db, page: Page) -> schemas.JobPage:
    """The project's exports, newest first: status, progress and, when done, the file's blob
    (`result.blob`, fetched through POST /api/v1/blobs/{sha256}/url)."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        policy.require_manager(actor, project, role, "listing a project's exports")
        result = exports.list_exports(
            session=session,
            project=project,
            mode=actor.mode,
            cursor=page.cursor,
            limit=page.limit,
        )
        return schemas.JobPage(
            items=[schemas.Job.model_validate(job) for job in result.items],
            next_cursor=result.next_cursor,
        )


@router.post(
    "/projects/{project_id}/prelabels",
    response_model=schemas.Job,
    status_code=202,
    operation_id="import_prelabels",
)
def import_prelabels(
    project_id: str,
    import_in: exports.PrelabelImportCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
) -> JSONResponse:
    """Attach model predictions (coco, jsonl, or a yolo zip) to pending tasks as prelabels;
    rows that match no task are listed in the job's log."""

    def create(session: Session) -> schemas.Job:
        project, role = load_project(session, project_id, actor)
        policy.require_manager(actor, project, role, "importing prelabels")
        job = exports.request_prelabel_import(
            session=session, project=project, import_in=import_in, actor=actor
        )
        return schemas.Job.model_validate(job)

    return create_once(request, actor=actor, db=db, body=import_in, create=create, status_code=202)
