"""Item metadata updates by reference id, merged into what the item has (the update's keys
win), under one dataset revision: all or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from assay.core.db import utcnow
from assay.core.errors import Invalid
from assay.curation import models
from assay.curation.datasets import next_revision
from assay.curation.items import ITEMS, _chunks


def merge_metadata(
    *, session: Session, dataset: models.Dataset, updates: Mapping[str, dict[str, Any]]
) -> int:
    """Merge each mapping into the metadata of the item with that reference id; Invalid
    naming the first reference id the dataset lacks. Returns how many items changed."""
    current: dict[str, tuple[str, dict[str, Any]]] = {}
    for chunk in _chunks(list(updates)):
        rows = session.execute(
            select(ITEMS.c.reference_id, ITEMS.c.id, ITEMS.c.metadata).where(
                ITEMS.c.dataset_id == dataset.id, ITEMS.c.reference_id.in_(chunk)
            )
        )
        current.update({ref: (item_id, metadata or {}) for ref, item_id, metadata in rows})
    for reference_id, metadata in updates.items():
        if reference_id not in current:
            raise Invalid(
                f"no item with reference_id {reference_id!r} in this dataset",
                field=f"metadata[{reference_id}]",
            )
        if not isinstance(metadata, dict):
            raise Invalid("metadata must be an object", field=f"metadata[{reference_id}]")
    if not updates:
        return 0
    revision = next_revision(session, dataset.id)
    now = utcnow()
    rows = [
        {"key": current[ref][0], "metadata": {**current[ref][1], **metadata}}
        for ref, metadata in updates.items()
    ]
    session.execute(
        update(ITEMS)
        .where(ITEMS.c.id == bindparam("key"))
        .values(metadata=bindparam("metadata"), revision=revision, updated_at=now),
        rows,
    )
    return len(rows)
