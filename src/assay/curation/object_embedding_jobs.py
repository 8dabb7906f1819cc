"""Computing object embeddings as a job: each object's box cropped from its item's picture
and embedded by a registered image embedder (`embedders.py`), into the object space named
after it (`object_embeddings.py`).

`curation.compute_object_embeddings` takes one source's objects (ground truth, or a model's
predictions) on the dataset's live items: boxes as they are, polygons, lines and keypoints
by the box around their points. Objects without such a box (categories, 3D cuboids,
masks), items without a picture (text, point clouds), and boxes that fall outside their
picture are skipped and counted; a picture that cannot be read counts its objects failed.
`missing_only` (Nucleus's `create_object_index`) leaves objects already embedded in the
space alone. The crops of a batch of items are embedded by the compute executor
(`embedding_jobs.embed_batch`, in the worker thread or as Ray tasks) and written in a short
transaction per batch, with progress; a retried job starts again (writing a vector twice
replaces it).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import blobs
from assay.core.auth import Actor
from assay.core.compute import executor_from_settings
from assay.core.errors import Invalid
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.core.models import Job
from assay.curation import models, object_embeddings
from assay.curation.embedders import get_embedder
from assay.curation.embedding_jobs import embed_batch, read_media
from assay.curation.slice_objects import ObjectRef, shape_key

COMPUTE_JOB = "curation.compute_object_embeddings"
ITEMS = models.Item.__table__
ANNOTATIONS = models.Annotation.__table__
BATCH_ITEMS = 16
MIN_SIDE = 1.0  # pixels: a thinner crop is no picture


def start_compute(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    embedder: str,
    source_id: str,
    space: str | None = None,
    missing_only: bool = True,
) -> Job:
    """Queue embedding a source's objects (ground truth "" or a model's id) with a
    registered image embedder into `space` (named after the embedder when None)."""
    found = get_embedder(embedder)
    space = space or embedder
    known = object_embeddings.spaces_of(dataset).get(space)
    if known is not None and known["dim"] != found.dim:
        raise Invalid(
            f"object space {space!r} holds vectors of {known['dim']}; {embedder} makes {found.dim}",
            field="space",
        )
    object_embeddings.check_vectors(dataset=dataset, space=space, vectors=[], fields=[])
    return enqueue(
        session=session,
        kind=COMPUTE_JOB,
        payload={
            "dataset_id": dataset.id,
            "space": space,
            "embedder": embedder,
            "source_id": source_id,
            "missing_only": missing_only,
        },
        actor=actor,
    )


def object_box(shape: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) of a 2D shape in its item's pixels, or None without one."""
    kind = shape.get("type")
    if kind == "box":
        x, y, w, h = (shape.get(k) for k in ("x", "y", "width", "height"))
        if None in (x, y, w, h):
            return None
        return float(x), float(y), float(x) + float(w), float(y) + float(h)  # type: ignore[arg-type]
    points = shape.get("vertices") if kind in ("polygon", "line") else None
    if kind == "keypoints":
        points = [p for p in shape.get("points") or [] if p.get("visible", True)]
    if not points:
        return None
    xs = [float(p["x"]) for p in points]
    ys = [float(p["y"]) for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def crop(picture: Any, box: tuple[float, float, float, float]) -> bytes | None:
    """The box's part of a decoded picture as PNG bytes, or None when less than a pixel of
    it lies inside the picture."""
    left, top = max(0.0, box[0]), max(0.0, box[1])
    right, bottom = min(float(picture.width), box[2]), min(float(picture.height), box[3])
    if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
        return None
    out = io.BytesIO()
    picture.crop((int(left), int(top), int(np.ceil(right)), int(np.ceil(bottom)))).save(
        out, format="PNG"
    )
    return out.getvalue()


def _objects(session: Session, dataset_id: str, source_id: str) -> list[tuple[str, str | None]]:
    """(item id, media) of the live items with shapes from the source, in id order."""
    return list(
        session.execute(
            select(ITEMS.c.id, ITEMS.c.media)
            .join(ANNOTATIONS, ANNOTATIONS.c.item_id == ITEMS.c.id)
            .where(ITEMS.c.dataset_id == dataset_id, ANNOTATIONS.c.source_id == source_id)
            .order_by(ITEMS.c.id)
        ).all()
    )


@job_kind(COMPUTE_JOB, max_attempts=3)
def run_compute(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Embed the source's objects, a batch of items at a time."""
    from PIL import Image, UnidentifiedImageError

    get_embedder(payload["embedder"])  # refused here, not on a worker, when unknown
    store = blobs.open_store(ctx.settings)
    source_id, space = payload["source_id"], payload["space"]
    with ctx.db.read() as session:
        dataset = session.get(models.Dataset, payload["dataset_id"])
        if dataset is None or dataset.deleting:
            raise PermanentError("the dataset is gone")
        targets = _objects(session, dataset.id, source_id)
        have: set[ObjectRef] = set()
        if payload.get("missing_only") and space in object_embeddings.spaces_of(dataset):
            have = object_embeddings.embedded_refs(session, dataset, space, source_id)
    counts = {"embedded": 0, "skipped": 0, "failed": 0, "already": 0}
    sent: deque[list[ObjectRef]] = deque()

    def work() -> Iterator[tuple[str, list[bytes], list[str]]]:
        for start in range(0, len(targets), BATCH_ITEMS):
            chunk = targets[start : start + BATCH_ITEMS]
            with ctx.db.read() as session:
                shapes = dict(
                    session.execute(
                        select(ANNOTATIONS.c.item_id, ANNOTATIONS.c.shapes).where(
                            ANNOTATIONS.c.item_id.in_([item_id for item_id, _ in chunk]),
                            ANNOTATIONS.c.source_id == source_id,
                        )
                    ).all()
                )
            refs: list[ObjectRef] = []
            crops: list[bytes] = []
            for item_id, media in chunk:
                wanted = []
                for shape in shapes.get(item_id) or []:
                    ref = ObjectRef(item_id, source_id, shape_key(shape))
                    if ref in have:
                        counts["already"] += 1
                        continue
                    box = object_box(shape)
                    if box is None or media is None:
                        counts["skipped"] += 1
                    else:
                        wanted.append((ref, box))
                if not wanted:
                    continue
                try:
                    picture = Image.open(io.BytesIO(read_media(ctx, store, media)))
                    picture = picture.convert("RGB")
                except (FileNotFoundError, Invalid, UnidentifiedImageError, OSError):
                    counts["failed"] += len(wanted)  # outbound's refusals are Invalid
                    continue
                for ref, box in wanted:
                    found = crop(picture, box)
                    if found is None:
                        counts["skipped"] += 1
                    else:
                        refs.append(ref)
                        crops.append(found)
            sent.append(refs)
            yield payload["embedder"], crops, []

    total = len(targets)
    done = 0
    ctx.progress(0, total, f"embedding the objects of {total} items", force=True)
    for vectors in executor_from_settings(ctx.settings).map(embed_batch, work()):
        refs = sent.popleft()
        if refs:
            with ctx.db.write() as session:
                dataset = session.get(models.Dataset, payload["dataset_id"])
                if dataset is None or dataset.deleting:
                    raise PermanentError("the dataset was deleted while embedding")
                matrix = np.asarray(vectors, dtype=np.float32)
                object_embeddings.check_vectors(
                    dataset=dataset,
                    space=space,
                    vectors=matrix,  # type: ignore[arg-type]
                    fields=["embedder"] * len(refs),
                )
                counts["embedded"] += object_embeddings.write_vectors(
                    session=session,
                    dataset=dataset,
                    space=space,
                    objects=refs,
                    matrix=matrix,
                    embedder=payload["embedder"],
                )
        done = min(total, done + BATCH_ITEMS)
        ctx.progress(done, total, f"embedded the objects of {done} of {total} items")
    return {**counts, "space": space, "source_id": source_id}
