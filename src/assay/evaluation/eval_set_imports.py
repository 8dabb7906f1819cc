"""Importing an evaluation set's items from JSONL, CSV or Parquet, as a job with progress.

The file comes in the request's body and waits in `eval_set_uploads` (not the blob store:
blobs are readable by their uploader and by admins, a sealed set's items by nobody). The job
reads and checks every row first — a problem fails it naming the line (or row) and the field,
never the value — then writes the whole import as one version in one transaction: all or
nothing. The upload is deleted when the job ends, however it ends.

Shapes: JSONL, one item per line (`EvalItemIn`; an export's header line and `canary` fields
are skipped, so an export imports back); CSV and Parquet, a column per field, with
`messages` and `rubric` as JSON text and `tags` separated by `;` (Parquet may also hold them
as lists and structs).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
from pydantic import ValidationError
from sqlalchemy import delete
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.evaluation import eval_sets, models
from assay.evaluation.eval_set_schemas import FORMATS, EvalItemIn, EvalSetImport

IMPORT_JOB = "evaluation.import_eval_set"
JSON_COLUMNS = ("messages", "rubric")
PROGRESS_EVERY = 10_000
BOOLEAN_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def start_import(
    *,
    session: Session,
    eval_set: models.EvalSet,
    actor: Actor,
    data: bytes,
    import_in: EvalSetImport,
) -> core_models.Job:
    """Keep the file and queue its import."""
    if import_in.format not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}", field="format")
    if not data:
        raise Invalid("the request body (the file to import) is empty", field="body")
    upload = models.EvalSetUpload(set_id=eval_set.id, data=data)
    session.add(upload)
    session.flush()
    return enqueue(
        session=session,
        kind=IMPORT_JOB,
        payload={
            "set_id": eval_set.id,
            "upload_id": upload.id,
            "format": import_in.format,
            "message": import_in.message,
            "replace": import_in.replace,
            "user_id": actor.user_id,
            "role": actor.role,
            "mode": actor.mode,
            "via": actor.via,
        },
        actor=actor,
    )


# --- readers: (where, row) pairs -----------------------------------------------------------


def _jsonl(data: bytes) -> Iterator[tuple[str, Any]]:
    """Lines as raw JSON bytes: pydantic parses and checks them in one pass."""
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        if b'"assay_eval_set"' in line[:40]:
            continue  # an export's header
        yield f"line {number}", line


def _cell(name: str, value: Any, where: str) -> Any:
    if name in JSON_COLUMNS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise PermanentError(f"{where}: {name}: not valid JSON") from None
    if name == "tags" and isinstance(value, str):
        return [tag.strip() for tag in value.split(";") if tag.strip()]
    if name == "teaser" and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in BOOLEAN_TEXT:
            raise PermanentError(f"{where}: teaser: not true or false")
        return BOOLEAN_TEXT[lowered]
    return value


def _columns(names: list[str], what: str) -> None:
    known = set(EvalItemIn.model_fields)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PermanentError(
            f"the {what} has columns Assay does not know: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(EvalItemIn.model_fields))})"
        )


def _csv(data: bytes) -> Iterator[tuple[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PermanentError("the CSV file is not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _columns(list(reader.fieldnames or []), "CSV file")
    line = 1
    for row in reader:
        where = f"line {line + 1}"  # the line the row starts on
        line = reader.line_num
        yield (
            where,
            {k: _cell(k, v, where) for k, v in row.items() if k is not None and v not in ("",)},
        )


def _parquet(data: bytes) -> Iterator[tuple[str, Any]]:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception:  # polars raises several kinds for a file that is not Parquet
        raise PermanentError("the file is not a readable Parquet file") from None
    _columns(frame.columns, "Parquet file")
    for number, row in enumerate(frame.iter_rows(named=True), start=1):
        where = f"row {number}"
        yield where, {k: _cell(k, v, where) for k, v in row.items() if v is not None}


READERS = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}


def parse_items(
    data: bytes, file_format: str, progress: Callable[[int], None] | None = None
) -> list[EvalItemIn]:
    """Every item of the file, checked; PermanentError naming the line and field (never the
    value: the file is private) at the first problem. `progress(n)` every `PROGRESS_EVERY`."""
    parsed: list[EvalItemIn] = []
    seen: dict[str, str] = {}
    for where, row in READERS[file_format](data):
        if progress is not None and parsed and len(parsed) % PROGRESS_EVERY == 0:
            progress(len(parsed))
        try:
            if isinstance(row, bytes):
                item = EvalItemIn.model_validate_json(row)
            elif isinstance(row, dict):
                item = EvalItemIn.model_validate(row)
            else:
                raise PermanentError(f"{where}: an item is a JSON object")
        except ValidationError as exc:
            error = exc.errors(include_input=False, include_url=False)[0]
            if error["type"] == "json_invalid":
                raise PermanentError(f"{where}: not valid JSON") from None
            if error["type"] == "model_type":
                raise PermanentError(f"{where}: an item is a JSON object") from None
            field = ".".join(str(part) for part in error["loc"]) or "item"
            raise PermanentError(f"{where}: {field}: {error['msg']}") from None
        external_id = eval_sets.external_id_of(item)
        if external_id in seen:
            raise PermanentError(
                f"{where}: external_id: the same id as {seen[external_id]} (ids are unique)"
            )
        seen[external_id] = where
        parsed.append(item)
    if not parsed:
        raise PermanentError("the file holds no items")
    return parsed


def _forget_upload(session: Session, job: core_models.Job) -> None:
    session.execute(
        delete(models.EvalSetUpload).where(models.EvalSetUpload.id == job.payload["upload_id"])
    )


@job_kind(IMPORT_JOB, max_attempts=2, on_failed=_forget_upload)
def run_import(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Check the whole file, then write it as the set's next version (module docstring)."""
    actor = Actor(
        user_id=payload["user_id"],
        email="",
        role=payload["role"],
        mode=payload["mode"],
        via=payload.get("via", "key"),
    )
    with ctx.db.read() as session:
        upload = session.get(models.EvalSetUpload, payload["upload_id"])
        if upload is None:
            raise PermanentError("the uploaded file is gone (the set was deleted?)")
        data = upload.data
    ctx.progress(0.05, None, f"read {len(data)} bytes", force=True)
    # Lines are a fair guess at the number of items (a CSV field may span lines).
    expected = max(1, data.count(b"\n") + 1)

    def checked(count: int) -> None:
        share = 0.05 + 0.45 * min(1.0, count / expected)
        ctx.progress(share, None, f"checked {count} items")

    items = parse_items(data, payload["format"], checked)
    ctx.progress(0.5, None, f"checked {len(items)} items", force=True)
    with ctx.db.write() as session:
        eval_set = session.get(models.EvalSet, payload["set_id"])
        if eval_set is None:
            raise PermanentError("the evaluation set was deleted during the import")
        try:
            version = eval_sets.apply_items(
                session=session,
                eval_set=eval_set,
                actor=actor,
                items=items,
                message=payload.get("message", ""),
                replace=payload.get("replace", False),
            )
        except Invalid as error:
            raise PermanentError(f"{error.field}: {error.message}") from None
        number = eval_set.version
        session.execute(
            delete(models.EvalSetUpload).where(models.EvalSetUpload.id == payload["upload_id"])
        )
    ctx.progress(1.0, None, f"imported {len(items)} items", force=True)
    if version is None:
        return {"items": len(items), "version": number, "unchanged": True}
    return {
        "items": len(items),
        "version": version.number,
        "added": version.added,
        "retired": version.retired,
        "item_count": version.item_count,
        "content_hash": version.content_hash,
        "unchanged": False,
    }
