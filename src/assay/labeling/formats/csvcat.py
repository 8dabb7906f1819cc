"""CSV for categorization: `task_id, unique_id, label`, then one column per attribute.

Multi-select labels and list values are joined by `|`; an attribute named like a fixed
column is written as `attribute:<name>`. Attribute columns are the global
attributes and the chosen categories' attributes, in order of first appearance (a value
given by several categories is joined by `|` too). Text cells that a spreadsheet would run
as a formula (starting with = + - @ or a tab/return) get a leading `'`, because labelers
write these values and managers open the file.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable
from typing import Any, BinaryIO

from assay.labeling import formats

FIXED_COLUMNS = ("task_id", "unique_id", "label")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _cell(value: Any) -> str:
    text = _text(value)
    if isinstance(value, str | list) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def task_row(task: formats.ExportTask) -> tuple[list[str], dict[str, Any]]:
    """(chosen labels, attribute name -> value) of one task's response."""
    response = task.response or {}
    labels: list[str] = []
    attributes: dict[str, list[Any]] = {}

    def add(values: dict[str, Any]) -> None:
        for name, value in values.items():
            attributes.setdefault(name, []).extend(value if isinstance(value, list) else [value])

    add(response.get("global_attributes") or {})
    for ann in response.get("annotations") or []:
        if ann.get("type", "category") != "category":
            continue
        label = ann.get("label")
        labels += [str(v) for v in label] if isinstance(label, list) else [str(label)]
        add(ann.get("attributes") or {})
    return labels, {k: v[0] if len(v) == 1 else v for k, v in attributes.items()}


def write(
    tasks: Iterable[formats.ExportTask], out: BinaryIO, context: formats.ExportContext
) -> None:
    # Two passes over a spool file: the attribute columns are known only after the last task.
    columns: dict[str, None] = {}
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=context.tmp_dir) as spool:
        for task in tasks:
            labels, attributes = task_row(task)
            columns.update(dict.fromkeys(attributes))
            spool.write(json.dumps([task.id, task.unique_id, labels, attributes]) + "\n")
            context.stats.tasks += 1
            context.stats.annotations += len(labels)
        spool.seek(0)
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        try:
            writer = csv.writer(text)
            # An attribute named like a fixed column gets its own, prefixed column.
            writer.writerow(
                [*FIXED_COLUMNS, *(f"attribute:{c}" if c in FIXED_COLUMNS else c for c in columns)]
            )
            for line in spool:
                task_id, unique_id, labels, attributes = json.loads(line)
                writer.writerow(
                    [task_id, unique_id or "", _text(labels)]
                    + [_cell(attributes.get(column)) for column in columns]
                )
        finally:
            text.detach()


formats.register_exporter(
    formats.ExportFormat(
        "csv",
        write,
        extension="csv",
        content_type="text/csv",
        task_types=frozenset({"categorization"}),
    )
)
