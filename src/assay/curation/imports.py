"""Appending items from a file, as a job with progress: JSONL (one item per line, the append
shape), CSV (`reference_id`, `media`, `width`, `height`, `tags` separated by `;`,
`metadata.<path>` columns) and COCO (images become items, their annotations ground truth).

The file is an uploaded blob the caller may read. The job appends `CHUNK` items at a time
through `items.append_items` (each chunk all or nothing, a revision each); a problem stops
the job naming the line (or image) and the field. Appends update by reference id, so running
the import again after fixing the file is safe: nothing is duplicated.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from assay.core import blob_refs, blobs
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.curation import items, models, wire

IMPORT_JOB = "curation.import_items"
FORMATS = ("jsonl", "csv", "coco")
CHUNK = 5_000


def start_import(
    *, session: Session, dataset: models.Dataset, actor: Actor, sha256: str, file_format: str
) -> core_models.Job:
    if file_format not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}", field="format")
    blob = session.get(core_models.Blob, sha256)
    if blob is None or sha256 not in blob_refs.readable(
        session=session, actor=actor, sha256s=[sha256]
    ):
        raise NotFound(f"no uploaded blob {sha256}", field="sha256")
    return enqueue(
        session=session,
        kind=IMPORT_JOB,
        payload={
            "dataset_id": dataset.id,
            "sha256": sha256,
            "format": file_format,
            "user_id": actor.user_id,
            "role": actor.role,
            "mode": actor.mode,
        },
        actor=actor,
    )


# --- readers: (where, item) pairs ----------------------------------------------------------


def _jsonl(data: bytes) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            raise PermanentError(f"line {number} is not JSON: {exc}") from None


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    lowered = text.strip().lower()
    return {"true": True, "false": False}.get(lowered, text)


def _csv(data: bytes) -> Iterator[tuple[str, Any]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    if not reader.fieldnames or "reference_id" not in reader.fieldnames:
        raise PermanentError("the CSV file needs a reference_id column")
    for number, row in enumerate(reader, start=2):
        item: dict[str, Any] = {"reference_id": row.get("reference_id")}
        metadata: dict[str, Any] = {}
        for key, value in row.items():
            if key is None or value in (None, ""):
                continue
            if key.startswith("metadata."):
                target = metadata
                *path, last = key.removeprefix("metadata.").split(".")
                for part in path:
                    target = target.setdefault(part, {})
                target[last] = _number(value)
            elif key in ("width", "height"):
                item[key] = _number(value)
            elif key == "tags":
                item["tags"] = [t.strip() for t in value.split(";") if t.strip()]
            elif key in ("media", "url", "image_url"):
                item["media"] = value
            elif key in ("kind", "text"):
                item[key] = value
        item["metadata"] = metadata
        yield f"line {number}", item


def _coco(data: bytes) -> Iterator[tuple[str, Any]]:
    from assay.labeling.formats.coco import to_native_annotations

    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise PermanentError(f"the COCO file is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise PermanentError("a COCO file is an object with images, annotations and categories")
    categories = {c.get("id"): c for c in doc.get("categories") or [] if isinstance(c, dict)}
    by_image: dict[Any, list[dict]] = defaultdict(list)
    for ann in doc.get("annotations") or []:
        if isinstance(ann, dict):
            by_image[ann.get("image_id")].append(ann)
    for number, image in enumerate(doc["images"], start=1):
        where = f"images[{number - 1}]"
        if not isinstance(image, dict):
            raise PermanentError(f"{where} is not an object")
        shapes = []
        for ann in by_image.get(image.get("id"), []):
            category = categories.get(ann.get("category_id"))
            if category is None:
                raise PermanentError(f"annotation {ann.get('id')}: unknown category_id")
            try:
                shapes += to_native_annotations(ann, category, [])
            except (KeyError, TypeError, ValueError):
                raise PermanentError(f"annotation {ann.get('id')}: no usable geometry") from None
        media = image.get("coco_url") or image.get("flickr_url") or image.get("url")
        yield (
            where,
            {
                "reference_id": str(image.get("file_name") or image.get("id")),
                "media": media,
                "width": image.get("width"),
                "height": image.get("height"),
                "metadata": {
                    k: v
                    for k, v in image.items()
                    if k not in ("file_name", "coco_url", "flickr_url", "url", "width", "height")
                },
                "annotations": shapes,
            },
        )


READERS = {"jsonl": _jsonl, "csv": _csv, "coco": _coco}


@job_kind(IMPORT_JOB, max_attempts=2)
def run_import(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Append the file's items a chunk at a time (see the module's docstring)."""
    store = blobs.open_store(ctx.settings)
    data = b"".join(store.open(payload["sha256"]))
    actor = Actor(user_id=payload["user_id"], email="", role=payload["role"], mode=payload["mode"])
    records = list(READERS[payload["format"]](data))
    total, done, new, updated = len(records), 0, 0, 0
    ctx.progress(0, total, f"read {total} items", force=True)
    for start in range(0, total, CHUNK):
        chunk = records[start : start + CHUNK]
        body = msgspec.json.encode({"items": [item for _, item in chunk]})
        try:
            append = wire.decode(body, wire.AppendIn)
            with ctx.db.write() as session:
                dataset = session.get(models.Dataset, payload["dataset_id"])
                if dataset is None or dataset.deleting:
                    raise PermanentError("the dataset was deleted during the import")
                result = items.append_items(
                    session=session,
                    dataset=dataset,
                    actor=actor,
                    append=append,
                    max_items=CHUNK,
                )
        except Invalid as error:
            raise PermanentError(_where(error, chunk, start, done)) from None
        done += len(chunk)
        new += result.new
        updated += result.updated
        ctx.progress(done, total, f"appended {done} of {total} items")
    return {"items": done, "new": new, "updated": updated}


def _where(error: Invalid, chunk: list[tuple[str, Any]], start: int, done: int) -> str:
    """The error in the file's words: `items[3].media` becomes `line 5: media`."""
    field = error.field or ""
    if field.startswith("items["):
        index, _, rest = field[6:].partition("]")
        if index.isdigit() and int(index) < len(chunk):
            where = chunk[int(index)][0]
            detail = error.message.split(" at items[", 1)[0]
            return (
                f"{where}: {rest.lstrip('.') or 'item'}: {detail} ({done} items appended before it)"
            )
    return f"{error.message} ({done} items appended before it)"
