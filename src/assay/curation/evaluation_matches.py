"""A finished detection evaluation's per-object outcomes, read back: what snapshots join into
the objects frame (`snapshots.with_matches`) and what a model's matches are listed from
(Nucleus's `query_objects(..., "iou" | "false_positive" | "false_negative")`).

The outcomes (`evaluations._matches_frame`) are one row per evaluated object: `object_id`,
`item_id`, `prediction`, `match` (`tp` / `fp` / `fn` / `ignored`), `iou` and `matched_id`,
at the evaluation's writeback IoU threshold. Object ids name a shape by its place in its
item's list ("<item>:<source>:<place>"), so an item changed after the evaluation read it
has its outcomes dropped rather than pinned on other shapes.
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.curation import models

ITEMS = models.Item.__table__
EVALUATIONS = models.Evaluation.__table__
RESULTS = models.EvaluationResult.__table__
# What the listing keeps: every outcome of the model's objects, or its misses of one kind.
OUTCOMES = ("all", "fp", "fn")


def stored_matches(
    session: Session, dataset_id: str, evaluation_id: str, read_at: int
) -> pl.DataFrame:
    """The evaluation's outcomes, without those of items changed since it read them."""
    data = session.scalar(select(RESULTS.c.matches).where(RESULTS.c.evaluation_id == evaluation_id))
    frame = pl.read_parquet(io.BytesIO(data))
    changed = list(
        session.scalars(
            select(ITEMS.c.id).where(ITEMS.c.dataset_id == dataset_id, ITEMS.c.revision > read_at)
        )
    )
    if changed:
        frame = frame.filter(~pl.col("item_id").is_in(changed))
    return frame


def latest_evaluation(
    *, session: Session, dataset: models.Dataset, model_id: str
) -> models.Evaluation | None:
    """The model's latest finished detection evaluation on the dataset."""
    return session.scalar(
        select(models.Evaluation)
        .where(
            models.Evaluation.dataset_id == dataset.id,
            models.Evaluation.model_id == model_id,
            models.Evaluation.task == "detection",
            models.Evaluation.status == "done",
        )
        .order_by(models.Evaluation.revision.desc())
        .limit(1)
    )


def model_matches(
    *,
    session: Session,
    evaluation: models.Evaluation,
    objects: pl.DataFrame,
    mask: np.ndarray,
    outcome: str = "all",
) -> pl.DataFrame:
    """The evaluation's outcomes of the objects a query matched (`mask` over the snapshot's
    objects frame), in the frame's order: a true positive once (as its prediction), false
    positives, misses (`fn`); `outcome` keeps only false positives or only misses. Columns:
    `object_id`, `item_id`, `prediction`, `match`, `iou`, `matched_id`, `label`,
    `matched_label`."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome is one of {OUTCOMES}")
    stored = stored_matches(
        session, evaluation.dataset_id, evaluation.id, evaluation.evaluated_revision
    )
    kept = {"all": ["tp", "fp", "fn"], "fp": ["fp"], "fn": ["fn"]}[outcome]
    stored = stored.filter(
        pl.col("match").is_in(kept) & (pl.col("prediction") == (pl.col("match") != "fn"))
    )
    labels = objects.select("object_id", "label")
    chosen = objects.select("object_id", "label").filter(pl.Series(mask, dtype=pl.Boolean))
    return (
        chosen.with_row_index("_order")
        .join(stored, on="object_id", how="inner")
        .join(
            labels.rename({"object_id": "matched_id", "label": "matched_label"}),
            on="matched_id",
            how="left",
        )
        .sort("_order")
        .drop("_order")
    )
