"""Nucleus's `Dataset.deduplicate(threshold, reference_ids=None)` and
`deduplicate_by_ids(threshold, dataset_item_ids)` (docs/nucleus-wire.md §3.8): a job that
hashes each image (`curation/phash.py`, a 64-bit DCT hash) and keeps the first item of every
group within `threshold` bits. Its status message is the result the client's
`DeduplicationJob.result()` unpacks: the kept items' ids and reference ids and the counts.

Assay's own near-duplicates work on embeddings (`curation/measures.py`); this is Nucleus's
definition, on pixels, for the client's call."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter
from sqlalchemy import select

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import (
    DEDUPLICATE_JOB,
    job_actor,
    job_json,
    load_dataset,
    refusals_as_user_errors,
    string_list,
)
from assay.compat.scale_common import OptionalJsonObject
from assay.core import blobs, jobs
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import job_kind
from assay.curation import datasets, models, phash
from assay.curation.embedding_jobs import read_media

router = APIRouter(route_class=ScaleRoute)
ITEMS = models.Item.__table__
MAX_CHOSEN = 1_000_000


def _threshold(body: dict[str, Any]) -> int:
    value = body.get("threshold")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= phash.BITS:
        raise Invalid(
            f"threshold must be an integer from 0 to {phash.BITS} (bits)", field="threshold"
        )
    return value


def _chosen(session: Any, dataset: models.Dataset, body: dict[str, Any]) -> list[str] | None:
    """The items asked for (Assay ids), or None for the whole dataset; unknown ones refused."""
    for key, column, prefix in (
        ("reference_ids", ITEMS.c.reference_id, ""),
        ("dataset_item_ids", ITEMS.c.id, fmt.ITEM),
    ):
        if body.get(key) is None:
            continue
        wanted = [fmt.assay_id(prefix, v) if prefix else v for v in string_list(body, key)]
        if not wanted or len(wanted) > MAX_CHOSEN:
            raise Invalid(f"{key} holds 1 to {MAX_CHOSEN:,} ids", field=key)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 10_000):
            chunk = wanted[start : start + 10_000]
            found.update(
                session.execute(
                    select(column, ITEMS.c.id).where(
                        ITEMS.c.dataset_id == dataset.id, column.in_(chunk)
                    )
                ).all()
            )
        missing = [v for v in wanted if v not in found]
        if missing:
            raise NotFound(f"{len(missing)} of {key} not in the dataset, first {missing[0]!r}")
        return list(dict.fromkeys(found[v] for v in wanted))
    return None


@router.post("/dataset/{dataset_id}/deduplicate_async")
def deduplicate(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    body = body or {}
    threshold = _threshold(body)
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        chosen = _chosen(session, dataset, body)
        job = jobs.enqueue(
            session=session,
            kind=DEDUPLICATE_JOB,
            payload={
                "dataset_id": dataset.id,
                "item_ids": chosen,
                "threshold": threshold,
                "user_id": actor.user_id,
                "mode": actor.mode,
            },
            actor=actor,
        )
        return job_json(job)


@job_kind(DEDUPLICATE_JOB, max_attempts=2)
def run_deduplicate(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Hash the items' images in the order they were added, then keep each group's first."""
    with refusals_as_user_errors():
        with ctx.db.read() as session:
            actor = job_actor(session, payload)
            dataset = datasets.get_dataset(
                session=session, dataset_id=payload["dataset_id"], mode=actor.mode
            )
            query = select(ITEMS.c.id, ITEMS.c.reference_id, ITEMS.c.media).where(
                ITEMS.c.dataset_id == dataset.id
            )
            if payload["item_ids"] is not None:
                query = query.where(ITEMS.c.id.in_(payload["item_ids"]))
            rows = session.execute(query.order_by(ITEMS.c.seq)).all()
        store = blobs.open_store(ctx.settings)
        hashes = np.zeros(len(rows), dtype=np.uint64)
        for k, (_, reference_id, media) in enumerate(rows):
            if media is None:
                raise Invalid(f"item {reference_id!r} has no image to hash", field="reference_ids")
            try:
                hashes[k] = phash.phash(read_media(ctx, store, media))
            except (FileNotFoundError, Invalid) as error:
                raise Invalid(
                    f"item {reference_id!r}: its image could not be hashed ({error})",
                    field="reference_ids",
                ) from None
            if k % 200 == 0:
                ctx.progress(k, len(rows), f"hashed {k} of {len(rows)} images")
        kept = phash.first_of_each_group(phash.hamming_groups(hashes, payload["threshold"]))
    return {
        "unique_item_ids": [fmt.nucleus_id(fmt.ITEM, rows[k][0]) for k in kept],
        "unique_reference_ids": [rows[k][1] for k in kept],
        "stats": {
            "threshold": payload["threshold"],
            "original_count": len(rows),
            "deduplicated_count": len(kept),
        },
    }
