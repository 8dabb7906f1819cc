"""Recomputing only what changed: a detection evaluation that finds an earlier finished one
of the same model and parameters reuses its stored matches for the items untouched since.

Matching is per image, so an item whose ground truth and predictions have not changed
since the earlier evaluation read them (its revision stamp is not newer) keeps its matches:
only the other items in scope — changed, or new to the scope — are matched again
(`assay.metrics.detection.evaluate` on them alone), and the two states are merged
(`MatchState.merged`: the accumulation order made again, categories renamed to the current
label set) before accumulating over all of them. The numbers are those of evaluating
everything again (tests hold them equal); the stored outcomes of the reused items are
carried over as they were.

Boxes only (`iou_type` bbox): masks and keypoints are matched in full each time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.curation import models
from assay.curation.items import ITEMS
from assay.metrics.detection import DetectionMatches, MatchState, ObjectMatches

RESULTS = models.EvaluationResult.__table__
EVALUATIONS = models.Evaluation.__table__


@dataclass
class Previous:
    """An earlier evaluation to reuse: its state, its outcomes, its labels (the category
    indices of its state), and the seqs of the items changed since it read them."""

    evaluation_id: str
    state: MatchState
    matches: pl.DataFrame
    labels: list[str]
    changed: np.ndarray


def find_previous(
    session: Session, dataset: models.Dataset, evaluation: models.Evaluation
) -> Previous | None:
    """The latest finished evaluation of the same model, task and parameters, if any."""
    if evaluation.task != "detection" or evaluation.params.get("iou_type", "bbox") != "bbox":
        return None
    candidates = session.execute(
        select(EVALUATIONS.c.id, EVALUATIONS.c.params, EVALUATIONS.c.evaluated_revision)
        .where(
            EVALUATIONS.c.dataset_id == dataset.id,
            EVALUATIONS.c.model_id == evaluation.model_id,
            EVALUATIONS.c.task == "detection",
            EVALUATIONS.c.status == "done",
            EVALUATIONS.c.id != evaluation.id,
        )
        .order_by(EVALUATIONS.c.revision.desc())
        .limit(10)
    ).all()
    for evaluation_id, params, read_at in candidates:
        if params != evaluation.params or read_at is None:
            continue
        stored = session.execute(
            select(RESULTS.c.matches, RESULTS.c.state).where(
                RESULTS.c.evaluation_id == evaluation_id
            )
        ).first()
        if stored is None:
            continue
        earlier = session.get(models.Evaluation, evaluation_id)
        labels = list((earlier.metrics or {}).get("labels", []))
        changed = session.scalars(
            select(ITEMS.c.seq).where(ITEMS.c.dataset_id == dataset.id, ITEMS.c.revision > read_at)
        ).all()
        return Previous(
            evaluation_id,
            MatchState.from_bytes(stored.state),
            pl.read_parquet(io.BytesIO(stored.matches)),
            labels,
            np.asarray(changed, np.int64),
        )
    return None


def reusable_seqs(previous: Previous | None, seqs: np.ndarray) -> np.ndarray:
    """The items in scope whose earlier matches stand."""
    if previous is None:
        return np.zeros(0, np.int64)
    return np.setdiff1d(np.intersect1d(seqs, previous.state.image_ids), previous.changed)


def carried_state(previous: Previous, reused: np.ndarray, labels: list[str]) -> MatchState:
    """The earlier state of the reused items, its categories renamed to `labels`' order."""
    part = previous.state.subset(reused)
    position = {label: k for k, label in enumerate(labels)}
    # Every label of a reused item is in the current labels (they come from all items in
    # scope); labels of items not reused may be gone, and map nowhere.
    mapping = np.array([position.get(label, -1) for label in previous.labels], np.int64)
    return part.recategorised(mapping, np.arange(len(labels)))


def outcomes(
    matches: pl.DataFrame, gt_frame: pl.DataFrame, dt_frame: pl.DataFrame
) -> tuple[DetectionMatches, ObjectMatches]:
    """Each row's match at the writeback threshold, from stored outcomes (rows: the
    frames'; a matched id becomes the other frame's row)."""

    def rows(frame: pl.DataFrame, other: pl.DataFrame) -> pl.DataFrame:
        positions = other.select("object_id").with_row_index("_row")
        return (
            frame.select("object_id")
            .join(matches.select("object_id", "match", "iou", "matched_id"), on="object_id",
                  how="left", maintain_order="left")
            .join(positions.rename({"object_id": "matched_id"}), on="matched_id", how="left",
                  maintain_order="left")
        )  # fmt: skip

    d, g = rows(dt_frame, gt_frame), rows(gt_frame, dt_frame)

    def index(found: pl.DataFrame) -> np.ndarray:
        return found["_row"].fill_null(-1).cast(pl.Int64).to_numpy()

    detections = DetectionMatches(
        evaluated=d["match"].is_not_null().to_numpy(),
        match=index(d),
        iou=d["iou"].fill_null(0.0).to_numpy(),
        ignored=(d["match"] == "ignored").fill_null(False).to_numpy(),
    )
    objects = ObjectMatches(
        evaluated=g["match"].is_not_null().to_numpy(),
        match=index(g),
        ignored=(g["match"] == "ignored").fill_null(False).to_numpy(),
    )
    return detections, objects


def summary(previous: Previous, reused: np.ndarray) -> dict[str, Any]:
    """What the metrics say of the reuse."""
    return {"evaluation_id": previous.evaluation_id, "items": len(reused)}
