"""What a field of a query names in a snapshot's frames; unknown ones are named errors.

Item fields: reference_id, item_id, kind, width, height, tags, slices, metadata.<path>,
autotag.<name>, uniqueness, duplicates.group, duplicates.count (once computed), and counts:
annotations.count, annotations.<label>, predictions.count,
predictions.<model>, predictions.<model>.count, predictions.<model>.<label>.
Object fields (one annotation or prediction): annotation.<attr> (ground truth),
prediction.<attr> (any model), prediction.<model>.<attr>, object.<attr> (either);
<attr> is label, type, source, object_id, confidence, area, width, height, aspect, iou,
match, matched_id (the outcome of the latest evaluation: tp / fp / fn / ignored, the IoU
with and the id of the matched object) or attributes.<name>; prediction.model is the
prediction's model.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from assay.core.errors import InvalidQuery
from assay.curation.query.ast import Field, format_path
from assay.curation.query.frames import GT, ITEM_FIELDS, OBJECT_ATTRS, QueryFrames

ROOTS = (
    *ITEM_FIELDS,
    "metadata",
    "autotag",
    "uniqueness",
    "duplicates",
    "annotations",
    "predictions",
    "annotation",
    "prediction",
    "object",
)


# Per-item numbers computed over an embedding space (`curation/measures.py`): the call that
# computes each, for the error when it has not been.
MEASURES = {
    "uniqueness": "compute uniqueness (POST /datasets/{id}/uniqueness)",
    "duplicates.group": "find near-duplicates (POST /datasets/{id}/duplicates)",
    "duplicates.count": "find near-duplicates (POST /datasets/{id}/duplicates)",
}


# Object fields an evaluation writes back (`curation/evaluations.py`).
EVALUATED = ("match", "matched_id")


@dataclass(frozen=True)
class Resolved:
    """A field bound to the frames. `scope` (object fields): "gt", a model name, "*" for any
    model, or None for any object. `count` (item fields): (source or None for any model, label
    or None for all labels)."""

    level: str  # "item" or "object"
    type: str  # "number", "string", "bool", "list"
    column: str | None = None
    scope: str | None = None
    count: tuple[str | None, str | None] | None = None


def _unknown(
    field: Field, what: str, candidates: list[str], prefix: tuple[str, ...] = ()
) -> InvalidQuery:
    shown = format_path(field.path)
    where = f" at column {field.col}" if field.col else ""
    message = f'unknown {what} "{shown}"{where}'
    close = difflib.get_close_matches(shown, [format_path((*prefix, c)) for c in candidates], n=1)
    if not close and candidates:
        last = field.path[len(prefix)] if len(field.path) > len(prefix) else ""
        near = difflib.get_close_matches(last, candidates, n=1, cutoff=0.5)
        close = [format_path((*prefix, near[0]))] if near else []
    if close:
        message += f' (did you mean "{close[0]}"?)'
    return InvalidQuery(message, column=field.col, token=shown)


def resolve(field: Field, frames: QueryFrames) -> Resolved:
    path = field.path
    root = path[0]
    if root in ITEM_FIELDS and len(path) == 1:
        return Resolved("item", ITEM_FIELDS[root], column=root)
    if root in ("metadata", "autotag") and len(path) > 1:
        column = ".".join(path)
        kind = frames.item_types.get(column)
        if kind is None:
            names = [c.split(".", 1)[1] for c in frames.item_types if c.startswith(root + ".")]
            raise _unknown(field, "field", names, (root,))
        return Resolved("item", kind, column=column)
    if ".".join(path) in MEASURES:
        column = ".".join(path)
        if column not in frames.item_types:
            shown = format_path(path)
            raise InvalidQuery(
                f'"{shown}" is not computed for this dataset yet'
                + (f" (column {field.col})" if field.col else "")
                + f" — {MEASURES[column]} first",
                column=field.col,
                token=shown,
            )
        return Resolved("item", "number", column=column)
    if root == "duplicates" and len(path) == 2:
        raise _unknown(field, "field", ["group", "count"], ("duplicates",))
    if root == "annotations" and len(path) == 2:
        return _count(field, frames, GT, path[1], ("annotations",))
    if root == "predictions" and len(path) in (2, 3):
        if len(path) == 2 and path[1] == "count":
            return Resolved("item", "number", count=(None, None))
        model = path[1]
        if model not in frames.models:
            raise _unknown(Field(path[:2], field.col), "model", list(frames.models), path[:1])
        return _count(field, frames, model, path[2] if len(path) == 3 else "count", path[:2])
    if root in ("annotation", "prediction", "object") and len(path) > 1:
        return _object_field(field, frames)
    if root in ROOTS and len(path) == 1:
        raise InvalidQuery(
            f'incomplete field "{format_path(path)}" at column {field.col}'
            if field.col
            else f'incomplete field "{format_path(path)}"',
            column=field.col,
            token=format_path(path),
        )
    near = difflib.get_close_matches(root, ROOTS, n=1, cutoff=0.6)
    if near and len(path) > 1 and near[0] != root:
        shown, fixed = format_path(path), format_path((near[0], *path[1:]))
        return_error = f'unknown field "{shown}"' + (f" at column {field.col}" if field.col else "")
        raise InvalidQuery(
            f'{return_error} (did you mean "{fixed}"?)', column=field.col, token=shown
        )
    raise _unknown(field, "field", list(ROOTS))


def _count(
    field: Field, frames: QueryFrames, source: str, label: str, prefix: tuple[str, ...]
) -> Resolved:
    if label == "count":
        return Resolved("item", "number", count=(source, None))
    labels = frames.labels_of(source)
    if label not in labels:
        raise _unknown(field, "label", list(labels), prefix)
    return Resolved("item", "number", count=(source, label))


def _object_field(field: Field, frames: QueryFrames) -> Resolved:
    root, rest = field.path[0], field.path[1:]
    scope: str | None = {"annotation": GT, "prediction": "*", "object": None}[root]
    if (
        root == "prediction"
        and rest[0] not in OBJECT_ATTRS
        and rest[0] not in ("model", "attributes")
    ):
        if rest[0] not in frames.models:
            named = Field(field.path[:2], field.col)
            raise _unknown(named, "model or attribute", [*frames.models, *OBJECT_ATTRS], (root,))
        scope, rest = rest[0], rest[1:]
        if not rest:
            raise InvalidQuery(
                f'incomplete field "{format_path(field.path)}"'
                + (f" at column {field.col}" if field.col else ""),
                column=field.col,
                token=format_path(field.path),
            )
    attr = rest[0]
    if root == "prediction" and attr == "model" and len(rest) == 1:
        attr = "source"
    if attr == "attributes" and len(rest) > 1:
        column = ".".join(rest)
        kind = frames.object_types.get(column)
        if kind is None:
            names = [c.split(".", 1)[1] for c in frames.object_types if c.startswith("attributes.")]
            raise _unknown(field, "attribute", names, (field.path[0], "attributes"))
        return Resolved("object", kind, column=column, scope=scope)
    if attr in EVALUATED and len(rest) == 1 and attr not in frames.object_types:
        shown = format_path(field.path)
        raise InvalidQuery(
            f'"{shown}" needs an evaluation of the model'
            + (f" (column {field.col})" if field.col else "")
            + " — evaluate it first (POST /datasets/{id}/evaluations)",
            column=field.col,
            token=shown,
        )
    if attr not in OBJECT_ATTRS or len(rest) > 1 or attr not in frames.object_types:
        raise _unknown(
            field,
            "field",
            [a for a in OBJECT_ATTRS if a in frames.object_types],
            field.path[: len(field.path) - len(rest)],
        )
    return Resolved("object", OBJECT_ATTRS[attr], column=attr, scope=scope)
