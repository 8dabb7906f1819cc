"""Frames from stored rows: the items and objects frames of a dataset snapshot
(`snapshots.py` reads the rows and keeps the snapshots; this module only shapes them).

Pure over rows and Polars: no database. Stored JSON is parsed by Polars as NDJSON (no Python
object per shape); metadata is flattened to typed `metadata.<path>` columns and shape extents
are computed per type.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import polars as pl


def _quoted(text: str) -> str:
    return json.dumps(text)


def _json_lines(texts: Iterable[str | None], empty: str) -> bytes:
    return "\n".join(text or empty for text in texts).encode()


def _flatten(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """Struct columns unnested into dotted names (`metadata.camera.id`), recursively."""
    while True:
        structs = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Struct)]
        if not structs:
            break
        for name in structs:
            fields = frame[name].struct.fields
            if not fields:
                frame = frame.drop(name)
                continue
            frame = frame.with_columns(
                [pl.col(name).struct.field(f).alias(f"{name}.{f}") for f in fields]
            ).drop(name)
    renamed = {name: f"{prefix}.{name}" for name in frame.columns}
    return frame.rename(renamed)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns the query language can compare: numbers as Float64, lists of scalars as lists
    of strings or numbers; anything else (mixed, nested lists) as its JSON text."""
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype.is_numeric():
            columns.append(column.cast(pl.Float64))
        elif dtype in (pl.Utf8, pl.Boolean, pl.Null):
            columns.append(column.cast(pl.Utf8) if dtype == pl.Null else column)
        elif isinstance(dtype, pl.List) and dtype.inner.is_numeric():
            columns.append(column.cast(pl.List(pl.Float64)))
        elif isinstance(dtype, pl.List) and dtype.inner in (pl.Utf8, pl.Boolean):
            columns.append(column.cast(pl.List(pl.Utf8)))
        else:
            columns.append(column.map_elements(_json_text, return_dtype=pl.Utf8, skip_nulls=True))
    return frame.select(columns)


def _json_text(value: Any) -> str:
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, separators=(",", ":"), default=str)


def _read_ndjson(data: bytes, rows: int) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame()
    try:
        return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
        # Values of different types under one key: read as JSON text per row and key.
        records = [json.loads(line) for line in data.split(b"\n")]
        keys = sorted({k for r in records for k in r})
        return pl.DataFrame(
            {k: [None if k not in r else json.dumps(r[k]) for r in records] for k in keys},
            schema={k: pl.Utf8 for k in keys},
        )


def items_frame(
    rows: Sequence[tuple],
    slices: dict[str, list[str]] | None = None,
    autotags: dict[str, dict[str, float]] | None = None,
) -> pl.DataFrame:
    """The items frame of `_item_rows` rows (`row` numbered 0..n-1 in their order), with the
    static slices holding each and committed autotag scores (`autotag.<name>`)."""
    slices = slices or {}
    base = pl.DataFrame(
        {
            "row": pl.Series(np.arange(len(rows), dtype=np.uint32)),
            "item_id": [r[0] for r in rows],
            "reference_id": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "width": pl.Series([r[3] for r in rows], dtype=pl.Float64),
            "height": pl.Series([r[4] for r in rows], dtype=pl.Float64),
            "seq": pl.Series([r[7] for r in rows], dtype=pl.Int64),
        },
        schema_overrides={"item_id": pl.Utf8, "reference_id": pl.Utf8, "kind": pl.Utf8},
    )
    # Known shapes parse without inference: tags are lists of strings.
    tags = pl.Series("tags", [r[5] or "[]" for r in rows], dtype=pl.Utf8).str.json_decode(
        pl.List(pl.Utf8)
    )
    base = base.with_columns(tags.fill_null([]))
    base = base.join(
        _per_item(slices, "slices"), on="item_id", how="left", maintain_order="left"
    ).with_columns(pl.col("slices").fill_null([]))
    for name, scores in sorted((autotags or {}).items()):
        column = f"autotag.{name}"
        found = pl.DataFrame(
            {"item_id": list(scores), column: list(scores.values())},
            schema={"item_id": pl.Utf8, column: pl.Float64},
        )
        base = base.join(found, on="item_id", how="left", maintain_order="left")
    metadata = _read_ndjson(_json_lines((r[6] for r in rows), "{}"), len(rows))
    if metadata.width:
        base = pl.concat([base, _typed(_flatten(metadata, "metadata"))], how="horizontal")
    return base


def with_measures(items: pl.DataFrame, measures: dict[str, np.ndarray]) -> pl.DataFrame:
    """The items frame with a Float64 column per measure (`uniqueness`, `duplicates.count`),
    its values looked up by each row's `seq` (float arrays indexed by seq; NaN: none)."""
    seqs = items["seq"].to_numpy()
    columns = []
    for field, by_seq in sorted(measures.items()):
        values = np.full(len(seqs), np.nan)
        inside = seqs < len(by_seq)
        values[inside] = by_seq[seqs[inside]]
        columns.append(pl.Series(field, values, dtype=pl.Float64).fill_nan(None))
    return items.with_columns(columns) if columns else items


def measures_of(items: pl.DataFrame, fields: Iterable[str]) -> dict[str, np.ndarray]:
    """The measure columns an items frame holds, back as arrays indexed by seq."""
    seqs = items["seq"].to_numpy()
    out = {}
    for field in fields:
        if field in items.columns:
            by_seq = np.full(int(seqs.max(initial=-1)) + 1, np.nan)
            by_seq[seqs] = items[field].fill_null(np.nan).to_numpy()
            out[field] = by_seq
    return out


def _per_item(lists: dict[str, list[str]], name: str) -> pl.DataFrame:
    """(item_id, name: sorted list) rows of a mapping, for a join."""
    return pl.DataFrame(
        {"item_id": list(lists), name: [sorted(v) for v in lists.values()]},
        schema={"item_id": pl.Utf8, name: pl.List(pl.Utf8)},
    )


def objects_frame(
    shape_rows: Sequence[tuple[str, str, str]], item_rows: dict[str, int], names: dict[str, str]
) -> pl.DataFrame:
    """The objects frame of (item id, source id, shapes text) rows."""
    lines = (
        f'{{"item_row":{item_rows[item_id]},"item":"{item_id}","source":"{source}",'
        f'"name":{_quoted(names.get(source, source))},"shapes":{text}}}'
        for item_id, source, text in shape_rows
    )
    raw = _read_ndjson(_json_lines(lines, "{}"), len(shape_rows))
    if raw.height == 0 or "shapes" not in raw.columns:
        return _empty_objects()
    exploded = (
        raw.with_columns(pl.col("shapes").list.len().alias("_count"))
        .filter(pl.col("_count") > 0)
        .with_columns(pl.int_ranges(0, pl.col("_count")).alias("_k"))
        .explode("shapes", "_k")
        .unnest("shapes")
    )
    return _objects_columns(exploded)


def _field(frame: pl.DataFrame, name: str, dtype: pl.DataType = pl.Float64) -> pl.Expr:
    found = pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)
    return found.alias(name)


def _objects_columns(frame: pl.DataFrame) -> pl.DataFrame:
    kind = pl.col("type")
    width, height = _field(frame, "width"), _field(frame, "height")
    rx, ry = _field(frame, "rx"), _field(frame, "ry")
    extent_w = (
        pl.when(kind == "box")
        .then(width)
        .when(kind == "ellipse")
        .then(2 * rx)
        .when(kind == "cuboid")
        .then(_face(frame, "width"))
        .when(kind.is_in(["polygon", "line"]))
        .then(_span(frame, "vertices", "x"))
        .when(kind == "keypoints")
        .then(_span(frame, "points", "x"))
        .when(kind == "mask")
        .then(_rle(frame, 1))
        .otherwise(None)
    )
    extent_h = (
        pl.when(kind == "box")
        .then(height)
        .when(kind == "ellipse")
        .then(2 * ry)
        .when(kind == "cuboid")
        .then(_face(frame, "height"))
        .when(kind.is_in(["polygon", "line"]))
        .then(_span(frame, "vertices", "y"))
        .when(kind == "keypoints")
        .then(_span(frame, "points", "y"))
        .when(kind == "mask")
        .then(_rle(frame, 0))
        .otherwise(None)
    )
    # The left and top of the shape's extent (boxes and polygons evaluate by their box).
    left = (
        pl.when(kind == "box")
        .then(_field(frame, "x"))
        .when(kind == "ellipse")
        .then(_field(frame, "cx") - rx)
        .when(kind == "cuboid")
        .then(_face(frame, "x"))
        .when(kind.is_in(["polygon", "line"]))
        .then(_least(frame, "vertices", "x"))
        .when(kind == "keypoints")
        .then(_least(frame, "points", "x"))
        .otherwise(None)
    )
    top = (
        pl.when(kind == "box")
        .then(_field(frame, "y"))
        .when(kind == "ellipse")
        .then(_field(frame, "cy") - ry)
        .when(kind == "cuboid")
        .then(_face(frame, "y"))
        .when(kind.is_in(["polygon", "line"]))
        .then(_least(frame, "vertices", "y"))
        .when(kind == "keypoints")
        .then(_least(frame, "points", "y"))
        .otherwise(None)
    )
    area = (
        pl.when(kind == "ellipse")
        .then(np.pi * rx * ry)
        .when(kind == "polygon")
        .then(_shoelace(frame))
        .when(kind == "mask")
        .then(_mask_area(frame))
        .otherwise(pl.col("_w") * pl.col("_h"))
    )
    attributes = []
    if "attributes" in frame.columns and isinstance(frame.schema["attributes"], pl.Struct):
        attributes = [
            c
            for c in _typed(_flatten(frame.select("attributes"), "x"))
            .rename(lambda name: name.removeprefix("x."))
            .get_columns()
        ]
    out = frame.select(
        pl.col("item_row").cast(pl.UInt32),
        # Stable while the item's shapes are: its id, the source's id, the shape's place.
        pl.format("{}:{}:{}", pl.col("item"), pl.col("source"), pl.col("_k")).alias("object_id"),
        pl.col("name").cast(pl.Utf8).alias("source"),
        kind.cast(pl.Utf8),
        _field(frame, "label", pl.Utf8).fill_null(""),
        _field(frame, "confidence"),
        extent_w.alias("_w"),
        extent_h.alias("_h"),
        left.alias("_x"),
        top.alias("_y"),
        *([pl.col("rle")] if "rle" in frame.columns else []),
        *([pl.col("vertices")] if "vertices" in frame.columns else []),
        *([rx.alias("rx"), ry.alias("ry")] if "rx" in frame.columns else []),
    )
    out = out.with_columns(area.alias("area")).select(
        "item_row",
        "object_id",
        "source",
        "type",
        "label",
        "confidence",
        "area",
        pl.col("_w").alias("width"),
        pl.col("_h").alias("height"),
        (pl.col("_w") / pl.col("_h")).alias("aspect"),
        pl.lit(None, dtype=pl.Float64).alias("iou"),
        pl.col("_x").alias("x"),
        pl.col("_y").alias("y"),
    )
    if attributes:
        out = pl.concat([out, pl.DataFrame(attributes)], how="horizontal")
    return out


def _face(frame: pl.DataFrame, side: str) -> pl.Expr:
    if "front" not in frame.columns:
        return pl.lit(None, dtype=pl.Float64)
    return pl.col("front").struct.field(side).cast(pl.Float64)


def _least(frame: pl.DataFrame, column: str, axis: str) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, dtype=pl.Float64)
    return pl.col(column).list.eval(pl.element().struct.field(axis).cast(pl.Float64)).list.min()


def _span(frame: pl.DataFrame, column: str, axis: str) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, dtype=pl.Float64)
    values = pl.col(column).list.eval(pl.element().struct.field(axis).cast(pl.Float64))
    return values.list.max() - values.list.min()


def _shoelace(frame: pl.DataFrame) -> pl.Expr:
    if "vertices" not in frame.columns:
        return pl.lit(None, dtype=pl.Float64)
    xs = pl.col("vertices").list.eval(pl.element().struct.field("x").cast(pl.Float64))
    ys = pl.col("vertices").list.eval(pl.element().struct.field("y").cast(pl.Float64))
    # x_k * y_(k+1) - x_(k+1) * y_k around the ring, as lists rotated by one.
    x_next = pl.concat_list(xs.list.slice(1), xs.list.slice(0, 1))
    y_next = pl.concat_list(ys.list.slice(1), ys.list.slice(0, 1))
    cross = pl.struct(
        xs.alias("x"), ys.alias("y"), x_next.alias("xn"), y_next.alias("yn")
    ).map_elements(_ring_area, return_dtype=pl.Float64)
    return cross


def _ring_area(ring: dict[str, list[float]]) -> float | None:
    xs, ys, xn, yn = ring["x"], ring["y"], ring["xn"], ring["yn"]
    if not xs:
        return None
    return abs(sum(a * d - c * b for a, b, c, d in zip(xs, ys, xn, yn, strict=False))) / 2


def _rle(frame: pl.DataFrame, index: int) -> pl.Expr:
    if "rle" not in frame.columns:
        return pl.lit(None, dtype=pl.Float64)
    return pl.col("rle").struct.field("size").list.get(index).cast(pl.Float64)


def _mask_area(frame: pl.DataFrame) -> pl.Expr:
    if "rle" not in frame.columns:
        return pl.lit(None, dtype=pl.Float64)
    counts = pl.col("rle").struct.field("counts")
    return counts.list.gather_every(2, offset=1).list.sum().cast(pl.Float64)


def _empty_objects() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "item_row": pl.UInt32,
            "object_id": pl.Utf8,
            "source": pl.Utf8,
            "type": pl.Utf8,
            "label": pl.Utf8,
            "confidence": pl.Float64,
            "area": pl.Float64,
            "width": pl.Float64,
            "height": pl.Float64,
            "aspect": pl.Float64,
            "iou": pl.Float64,
            "x": pl.Float64,
            "y": pl.Float64,
        }
    )
