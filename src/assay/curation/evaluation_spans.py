"""Span evaluations (named entities in text items): entity-level precision, recall and F1
of a model's span predictions against the ground truth, with each span's outcome written
back like a detection's.

Matching is `assay.metrics.spans`' one-to-one within an item and a label: `strict` (same
start, end and label, seqeval's strict mode) or `partial` (overlap IoU at least `min_iou`,
greedy by confidence then IoU). The matches give the metrics (micro, macro and weighted
averages, per label) and the outcomes: a prediction `tp` or `fp`, a ground-truth span `tp`
or `fn`, with the matched span's id and the IoU. The stored state is each span's item, label
and outcome, so a slice's numbers are counts of its items' spans — nothing matched again.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from assay.curation import evaluation_shapes, models
from assay.curation.snapshots import SNAPSHOTS
from assay.metrics.classification import score_table
from assay.metrics.spans import match_spans

MODES = ("strict", "partial")


def checked_params(params: dict[str, Any], invalid: Any) -> dict[str, Any]:
    """Span parameters with their defaults (mode strict, min_iou 0.5); `invalid(message,
    field)` makes the 4xx."""
    unknown = set(params) - {"mode", "min_iou"}
    if unknown:
        name = sorted(unknown)[0]
        raise invalid(f"unknown parameter {name!r} for spans", f"params.{name}")
    if params.setdefault("mode", "strict") not in MODES:
        raise invalid(f"mode must be one of {', '.join(MODES)}", "params.mode")
    min_iou = params.setdefault("min_iou", 0.5)
    if isinstance(min_iou, bool) or not isinstance(min_iou, int | float) or not 0 <= min_iou <= 1:
        raise invalid("min_iou: a number between 0 and 1", "params.min_iou")
    return params


def read_spans(
    session: Session, dataset: models.Dataset, model_id: str, item_ids: Sequence[str] | None
) -> tuple[pl.DataFrame, np.ndarray, int]:
    """The span shapes of the ground truth and of the model in scope (item_id, seq, source,
    object_id, label, confidence, start, end), the seqs in scope, the revision read."""
    snapshot = SNAPSHOTS.get(session, dataset)
    items, seqs = evaluation_shapes.scoped_items(snapshot.items, item_ids)
    wanted, source = evaluation_shapes.of_sources(model_id)
    frame = (
        snapshot.objects.lazy()
        .filter((pl.col("type") == "span") & wanted)
        .join(items.lazy(), on="item_row", how="inner")
        .select(
            "item_id",
            "seq",
            source,
            "object_id",
            "type",
            "label",
            "confidence",
        )
        .collect()
    )
    # Offsets are not in the snapshot: read from the stored shapes.
    geometry = evaluation_shapes.read_geometry(
        session, frame, (models.GROUND_TRUTH, model_id), types=("span",)
    )
    ids = frame["object_id"].to_list()
    frame = frame.with_columns(
        pl.Series("start", [geometry[o]["start"] for o in ids], pl.Int64),
        pl.Series("end", [geometry[o]["end"] for o in ids], pl.Int64),
    ).sort("seq", "object_id")
    return frame, seqs, snapshot.revision


def _documents(frame: pl.DataFrame, seqs: np.ndarray) -> list[list[tuple]]:
    """One list of (start, end, label, score) per item in scope, in seq order."""
    position = {int(s): k for k, s in enumerate(seqs.tolist())}
    documents: list[list[tuple]] = [[] for _ in seqs]
    for seq, start, end, label, score in frame.select(
        "seq", "start", "end", "label", "confidence"
    ).iter_rows():
        documents[position[seq]].append((start, end, label, score))
    return documents


def _scores(labels: list[str], tp: np.ndarray, support: np.ndarray, predicted: np.ndarray):
    rows, micro, macro, weighted = score_table(
        np.array(labels, dtype=object), tp, support, predicted, 0.0
    )
    per_class = [
        {
            "label": row.label,
            "support": row.support,
            "predicted": row.predicted,
            "tp": int(tp[k]),
            "fp": int(predicted[k] - tp[k]),
            "fn": int(support[k] - tp[k]),
            "precision": row.precision,
            "recall": row.recall,
            "f1": row.f1,
        }
        for k, row in enumerate(rows)
    ]
    summary = {
        "precision": micro.precision,
        "recall": micro.recall,
        "f1": micro.f1,
        "macro_f1": macro.f1 if macro is not None else None,
        "weighted_f1": weighted.f1,
    }
    totals = {
        "tp": int(tp.sum()),
        "fp": int(predicted.sum() - tp.sum()),
        "fn": int(support.sum() - tp.sum()),
    }
    return summary, per_class, totals


def _counts(
    codes: np.ndarray, is_prediction: np.ndarray, matched: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, ground-truth spans and predicted spans per label."""
    truth = ~is_prediction
    return (
        np.bincount(codes[truth & matched], minlength=n),
        np.bincount(codes[truth], minlength=n),
        np.bincount(codes[is_prediction], minlength=n),
    )


def evaluate_spans(
    frame: pl.DataFrame, seqs: np.ndarray, model_id: str, params: dict[str, Any]
) -> tuple[dict[str, Any], bytes, bytes]:
    """The metrics, the matches (Parquet) and the state (npz) of read_spans' frame."""
    mode, min_iou = params["mode"], float(params["min_iou"])
    gt = frame.filter(pl.col("source") == models.GROUND_TRUTH)
    dt = frame.filter(pl.col("source") == model_id)
    pairs = match_spans(_documents(gt, seqs), _documents(dt, seqs), mode=mode, min_iou=min_iou)
    labels = sorted(set(gt["label"].to_list()) | set(dt["label"].to_list()))
    code = {label: k for k, label in enumerate(labels)}
    codes = np.array([code[v] for v in [*dt["label"].to_list(), *gt["label"].to_list()]], np.int64)
    is_prediction = np.arange(len(codes)) < dt.height
    matched = np.concatenate([pairs.predicted >= 0, pairs.truth >= 0])
    summary, per_class, totals = _scores(
        labels, *_counts(codes, is_prediction, matched, len(labels))
    )
    gt_ids, dt_ids = gt["object_id"], dt["object_id"]
    gt_iou = np.full(gt.height, np.nan)
    hit = pairs.truth >= 0
    gt_iou[hit] = pairs.iou[pairs.truth[hit]]
    matches = pl.DataFrame(
        [
            pl.concat([dt_ids, gt_ids]).alias("object_id"),
            pl.concat([dt["item_id"], gt["item_id"]]).alias("item_id"),
            pl.Series("prediction", is_prediction),
            pl.Series(
                "match",
                np.where(matched, "tp", np.where(is_prediction, "fp", "fn")).tolist(),
                pl.Utf8,
            ),
            pl.Series("iou", np.concatenate([pairs.iou, gt_iou])).fill_nan(None),
            pl.concat(
                [
                    evaluation_shapes.gathered(gt_ids, pairs.predicted),
                    evaluation_shapes.gathered(dt_ids, pairs.truth),
                ]
            ).alias("matched_id"),
            pl.Series("iou_threshold", [1.0 if mode == "strict" else min_iou] * len(codes)),
        ]
    )
    buffer = io.BytesIO()
    matches.write_parquet(buffer, compression="lz4", statistics=False)
    state = io.BytesIO()
    np.savez(
        state,
        seq=np.concatenate([dt["seq"].to_numpy(), gt["seq"].to_numpy()]),
        code=codes,
        prediction=is_prediction,
        matched=matched,
    )
    metrics = {
        "summary": summary,
        "labels": labels,
        "per_class": per_class,
        "totals": totals,
        "mode": mode,
        "min_iou": min_iou if mode == "partial" else None,
        "items": len(seqs),
        "objects": {"ground_truth": gt.height, "predictions": dt.height},
    }
    return metrics, buffer.getvalue(), state.getvalue()


def spans_for(evaluation: models.Evaluation, seqs: np.ndarray) -> dict[str, Any]:
    """A span evaluation restricted to some items, from each span's stored outcome."""
    labels = (evaluation.metrics or {}).get("labels", [])
    with np.load(io.BytesIO(evaluation.state)) as stored:
        keep = np.isin(stored["seq"], seqs)
        counts = _counts(
            stored["code"][keep], stored["prediction"][keep], stored["matched"][keep], len(labels)
        )
    summary, per_class, totals = _scores(labels, *counts)
    return {"items": len(seqs), "summary": summary, "per_class": per_class, "totals": totals}
