"""Nucleus async jobs (docs/nucleus-wire.md §1 "Async jobs") on Assay's jobs: status,
info, errors, list; and the import job that runs the signed-URL and multipart uploads.

A queued or running job reports "Running" (the client waits only while it does); a
finished one "Completed"; an import refused for its content "Errored_User" with the refusal
(naming the line and field) as its message and its one error; anything else that failed
"Errored_Server".
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import (
    IMPORT_JOB,
    IMPORT_TYPES,
    JOB_TYPES,
    job_actor,
    job_json,
    job_status,
    job_type,
    refusals_as_user_errors,
    user_error,
)
from assay.compat.scale_common import OptionalJsonObject
from assay.core import jobs
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import job_kind
from assay.curation import datasets

router = APIRouter(route_class=ScaleRoute)
MAX_LIST = 50_000
KINDS = tuple(JOB_TYPES)


def _own_job(session: Any, job_id: str, actor: Actor) -> core_models.Job:
    try:
        job = jobs.get_job(session=session, job_id=fmt.assay_id(fmt.JOB, job_id))
    except NotFound:
        job = None
    if (
        job is None
        or job.mode != actor.mode
        or (job.created_by != actor.user_id and not actor.at_least("admin"))
    ):
        raise NotFound(f"no job with id {job_id}", field="job_id")
    return job


@router.get("/job/{job_id}")
def job_status_route(job_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        job = _own_job(session, job_id, actor)
        refused = user_error(job)
        if refused:
            message: Any = refused["error"]
        elif job.status == "failed":
            message = job.error or "failed"
        else:
            message = job.result or job.progress_message
        return {
            "job_id": fmt.nucleus_id(fmt.JOB, job.id),
            "status": job_status(job),
            "message": message,
            "job_progress": f"{job.progress:.2f}",
            "completed_steps": "1" if job.status == "succeeded" else "0",
            "total_steps": "1",
        }


@router.get("/job/{job_id}/info")
def job_info(job_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        return job_json(_own_job(session, job_id, actor))


@router.get("/job/{job_id}/errors")
def job_errors(job_id: str, actor: CurrentActor, ctx: Ctx) -> list[str]:
    with ctx.db.read() as session:
        job = _own_job(session, job_id, actor)
        if job.status != "failed":
            return []
        refused = user_error(job)
        return [json.dumps(refused) if refused else (job.error or "failed")]


@router.post("/jobs/")
def list_jobs(
    actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> list[dict[str, Any]]:
    body = body or {}
    dataset_id = body.get("dataset_id")
    wanted_types = body.get("job_types") or []
    limit = body.get("limit") or MAX_LIST
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
        raise Invalid(f"limit must be from 1 to {MAX_LIST}", field="limit")
    if not isinstance(wanted_types, list):
        raise Invalid("job_types must be a list", field="job_types")
    show_completed = bool(body.get("show_completed", False))
    wanted_dataset = fmt.assay_id(fmt.DATASET, dataset_id) if dataset_id else None
    with ctx.db.read() as session:
        statement = (
            select(core_models.Job)
            .where(
                core_models.Job.kind.in_(KINDS),
                core_models.Job.mode == actor.mode,
                core_models.Job.created_by == actor.user_id,
            )
            .order_by(core_models.Job.id.desc())
        )
        found = []
        for job in session.scalars(statement):
            if wanted_dataset and job.payload.get("dataset_id") != wanted_dataset:
                continue
            if wanted_types and job_type(job) not in wanted_types:
                continue
            if not show_completed and job.status == "succeeded":
                continue
            found.append(job_json(job))
            if len(found) >= limit:
                break
        return found


# --- the import job ---------------------------------------------------------------------

# The importers by `what`: fn(session, dataset, actor, lines, payload) -> result dict, and
# an optional prepare(settings, lines, payload) -> lines run before the transaction opens
# (fetching and decoding what the upload points at, e.g. segmentation masks). Registered by
# the modules that own the nouns (items, annotations, predictions).
IMPORTERS: dict[str, Any] = {}
PREPARERS: dict[str, Any] = {}


def importer(what: str, prepare: Any = None):
    def register(fn: Any) -> Any:
        assert what in IMPORT_TYPES
        IMPORTERS[what] = fn
        if prepare is not None:
            PREPARERS[what] = prepare
        return fn

    return register


def enqueue_import(
    *, session: Any, actor: Actor, what: str, dataset_id: str, sha256: str | None, **extra: Any
) -> core_models.Job:
    return jobs.enqueue(
        session=session,
        kind=IMPORT_JOB,
        payload={
            "what": what,
            "dataset_id": dataset_id,
            "sha256": sha256,
            "user_id": actor.user_id,
            "mode": actor.mode,
            **extra,
        },
        actor=actor,
    )


def read_lines(store: Any, sha256: str) -> list[Any]:
    """The NDJSON file's values, one per non-empty line (400 naming a bad line)."""
    data = b"".join(store.open(sha256))
    values = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except ValueError:
            raise Invalid(
                f"line {number} of the upload is not JSON", field=f"line {number}"
            ) from None
    return values


@job_kind(IMPORT_JOB, max_attempts=3)
def run_import(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Import one staged upload in one transaction: all of it, or nothing and the refusal."""
    fn = IMPORTERS[payload["what"]]
    with refusals_as_user_errors():
        lines = read_lines(ctx.app.blobs, payload["sha256"]) if payload.get("sha256") else []
        prepare = PREPARERS.get(payload["what"])
        if prepare is not None:
            lines = prepare(ctx.settings, lines, payload)
        with ctx.db.write() as session:
            actor = job_actor(session, payload)
            dataset = datasets.get_dataset(
                session=session, dataset_id=payload["dataset_id"], mode=actor.mode
            )
            return fn(session, dataset, actor, lines, payload)
