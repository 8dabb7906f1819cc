"""Results out and predictions in, as jobs: exports to a blob, prelabel imports from one.

An export streams the project's tasks a page at a time (keyset on id) into a spool file that
a format writer fills, so memory stays flat however many tasks there are; the file becomes a
blob and the job result names it. A prelabel import reads an uploaded file, finds each
record's task (by task id, unique_id, attachment, image file name or file stem), validates
the predictions against the taxonomy and stores them as the pending task's `prelabels`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from assay.core import blob_refs, blobs, dialects, jobs
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import AssayError, Invalid
from assay.core.jobs import PermanentError, job_kind
from assay.core.pagination import PageResult, paginate
from assay.core.schemas import Schema
from assay.labeling import formats, models
from assay.labeling.annotations import validate_response
from assay.labeling.formats import yolo
from assay.labeling.projects import PROJECT_MANAGERS_SCOPE, get_project, project_rules
from assay.labeling.schemas import Sha256
from assay.labeling.task_params import blob_sha
from assay.labeling.taxonomy import Taxonomy

EXPORT_KIND = "labeling.export"
IMPORT_KIND = "labeling.import_prelabels"
PAGE_SIZE = 1000
MATCH_ORDER = ("task_id", "unique_id", "attachment", "file_name", "stem")
MAX_LOGGED_ROWS = 100  # problem rows logged one by one; the rest are counted
# What an uploaded prelabel file may be, by format (the blob's sniffed content type).
_IMPORT_TYPES = {
    "yolo": ("application/zip",),
    "coco": ("application/json", "text/plain"),
    "jsonl": ("application/jsonl", "application/json", "text/plain"),
}


class ExportCreate(Schema):
    format: str = Field(max_length=50, description="jsonl, coco, yolo, csv or conll.")
    batch_id: str | None = Field(None, max_length=24, description="Only this batch's tasks.")
    status: Literal["completed", "pending", "canceled", "error", "all"] = "completed"
    task_ids: list[Annotated[str, Field(max_length=24)]] | None = Field(
        None,
        min_length=1,
        max_length=10_000,
        description="Only these tasks (the task table's selection), of the status asked.",
    )


class PrelabelImportCreate(Schema):
    format: str = Field(max_length=50, description="coco, jsonl or yolo.")
    blob: Sha256 = Field(description="sha256 of the uploaded file (yolo: a zip).")


# --- requests ------------------------------------------------------------------------------


def request_export(
    *,
    session: Session,
    project: models.Project,
    export_in: ExportCreate,
    batch: models.Batch | None,
    actor: Actor,
) -> core_models.Job:
    """Queue an export of the project's (or one batch's) tasks with the given status."""
    formats.check_task_type(formats.EXPORT_FORMATS, export_in.format, project.task_type)
    if batch is not None and batch.project_id != project.id:
        raise Invalid(f"batch {batch.id} belongs to another project", field="batch_id")
    payload = {
        "project_id": project.id,
        "format": export_in.format,
        "batch_id": batch.id if batch is not None else None,
        "status": export_in.status,
    }
    if export_in.task_ids is not None:
        payload["task_ids"] = list(dict.fromkeys(export_in.task_ids))
    return jobs.enqueue(session=session, kind=EXPORT_KIND, payload=payload, actor=actor)


def request_prelabel_import(
    *,
    session: Session,
    project: models.Project,
    import_in: PrelabelImportCreate,
    actor: Actor,
) -> core_models.Job:
    """Queue attaching the predictions in an uploaded file to the project's pending tasks."""
    formats.check_task_type(formats.IMPORT_FORMATS, import_in.format, project.task_type)
    blob = session.get(core_models.Blob, import_in.blob)
    if blob is None or not blob_refs.may_read(session=session, actor=actor, blob=blob):
        raise Invalid(f"no uploaded blob {import_in.blob}; upload it first", field="blob")
    expected = _IMPORT_TYPES.get(import_in.format)
    if expected is not None and blob.content_type not in expected:
        raise Invalid(
            f"a {import_in.format} import is {' or '.join(expected)}, "
            f"but this blob is {blob.content_type}",
            field="blob",
        )
    payload = {"project_id": project.id, "format": import_in.format, "blob": blob.sha256}
    return jobs.enqueue(session=session, kind=IMPORT_KIND, payload=payload, actor=actor)


# --- the jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    project_id: str
    project_name: str
    task_type: str
    mode: str
    taxonomy: Taxonomy
    created_by: str | None


def _scope(ctx: Any, project_id: str) -> _Scope:
    with ctx.db.read() as session:
        job = jobs.get_job(session=session, job_id=ctx.job_id)
        try:
            project = get_project(session=session, project_id=project_id, mode=job.mode)
        except AssayError as exc:
            raise PermanentError(exc.message) from exc
        return _Scope(
            project.id,
            project.name,
            project.task_type,
            job.mode,
            project_rules(project).taxonomy,
            job.created_by,
        )


def _task_filter(stmt: Select, scope: _Scope, payload: dict[str, Any]) -> Select:
    stmt = stmt.where(models.Task.project_id == scope.project_id, models.Task.mode == scope.mode)
    if payload.get("batch_id"):
        stmt = stmt.where(models.Task.batch_id == payload["batch_id"])
    if payload.get("status", "completed") != "all":
        stmt = stmt.where(models.Task.status == payload.get("status", "completed"))
    if payload.get("task_ids") is not None:
        stmt = stmt.where(models.Task.id.in_(payload["task_ids"]))
    return stmt


def list_exports(
    *, session: Session, project: models.Project, mode: str, cursor: str | None, limit: int
) -> PageResult[core_models.Job]:
    """The project's export jobs, newest first (their progress, and the file when done)."""
    dialect = session.get_bind().dialect.name
    stmt = select(core_models.Job).where(
        core_models.Job.kind == EXPORT_KIND,
        core_models.Job.mode == mode,
        dialects.json_key_equals(core_models.Job.payload, "project_id", project.id, dialect),
    )
    return paginate(session, stmt, key=core_models.Job.id, cursor=cursor, limit=limit)


def _blob_names(session: Session, params: Sequence[dict[str, Any]]) -> dict[str, str]:
    """sha256 -> uploaded file name, for the blob attachments of one page of tasks."""
    shas = {sha for p in params if (sha := blob_sha(p.get("attachment")))}
    if not shas:
        return {}
    rows = session.execute(
        select(core_models.Blob.sha256, core_models.Blob.filename).where(
            core_models.Blob.sha256.in_(shas)
        )
    )
    return {sha: name for sha, name in rows if name}


def _file_name(params: dict[str, Any], blob_names: dict[str, str]) -> str:
    attachment = formats.attachment_of(params)
    sha = blob_sha(attachment)
    if sha is not None:
        return blob_names.get(sha, sha)
    return formats.attachment_file_name(attachment)


_EXPORT_COLUMNS = (
    models.Task.id,
    models.Task.unique_id,
    models.Task.batch_id,
    models.Task.status,
    models.Task.params,
    models.Task.metadata_,
    models.Task.response,
    models.Task.completed_at,
)


def _stream_tasks(
    ctx: Any, scope: _Scope, payload: dict[str, Any], total: int
) -> Iterator[formats.ExportTask]:
    """The tasks to export in id order, one short read transaction per page."""
    after, done = "", 0
    while True:
        with ctx.db.read() as session:
            stmt = _task_filter(select(*_EXPORT_COLUMNS), scope, payload)
            page = session.execute(
                stmt.where(models.Task.id > after).order_by(models.Task.id).limit(PAGE_SIZE)
            ).all()
            names = _blob_names(session, [row.params for row in page])
        if not page:
            return
        for row in page:
            yield formats.ExportTask(
                id=row.id,
                unique_id=row.unique_id,
                batch_id=row.batch_id,
                status=row.status,
                params=row.params or {},
                metadata=row.metadata_ or {},
                response=row.response,
                completed_at=row.completed_at,
                file_name=_file_name(row.params or {}, names),
            )
        done += len(page)
        after = page[-1].id
        ctx.progress(done, total, f"{done} of {total} tasks")


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(blobs.CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _owner(scope: _Scope) -> Actor | None:
    """Who the export blob is recorded as created by: the user who asked for the job."""
    if scope.created_by is None:
        return None
    return Actor(user_id=scope.created_by, email="", role="manager")


@job_kind(EXPORT_KIND, max_attempts=3)
def run_export(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Write a project's tasks in a file format and store the file as a blob."""
    scope = _scope(ctx, payload["project_id"])
    fmt = formats.EXPORT_FORMATS.get(payload["format"])
    if fmt is None:
        raise PermanentError(f"no exporter for format {payload['format']!r} in this process")
    with ctx.db.read() as session:
        total = session.scalar(_task_filter(select(func.count()), scope, payload)) or 0
    ctx.progress(0, total, f"exporting {total} tasks", force=True)
    spool_dir = ctx.settings.data_dir / "spool"
    spool_dir.mkdir(parents=True, exist_ok=True)
    stats = formats.ExportStats()
    context = formats.ExportContext(formats.taxonomy_labels(scope.taxonomy), stats, spool_dir)
    fd, name = tempfile.mkstemp(prefix="assay-export-", dir=spool_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            fmt.write(_stream_tasks(ctx, scope, payload, total), out, context)
        sha256, size = _hash_file(path)
        ctx.app.blobs.put_file(sha256, path)
    finally:
        path.unlink(missing_ok=True)
    filename = blobs.clean_filename(f"{scope.project_name}-{fmt.name}.{fmt.extension}")
    with ctx.db.write() as session:
        blobs.record_blob(
            session=session,
            sha256=sha256,
            size=size,
            content_type=fmt.content_type,
            filename=filename,
            actor=_owner(scope),
        )
        # Every manager of the project may download it, not only who asked for it.
        blob_refs.add_refs(
            session=session,
            sha256s=[sha256],
            scope=PROJECT_MANAGERS_SCOPE,
            scope_id=payload["project_id"],
        )
    for reason, count in sorted(stats.skipped.items()):
        ctx.log(f"left out {count} {reason}", level="warning")
    return {
        "blob": sha256,
        "filename": filename,
        "count": stats.tasks,
        "annotations": stats.annotations,
        "skipped": dict(stats.skipped),
    }


# --- prelabel import: finding the tasks ----------------------------------------------------


@dataclass(frozen=True)
class _Found:
    id: str
    status: str
    params: dict[str, Any]


_AMBIGUOUS = _Found("", "", {})


def _record(found: dict[str, _Found], value: str, task: _Found) -> None:
    previous = found.get(value)
    found[value] = task if previous is None or previous.id == task.id else _AMBIGUOUS


def _find_tasks(
    ctx: Any, scope: _Scope, rows: Sequence[formats.PrelabelRow]
) -> dict[str, dict[str, _Found]]:
    """For each match key, value -> task; ids by index, names in one pass over the tasks
    (keeping only names some row asks for, so memory follows the file, not the project)."""
    wanted: dict[str, set[str]] = {key: set() for key in MATCH_ORDER}
    for row in rows:
        for key, value in row.match.items():
            wanted[key].add(value)
    found: dict[str, dict[str, _Found]] = {key: {} for key in MATCH_ORDER}
    columns = (models.Task.id, models.Task.unique_id, models.Task.status, models.Task.params)
    base = _task_filter(select(*columns), scope, {"status": "all"})
    for key, column in (("task_id", models.Task.id), ("unique_id", models.Task.unique_id)):
        values = sorted(wanted[key])
        for start in range(0, len(values), 500):
            with ctx.db.read() as session:
                for row in session.execute(base.where(column.in_(values[start : start + 500]))):
                    task = _Found(row.id, row.status, row.params or {})
                    _record(found[key], row.id if key == "task_id" else row.unique_id, task)
    if not (wanted["attachment"] or wanted["file_name"] or wanted["stem"]):
        return found
    after = ""
    while True:
        with ctx.db.read() as session:
            page = session.execute(
                base.where(models.Task.id > after).order_by(models.Task.id).limit(PAGE_SIZE)
            ).all()
            names = _blob_names(session, [row.params or {} for row in page])
        if not page:
            return found
        for row in page:
            params = row.params or {}
            file_name = _file_name(params, names)
            keys = (
                ("attachment", formats.attachment_of(params)),
                ("file_name", file_name),
                ("stem", formats.file_stem(file_name)),
            )
            for key, value in keys:
                if value and value in wanted[key]:
                    _record(found[key], value, _Found(row.id, row.status, params))
        after = page[-1].id
        ctx.check_cancelled()


def _resolve(row: formats.PrelabelRow, found: dict[str, dict[str, _Found]]) -> _Found | str:
    """The row's task, or why there is none."""
    ambiguous = []
    for key in MATCH_ORDER:
        value = row.match.get(key)
        task = found[key].get(value) if value is not None else None
        if task is _AMBIGUOUS:
            ambiguous.append(f"{key}={value}")
        elif task is not None:
            return task
    if ambiguous:
        return f"several tasks match {', '.join(ambiguous)}; give task_id or unique_id"
    if not row.match:
        return "names no task (task_id, unique_id, attachment or file name)"
    return "no task in this project matches"


def _validated(
    taxonomy: Taxonomy, task_type: str, params: dict[str, Any], response: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The validated prelabels, dropping (with a warning each) annotations that fail."""
    try:
        return validate_response(taxonomy, task_type, params, response, partial=True), []
    except Invalid as exc:
        first = exc
    kept, warnings = [], []
    annotations = response.get("annotations")
    for i, ann in enumerate(annotations if isinstance(annotations, list) else []):
        try:
            validate_response(taxonomy, task_type, params, {"annotations": [ann]}, partial=True)
        except Invalid as exc:
            warnings.append(f"annotations[{i}] dropped: {exc.message} ({exc.field})")
        else:
            kept.append(ann)
    if not kept:  # nothing usable: say why instead of attaching an empty response
        raise first
    rest = {"annotations": kept, "global_attributes": response.get("global_attributes") or {}}
    if response.get("links"):
        warnings.append("links dropped with the annotations that failed")
    return validate_response(taxonomy, task_type, params, rest, partial=True), warnings


# --- prelabel import: the job --------------------------------------------------------------


class _Report:
    """Problem rows go to the job log, one line each up to MAX_LOGGED_ROWS."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.counts: dict[str, int] = {}
        self.logged = 0
        self.unlogged = 0

    def add(self, outcome: str, message: str | None = None) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if message is None:
            return
        if self.logged < MAX_LOGGED_ROWS:
            self.ctx.log(message, level="warning")
            self.logged += 1
        else:
            self.unlogged += 1

    def close(self) -> None:
        if self.unlogged:
            self.ctx.log(f"... and {self.unlogged} more problems not logged", level="warning")


def _read_rows(ctx: Any, scope: _Scope, payload: dict[str, Any]) -> list[formats.PrelabelRow]:
    fmt = formats.IMPORT_FORMATS.get(payload["format"])
    if fmt is None:
        raise PermanentError(f"no importer for format {payload['format']!r} in this process")
    try:
        data = b"".join(ctx.app.blobs.open(payload["blob"]))
        return list(fmt.read(data, formats.taxonomy_labels(scope.taxonomy)))
    except AssayError as exc:
        raise PermanentError(exc.message) from exc


def _prepare(
    row: formats.PrelabelRow, task: _Found, scope: _Scope
) -> tuple[dict[str, Any], list[str]]:
    response = row.response
    if row.normalized:
        width, height = task.params.get("image_width"), task.params.get("image_height")
        if not width or not height:
            raise Invalid("the task has no image_width and image_height to scale YOLO labels")
        response = yolo.denormalize(response, width=width, height=height)
    return _validated(scope.taxonomy, scope.task_type, task.params, response)


@job_kind(IMPORT_KIND, max_attempts=3)
def run_prelabel_import(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Attach model predictions from an uploaded file to pending tasks as prelabels."""
    scope = _scope(ctx, payload["project_id"])
    rows = _read_rows(ctx, scope, payload)
    ctx.progress(0, len(rows), f"read {len(rows)} records", force=True)
    found = _find_tasks(ctx, scope, rows)
    report = _Report(ctx)
    chosen: dict[str, tuple[formats.PrelabelRow, dict[str, Any]]] = {}
    for row in rows:
        where = row.describe()
        if row.error is not None:
            report.add("invalid", f"{where}: {row.error}")
            continue
        task = _resolve(row, found)
        if isinstance(task, str):
            report.add("unmatched", f"{where}: {task}")
            continue
        if task.status != "pending":
            report.add("not_pending", f"{where}: task {task.id} is {task.status}; left alone")
            continue
        try:
            response, warnings = _prepare(row, task, scope)
        except Invalid as exc:
            field = f" ({exc.field})" if exc.field else ""
            report.add("invalid", f"{where}: task {task.id}: {exc.message}{field}")
            continue
        for warning in [*row.warnings, *warnings]:
            report.add("warnings", f"{where}: {warning}")
        if task.id in chosen:
            earlier = chosen[task.id][0].row
            report.add("duplicates", f"{where}: task {task.id} again (row {earlier}); last wins")
        chosen[task.id] = (row, response)
    updates = [{"b_id": task_id, "b_prelabels": resp} for task_id, (_, resp) in chosen.items()]
    table = models.Task.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.status == "pending")
        .values(prelabels=bindparam("b_prelabels"))
    )
    for start in range(0, len(updates), 500):
        with ctx.db.write() as session:
            session.execute(stmt, updates[start : start + 500])
        done = min(start + 500, len(updates))
        ctx.progress(done, len(updates), f"attached prelabels to {done} tasks")
    report.close()
    counts = report.counts
    return {
        "rows": len(rows),
        "attached": len(chosen),
        "unmatched": counts.get("unmatched", 0),
        "not_pending": counts.get("not_pending", 0),
        "invalid": counts.get("invalid", 0),
        "duplicates": counts.get("duplicates", 0),
        "warnings": counts.get("warnings", 0),
    }
