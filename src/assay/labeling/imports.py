"""Importing tasks from an uploaded JSONL or CSV file, as a background job.

The file is streamed from the blob store and tasks are created in chunks of 5,000 through
`create_tasks`, each chunk in its own transaction. A bad line is logged in the job log and
skipped; a line whose unique_id already exists is skipped too, so an import that was
interrupted and retried (or run twice) creates every task exactly once.

JSONL: one `TaskCreate` object per line. CSV columns: `unique_id`, `attachment` (URL or blob
sha256), `text`, `priority`, `tags` (separated by `;`), `callback_url`, `metadata.<key>`
(strings) and `params.<key>` (JSON values when they parse, strings otherwise).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import update
from sqlalchemy.orm import Session

from assay.core import blob_refs, blobs, jobs, json_values
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.jobs import PermanentError, job_kind
from assay.labeling import batches, models, projects, schemas, tasks

KIND = "labeling.import_tasks"
CHUNK = 5000
MAX_LOGGED_ERRORS = 1000
CSV_COLUMNS = ("unique_id", "attachment", "text", "priority", "tags", "callback_url")
_task_list = TypeAdapter(list[schemas.TaskCreate])


def start_import(
    *,
    session: Session,
    project: models.Project,
    import_in: schemas.ImportCreate,
    actor: Actor,
) -> core_models.Job:
    """Check the file and batch exist, then queue the import job."""
    try:
        blob = blobs.get_blob(session=session, sha256=import_in.blob)
        if not blob_refs.may_read(session=session, actor=actor, blob=blob):
            raise NotFound(f"no blob {import_in.blob}")
    except NotFound as exc:
        raise NotFound(exc.message, field="blob") from None
    batch_id = None
    if import_in.batch is not None:
        try:
            batch = batches.get_batch(session=session, batch_id=import_in.batch, mode=actor.mode)
        except NotFound as exc:
            raise NotFound(exc.message, field="batch") from None
        if batch.project_id != project.id:
            raise Invalid(f"batch {batch.name!r} belongs to another project", field="batch")
        batch_id = batch.id
    if project.archived:
        raise Conflict("the project is archived; unarchive it to add tasks", field="project")
    return jobs.enqueue(
        session=session,
        kind=KIND,
        payload={
            "project_id": project.id,
            "blob": blob.sha256,
            "batch_id": batch_id,
            "mode": actor.mode,
            "user_id": actor.user_id,
            "format": _format(blob),
        },
        actor=actor,
    )


def _format(blob: core_models.Blob) -> str:
    name = blob.filename.lower()
    if blob.content_type == blobs.JSONL or name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if blob.content_type == "text/csv" or name.endswith(".csv"):
        return "csv"
    return "auto"


class _ByteStream(io.RawIOBase):
    """A readable stream over the chunks the blob store yields; counts bytes consumed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        self.consumed += n
        return n


Line = tuple[int, dict[str, Any] | None, str | None]  # line number, task or error


def _jsonl_lines(text: io.TextIOBase) -> Iterator[Line]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            yield number, None, f"not valid JSON: {exc}"
            continue
        if not isinstance(value, dict):
            yield number, None, "each line must be a JSON object (one task)"
            continue
        try:
            json_values.check_finite(value)  # NaN, Infinity, 1e400: not JSON, not storable
        except Invalid as exc:
            yield number, None, exc.message
            continue
        yield number, value, None


def _csv_value(raw: str) -> Any:
    try:
        return json_values.loads(raw.encode())
    except Invalid:
        return raw  # not JSON (NaN and Infinity included): the text itself


def _csv_lines(text: io.TextIOBase, warn: Any) -> Iterator[Line]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    unknown = [
        name
        for name in header
        if name not in CSV_COLUMNS and not name.startswith(("metadata.", "params."))
    ]
    if unknown:
        warn(f"ignoring unknown CSV column(s): {', '.join(unknown)}")
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield number, None, f"{len(row)} cells but the header has {len(header)} columns"
            continue
        task: dict[str, Any] = {"params": {}, "metadata": {}}
        problem = None
        for name, cell in zip(header, row, strict=False):
            if cell == "":
                continue
            if name == "unique_id":
                task["unique_id"] = cell
            elif name in ("attachment", "text"):
                task["params"][name] = cell
            elif name == "priority":
                try:
                    task["priority"] = int(cell)
                except ValueError:
                    problem = f"priority: {cell!r} is not a whole number"
            elif name == "tags":
                task["tags"] = [tag.strip() for tag in cell.split(";") if tag.strip()]
            elif name == "callback_url":
                task["callback_url"] = cell
            elif name.startswith("metadata."):
                task["metadata"][name[len("metadata.") :]] = cell
            elif name.startswith("params."):
                task["params"][name[len("params.") :]] = _csv_value(cell)
        yield number, (None if problem else task), problem


def _lines(stream: _ByteStream, kind: str, warn: Any) -> Iterator[Line]:
    buffered = io.BufferedReader(stream, buffer_size=1024 * 1024)
    if kind == "auto":
        kind = "jsonl" if buffered.peek(64).lstrip()[:1] == b"{" else "csv"
    text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
    return _jsonl_lines(text) if kind == "jsonl" else _csv_lines(text, warn)


def _field_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _validate(chunk: list[tuple[int, dict[str, Any]]]) -> tuple[list, dict[int, str]]:
    """Parse a chunk with one TypeAdapter call; returns the good tasks and line errors."""
    values = [value for _, value in chunk]
    try:
        parsed = _task_list.validate_python(values)
        return list(zip([n for n, _ in chunk], parsed, strict=True)), {}
    except ValidationError as exc:
        bad: dict[int, str] = {}
        for error in exc.errors(include_url=False):
            index = error["loc"][0]
            assert isinstance(index, int)
            field = _field_path(error["loc"][1:])
            bad.setdefault(chunk[index][0], f"{field}: {error['msg']}" if field else error["msg"])
        rest = [(n, value) for n, value in chunk if n not in bad]
        parsed = _task_list.validate_python([v for _, v in rest])
        good = list(zip([n for n, _ in rest], parsed, strict=True))
        return good, bad


class _Import:
    def __init__(self, ctx: Any, payload: dict[str, Any]) -> None:
        self.ctx = ctx
        self.payload = payload
        self.counts = {"lines": 0, "created": 0, "skipped": 0, "failed": 0}
        self.logged = 0

    def log_error(self, session: Session, line: int, message: str) -> None:
        self.counts["failed"] += 1
        if self.logged < MAX_LOGGED_ERRORS:
            self.logged += 1
            session.add(
                core_models.JobLog(
                    job_id=self.ctx.job_id,
                    attempt=self.ctx.attempt,
                    level="warning",
                    message=f"line {line}: {message}"[:10_000],
                )
            )

    def actor(self, session: Session) -> Actor:
        user = session.get(core_models.User, self.payload["user_id"])
        if user is None:
            raise PermanentError("the user who started the import no longer exists")
        return Actor(user_id=user.id, email=user.email, role=user.role, mode=self.payload["mode"])

    def resume(self) -> int:
        """The last line a previous attempt committed (0 on a first attempt)."""
        with self.ctx.db.read() as session:
            job = session.get(core_models.Job, self.ctx.job_id)
            checkpoint = (job.result or {}) if job is not None else {}
        for key in self.counts:
            self.counts[key] = int(checkpoint.get(key, 0))
        return int(checkpoint.get("checkpoint", 0))

    def flush(
        self,
        lines: list[tuple[int, dict[str, Any]]],
        parse_errors: dict[int, str],
        last_line: int,
    ) -> None:
        """Create one chunk and record how far the import got, in one transaction."""
        good, bad = _validate(lines)
        with self.ctx.db.write() as session:
            for number, message in sorted({**parse_errors, **bad}.items()):
                self.log_error(session, number, message)
            if good:
                self.create(session, good)
            # A retried attempt resumes after this line, so no line is imported twice.
            session.execute(
                update(core_models.Job)
                .where(core_models.Job.id == self.ctx.job_id)
                .values(result={**self.counts, "checkpoint": last_line})
            )

    def create(self, session: Session, good: list[tuple[int, schemas.TaskCreate]]) -> None:
        actor = self.actor(session)
        mode = self.payload["mode"]
        project = projects.get_project(
            session=session, project_id=self.payload["project_id"], mode=mode
        )
        batch = None
        if self.payload.get("batch_id"):
            batch = batches.get_batch(session=session, batch_id=self.payload["batch_id"], mode=mode)
        tasks_in = [task for _, task in good]
        _, errors = tasks.check_tasks(
            session=session,
            project=project,
            tasks_in=tasks_in,
            settings=self.ctx.settings,
            mode=mode,
            batch_id=batch.id if batch is not None else None,
            path="",
            collect=True,
            actor=actor,
        )
        keep = []
        for i, (number, task) in enumerate(good):
            error = errors.get(i)
            if isinstance(error, Conflict) and (error.field or "").endswith("unique_id"):
                self.counts["skipped"] += 1
            elif error is not None:
                self.log_error(session, number, f"{error.field}: {error.message}")
            else:
                keep.append(task)
        if keep:
            tasks.create_tasks(
                session=session,
                project=project,
                batch=batch,
                tasks_in=keep,
                actor=actor,
                settings=self.ctx.settings,
            )
        self.counts["created"] += len(keep)

    def run(self) -> dict[str, Any]:
        store = self.ctx.app.blobs
        sha = self.payload["blob"]
        size = max(1, store.size(sha))
        stream = _ByteStream(store.open(sha))
        pending: list[tuple[int, dict[str, Any]]] = []
        parse_errors: dict[int, str] = {}
        done_through = self.resume()
        number = done_through
        try:
            for number, task, problem in _lines(stream, self.payload["format"], self.ctx.log):
                if number <= done_through:
                    continue
                self.counts["lines"] += 1
                if problem is not None or task is None:
                    parse_errors[number] = problem or "no task on this line"
                else:
                    pending.append((number, task))
                if len(pending) >= CHUNK:
                    self.flush(pending, parse_errors, number)
                    pending, parse_errors = [], {}
                    self.ctx.progress(stream.consumed, size, self.summary())
        except UnicodeDecodeError as exc:
            raise PermanentError(f"the file is not UTF-8 text: {exc}") from exc
        except csv.Error as exc:
            raise PermanentError(f"the CSV file is malformed: {exc}") from exc
        if pending or parse_errors:
            self.flush(pending, parse_errors, number)
        self.ctx.progress(1.0, None, self.summary(), force=True)
        if self.logged < self.counts["failed"]:
            self.ctx.log(
                f"{self.counts['failed'] - self.logged} more bad line(s) not logged", "warning"
            )
        return dict(self.counts)

    def summary(self) -> str:
        c = self.counts
        return f"{c['lines']} lines: {c['created']} created, {c['skipped']} already there, " + (
            f"{c['failed']} failed"
        )


@job_kind(KIND, max_attempts=3)
def import_tasks(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Create a project's tasks from an uploaded JSONL or CSV file."""
    return _Import(ctx, payload).run()
