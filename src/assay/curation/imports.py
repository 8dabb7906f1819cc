"""Appending items from a file, as a job with progress: JSONL (one item per line, the append
shape), CSV (`reference_id`, `media`, `width`, `height`, `tags` separated by `;`,
`metadata.<path>` columns), COCO (images become items, their annotations ground truth), and
a zip or tar of images, plain (`images`) or in YOLO's layout (`yolo`; `image_imports.py`).

The file is an uploaded blob the caller may read; `images` and `yolo` may instead name a
folder under the server's import root (`ASSAY_IMPORT_ROOT`). The whole file is read and
checked first (an archive's images stored as blobs on the way: the first half of the
progress), then the job appends `CHUNK` items at a time through `items.append_items` (each
chunk all or nothing, a revision each); a problem stops the job naming the line (or image,
or archive entry) and the field. Appends update by reference id, so running the import
again after fixing the file is safe: nothing is duplicated.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from assay.core import blob_refs, blobs
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.curation import archives, image_imports, items, models, wire

IMPORT_JOB = "curation.import_items"
FORMATS = ("jsonl", "csv", "coco", *image_imports.FORMATS)
ARCHIVE_TYPES = ("application/zip", "application/gzip", "application/x-tar")
CHUNK = 5_000


def start_import(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    file_format: str,
    sha256: str | None = None,
    path: str | None = None,
    import_root: Path | None = None,
) -> core_models.Job:
    """Queue the import of an uploaded file (`sha256`) or, for images and YOLO, of a folder
    `path` under `import_root`."""
    if file_format not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}", field="format")
    if (sha256 is None) == (path is None):
        raise Invalid("give the uploaded file's sha256 or a folder's path", field="sha256")
    if path is not None:
        if file_format not in image_imports.FORMATS:
            raise Invalid(
                f"a folder imports as {' or '.join(image_imports.FORMATS)}", field="format"
            )
        archives.import_folder(import_root, path)
    else:
        blob = session.get(core_models.Blob, sha256)
        if blob is None or sha256 not in blob_refs.readable(
            session=session, actor=actor, sha256s=[sha256]
        ):
            raise NotFound(f"no uploaded blob {sha256}", field="sha256")
        if file_format in image_imports.FORMATS and blob.content_type not in ARCHIVE_TYPES:
            raise Invalid(
                f"format {file_format} reads a zip or tar archive; the file is {blob.content_type}",
                field="format",
            )
    return enqueue(
        session=session,
        kind=IMPORT_JOB,
        payload={
            "dataset_id": dataset.id,
            "sha256": sha256,
            "path": path,
            "format": file_format,
            "user_id": actor.user_id,
            "role": actor.role,
            "mode": actor.mode,
            "via": actor.via,
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
    """Read the whole file, then append its items a chunk at a time (see the module's
    docstring)."""
    actor = Actor(
        user_id=payload["user_id"],
        email="",
        role=payload["role"],
        mode=payload["mode"],
        via=payload.get("via", "key"),
    )
    if payload["format"] in image_imports.FORMATS:
        found = _read_archive(ctx, payload)
        result = _append(ctx, payload, actor, found.records, found.blobs, read_share=0.5)
        return result | {"skipped": found.skipped}
    data = b"".join(blobs.open_store(ctx.settings).open(payload["sha256"]))
    records = list(READERS[payload["format"]](data))
    return _append(ctx, payload, actor, records, {}, read_share=0.0)


def _read_archive(ctx: Any, payload: dict[str, Any]) -> image_imports.ArchiveItems:
    """The archive's (or folder's) items, its images stored, reporting the first half of
    the progress."""
    limits = archives.Limits.from_settings(ctx.settings)
    store = blobs.open_store(ctx.settings)

    def read(archive: archives.Archive) -> image_imports.ArchiveItems:
        return image_imports.read_archive(
            archive=archive,
            file_format=payload["format"],
            store=store,
            progress=lambda fraction, message: ctx.progress(fraction / 2, None, message),
        )

    if payload.get("path") is not None:
        with archives.open_folder(ctx.settings.import_root, payload["path"], limits) as archive:
            return read(archive)
    with tempfile.TemporaryDirectory(prefix="assay-import-") as spool:
        copy = Path(spool) / "archive"
        with copy.open("wb") as out:
            for chunk in store.open(payload["sha256"]):
                out.write(chunk)
        with archives.open_archive(copy, limits) as archive:
            return read(archive)


def _append(
    ctx: Any,
    payload: dict[str, Any],
    actor: Actor,
    records: list[tuple[str, Any]],
    stored: dict[str, blobs.StoredBlob],
    *,
    read_share: float,
) -> dict[str, Any]:
    """Append the records `CHUNK` at a time, recording the stored blobs their media are in
    the same transaction; progress runs from `read_share` to 1."""
    total, done, new, updated = len(records), 0, 0, 0

    def progress(message: str, *, force: bool = False) -> None:
        share = done / total if total else 0.0
        ctx.progress(read_share + (1 - read_share) * share, None, message, force=force)

    progress(f"read {total} items", force=True)
    for start in range(0, total, CHUNK):
        chunk = records[start : start + CHUNK]
        body = msgspec.json.encode({"items": [item for _, item in chunk]})
        shas = {str(item.get("media", ""))[5:] for _, item in chunk}
        try:
            append = wire.decode(body, wire.AppendIn)
            with ctx.db.write() as session:
                dataset = session.get(models.Dataset, payload["dataset_id"])
                if dataset is None or dataset.deleting:
                    raise PermanentError("the dataset was deleted during the import")
                blobs.record_blobs(
                    session=session,
                    stored=[stored[sha] for sha in sorted(shas) if sha in stored],
                    actor=actor,
                )
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
        progress(f"appended {done} of {total} items")
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
