from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from assay.api.deps import CurrentActor, Db, Page
from assay.api.json_body import JsonRoute
from assay.core import jobs, schemas
from assay.core.policies import jobs as policy

router = APIRouter(tags=["jobs"], route_class=JsonRoute)


@router.get("/jobs", response_model=schemas.JobPage, operation_id="list_jobs")
def list_jobs(
    actor: CurrentActor,
    db: Db,
    page: Page,
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    kind: str | None = Query(None, max_length=100),
) -> schemas.JobPage:
    created_by = None if policy.can_list_all(actor) else actor.user_id
    with db.read() as session:
        result = jobs.list_jobs(
            session=session,
            cursor=page.cursor,
            limit=page.limit,
            status=status,
            kind=kind,
            created_by=created_by,
            mode=actor.mode,
        )
        return schemas.JobPage(items=result.items, next_cursor=result.next_cursor)


@router.get("/jobs/{job_id}", response_model=schemas.Job, operation_id="get_job")
def get_job(job_id: str, actor: CurrentActor, db: Db) -> schemas.Job:
    with db.read() as session:
        job = jobs.get_job(session=session, job_id=job_id)
        policy.can_read(actor, job)
        return schemas.Job.model_validate(job)


@router.post("/jobs/{job_id}/cancel", response_model=schemas.Job, operation_id="cancel_job")
def cancel_job(job_id: str, actor: CurrentActor, db: Db) -> schemas.Job:
    with db.write() as session:
        job = jobs.get_job(session=session, job_id=job_id)
        policy.can_cancel(actor, job)
        return schemas.Job.model_validate(jobs.cancel_job(session=session, job=job))


@router.get("/jobs/{job_id}/logs", response_model=schemas.JobLogPage, operation_id="list_job_logs")
def list_job_logs(job_id: str, actor: CurrentActor, db: Db, page: Page) -> schemas.JobLogPage:
    with db.read() as session:
        policy.can_read(actor, jobs.get_job(session=session, job_id=job_id))
        result = jobs.list_logs(
            session=session, job_id=job_id, cursor=page.cursor, limit=page.limit
        )
        return schemas.JobLogPage(items=result.items, next_cursor=result.next_cursor)
