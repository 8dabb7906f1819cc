"""Native JSON Lines: one task per line out; one task's predictions per line in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from assay.core.errors import Invalid
from assay.labeling import formats


def task_line(task: formats.ExportTask) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "unique_id": task.unique_id,
        "batch": task.batch_id,
        "metadata": task.metadata,
        "params": task.params,
        "response": task.response,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
    }


def write(
    tasks: Iterable[formats.ExportTask], out: BinaryIO, context: formats.ExportContext
) -> None:
    for task in tasks:
        line = json.dumps(task_line(task), ensure_ascii=False, separators=(",", ":"))
        out.write(line.encode() + b"\n")
        context.stats.tasks += 1
        context.stats.annotations += len((task.response or {}).get("annotations") or [])


def read_prelabels(data: bytes, labels: Sequence[formats.Label]) -> Iterator[formats.PrelabelRow]:
    """Lines naming a task (`task_id`, `unique_id`, `attachment` or `file_name`, also inside
    `params`) with `prelabels`, `response` or bare `annotations` (this module's export reads
    back as prelabels)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the JSONL file is not UTF-8 text", field="blob") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield formats.PrelabelRow(number, {}, {}, error=f"not JSON: {exc}")
            continue
        if not isinstance(record, dict):
            yield formats.PrelabelRow(number, {}, {}, error="not a JSON object")
            continue
        yield _row(number, record)


def _row(number: int, record: dict[str, Any]) -> formats.PrelabelRow:
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    attachment = record.get("attachment") or params.get("attachment")
    match = formats.match_keys(
        task_id=record.get("task_id"),
        unique_id=record.get("unique_id"),
        attachment=attachment,
        file_name=record.get("file_name")
        or (formats.attachment_file_name(attachment) if isinstance(attachment, str) else None),
    )
    for key in ("prelabels", "response"):
        if isinstance(record.get(key), dict):
            return formats.PrelabelRow(number, match, record[key])
    if isinstance(record.get("annotations"), list):
        return formats.PrelabelRow(number, match, {"annotations": record["annotations"]})
    return formats.PrelabelRow(
        number, match, {}, error="no `prelabels`, `response` or `annotations` in the line"
    )


formats.register_exporter(
    formats.ExportFormat("jsonl", write, extension="jsonl", content_type="application/jsonl")
)
formats.register_importer(formats.ImportFormat("jsonl", read_prelabels))
