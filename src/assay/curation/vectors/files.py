"""The index file: a JSON header, then the keys, the float32 vectors and the IVF blob.

Written to a temporary file beside the target, fsynced, then renamed over it, so a reader
sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assay.core.errors import Invalid

MAGIC = b"ASSAY-VECTORS\n"
FORMAT = 1
ALIGN = 64


@dataclass
class Stored:
    dim: int
    metric: str
    revision: int
    keys: np.ndarray
    vectors: np.ndarray
    ann: tuple[np.ndarray, int] | None
    settings: dict


def write(path: Path, *, dim, metric, revision, keys, vectors, ann, settings) -> None:
    header = {
        "format": FORMAT,
        "dim": dim,
        "metric": metric,
        "count": len(keys),
        "revision": revision,
        "ann_bytes": 0 if ann is None else len(ann[0]),
        "ann_trained_on": None if ann is None else ann[1],
        "settings": settings,
    }
    text = json.dumps(header).encode() + b"\n"
    lead = len(MAGIC) + len(text)
    pad = b" " * (-lead % ALIGN)  # arrays start aligned: np.fromfile / mmap friendly
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as out:
            out.write(MAGIC + text[:-1] + pad + b"\n")
            out.write(np.ascontiguousarray(keys, dtype="<i8").tobytes())
            np.ascontiguousarray(vectors, dtype="<f4").tofile(out)
            if ann is not None:
                out.write(ann[0].tobytes())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read(path: Path) -> Stored:
    with open(path, "rb") as source:
        if source.read(len(MAGIC)) != MAGIC:
            raise Invalid(f"{path.name} is not an Assay vector index", field="path")
        try:
            header = json.loads(source.readline())
        except ValueError as error:
            raise Invalid(f"{path.name} has a broken header", field="path") from error
        if header.get("format") != FORMAT:
            raise Invalid(f"{path.name}: unknown format {header.get('format')}", field="path")
        count, dim = header["count"], header["dim"]
        keys = np.fromfile(source, dtype="<i8", count=count)
        vectors = np.fromfile(source, dtype="<f4", count=count * dim)
        blob = np.fromfile(source, dtype=np.uint8, count=header["ann_bytes"])
        if len(keys) != count or len(vectors) != count * dim or len(blob) != header["ann_bytes"]:
            raise Invalid(f"{path.name} is truncated", field="path")
        vectors = vectors.reshape(count, dim)
        ann = (blob, header["ann_trained_on"]) if header["ann_bytes"] else None
    return Stored(dim, header["metric"], header["revision"], keys, vectors, ann, header["settings"])
