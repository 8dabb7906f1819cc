"""Results out and predictions in: converters between native responses and file formats.

Pure code (no database): an exporter writes an iterable of `ExportTask` to a binary file, an
importer turns the bytes of a file into `PrelabelRow`s. Built-in formats register through
`register_exporter` / `register_importer`, the same calls a plugin makes.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from assay.core.errors import Invalid
from assay.labeling.taxonomy import Taxonomy


@dataclass(frozen=True)
class ExportTask:
    """One task as exporters see it; `file_name` is resolved by the caller (blob names)."""

    id: str
    unique_id: str | None
    batch_id: str | None
    status: str
    params: dict[str, Any]
    metadata: dict[str, Any]
    response: dict[str, Any] | None
    completed_at: dt.datetime | None
    file_name: str = ""


@dataclass(frozen=True)
class Label:
    """A taxonomy label in taxonomy order; `keypoints` names a keypoint label's points and
    `skeleton` the pairs of them drawn joined."""

    name: str
    keypoints: tuple[str, ...] = ()
    skeleton: tuple[tuple[str, str], ...] = ()


@dataclass
class ExportStats:
    """What an export wrote and what it had to leave out (reason -> count)."""

    tasks: int = 0
    annotations: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class ExportContext:
    labels: Sequence[Label]
    stats: ExportStats
    tmp_dir: Path | None = None


@dataclass
class PrelabelRow:
    """One input record: how to find its task, and the predictions to attach to it.

    `match` may hold `task_id`, `unique_id`, `attachment`, `file_name` and `stem` (a file
    name without extension); the first key that finds a task wins, in that order.
    `normalized` responses (YOLO) hold coordinates in [0, 1] until the image size is known.
    """

    row: int
    match: dict[str, str]
    response: dict[str, Any]
    normalized: bool = False
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # set when the record cannot be used at all

    def describe(self) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in self.match.items()) or "no task reference"
        return f"row {self.row} ({keys})"


class Exporter(Protocol):
    def __call__(
        self, tasks: Iterable[ExportTask], out: BinaryIO, context: ExportContext
    ) -> None: ...


@dataclass(frozen=True)
class ExportFormat:
    name: str
    write: Exporter
    extension: str
    content_type: str
    # Native task types the format can express; None: every type.
    task_types: frozenset[str] | None = None


Importer = Callable[[bytes, Sequence[Label]], Iterator[PrelabelRow]]


@dataclass(frozen=True)
class ImportFormat:
    name: str
    read: Importer
    task_types: frozenset[str] | None = None


EXPORT_FORMATS: dict[str, ExportFormat] = {}
IMPORT_FORMATS: dict[str, ImportFormat] = {}


def register_exporter(fmt: ExportFormat) -> ExportFormat:
    EXPORT_FORMATS[fmt.name] = fmt
    return fmt


def register_importer(fmt: ImportFormat) -> ImportFormat:
    IMPORT_FORMATS[fmt.name] = fmt
    return fmt


def check_task_type(formats: dict[str, Any], name: str, task_type: str) -> Any:
    """The registered format `name`, or Invalid(field="format") if it cannot hold the type."""
    fmt = formats.get(name)
    if fmt is None:
        raise Invalid(f"unknown format {name!r}; formats: {', '.join(formats)}", field="format")
    if fmt.task_types is not None and task_type not in fmt.task_types:
        raise Invalid(
            f"format {name!r} holds {', '.join(sorted(fmt.task_types))} tasks, "
            f"not {task_type} tasks; use jsonl",
            field="format",
        )
    return fmt


# --- taxonomy and attachments -------------------------------------------------------------


def taxonomy_labels(taxonomy: Taxonomy) -> list[Label]:
    """The taxonomy's labels in order, with their keypoint names and skeletons."""
    return [
        Label(label.name, tuple(label.keypoints), tuple((a, b) for a, b in label.skeleton))
        for label in taxonomy.labels
    ]


def attachment_of(params: dict[str, Any]) -> str:
    value = params.get("attachment")
    return value if isinstance(value, str) else ""


def attachment_file_name(attachment: str) -> str:
    """The last path segment of an attachment URL, percent-decoded (the caller names blobs)."""
    return posixpath.basename(unquote(urlparse(attachment).path).replace("\\", "/"))


def file_stem(name: str) -> str:
    base = posixpath.basename(name.replace("\\", "/"))
    stem, dot, _ = base.rpartition(".")
    return stem if dot and stem else base


def match_keys(
    *,
    task_id: Any = None,
    unique_id: Any = None,
    attachment: Any = None,
    file_name: Any = None,
    stem: Any = None,
) -> dict[str, str]:
    """The non-empty string references of an input record."""
    given = {
        "task_id": task_id,
        "unique_id": unique_id,
        "attachment": attachment,
        "file_name": file_name and posixpath.basename(str(file_name).replace("\\", "/")),
        "stem": stem,
    }
    return {k: str(v) for k, v in given.items() if isinstance(v, str | int) and str(v)}


from assay.labeling.formats import coco, conll, csvcat, jsonl, yolo  # noqa: E402, F401
