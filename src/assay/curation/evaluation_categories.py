"""Classification evaluations: each item's ground-truth category against the model's most
confident category shape — accuracy, per-class and averaged precision / recall / F1, top-k
from the class distributions, and a confusion matrix of items with missed and spurious —
each category shape's outcome written back, and a slice counted from the stored pairs
(`assay.metrics.classification`, scikit-learn's numbers)."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.curation import evaluation_shapes, models
from assay.curation.snapshots import SNAPSHOTS

NONE_LABEL = "(none)"


def read_categories(
    session: Session, dataset: models.Dataset, model_id: str, item_ids: Sequence[str] | None
) -> tuple[pl.DataFrame, np.ndarray, int]:
    """The category shapes of the ground truth and of the model (item_id, seq, source,
    object_id, label, confidence, class_pdf as JSON text), the seqs in scope, the revision."""
    snapshot = SNAPSHOTS.get(session, dataset)
    items, seqs = evaluation_shapes.scoped_items(snapshot.items, item_ids)
    source = pl.col("object_id").str.split(":").list.get(1)
    frame = (
        snapshot.objects.lazy()
        .filter(pl.col("type") == "category")
        .with_columns(source.alias("source"))
        .filter(pl.col("source").is_in([models.GROUND_TRUTH, model_id]))
        .join(items.lazy(), on="item_row", how="inner")
        .select("item_id", "seq", "source", "object_id", "label", "confidence")
        .collect()
    )
    # Class distributions are not in the snapshot: read from the model's rows.
    pdfs: dict[str, dict[str, float]] = {}
    predicted_items = frame.filter(pl.col("source") == model_id)["item_id"].unique().to_list()
    for start in range(0, len(predicted_items), 500):
        chunk = predicted_items[start : start + 500]
        for item_id, shapes in session.execute(
            select(models.Annotation.item_id, models.Annotation.shapes).where(
                models.Annotation.item_id.in_(chunk), models.Annotation.source_id == model_id
            )
        ):
            for k, shape in enumerate(shapes or []):
                if shape.get("type") == "category" and shape.get("class_pdf"):
                    pdfs[f"{item_id}:{model_id}:{k}"] = shape["class_pdf"]
    frame = frame.with_columns(
        pl.col("object_id")
        .map_elements(lambda o: json.dumps(pdfs[o]) if o in pdfs else None, return_dtype=pl.Utf8)
        .alias("class_pdf")
    )
    return frame, seqs, snapshot.revision


def evaluate_categories(
    frame: pl.DataFrame, seqs: np.ndarray, model_id: str, params: dict[str, Any]
) -> tuple[dict[str, Any], bytes, bytes]:
    """Each item's ground-truth category against the model's (its most confident category
    shape): accuracy, per-class and averaged P/R/F1, confusion with missed and spurious,
    top-k from the class distributions (else the confidence of the predicted label)."""
    from assay.metrics.classification import classification_metrics

    gt = (
        frame.filter(pl.col("source") == models.GROUND_TRUTH)
        .sort("object_id")
        .unique("item_id", keep="first", maintain_order=True)
    )
    pred = (
        frame.filter(pl.col("source") == model_id)
        .sort(["item_id", "confidence"], descending=[False, True], nulls_last=True)
        .unique("item_id", keep="first", maintain_order=True)
    )
    joined = (
        pl.DataFrame({"seq": seqs})
        .join(frame.select("item_id", "seq").unique("item_id"), on="seq", how="inner")
        .join(
            gt.select(
                "item_id", pl.col("label").alias("truth"), pl.col("object_id").alias("gt_id")
            ),
            on="item_id",
            how="left",
        )
        .join(
            pred.select(
                "item_id", pl.col("label").alias("guess"), pl.col("object_id").alias("pred_id"),
                "confidence", "class_pdf",
            ),
            on="item_id",
            how="left",
        )
        .filter(pl.col("truth").is_not_null() | pl.col("guess").is_not_null())
        .sort("seq")
    )  # fmt: skip
    labels = sorted(
        set(joined["truth"].drop_nulls().to_list()) | set(joined["guess"].drop_nulls().to_list())
    )
    truth = np.array(joined["truth"].to_list(), dtype=object)
    guess = np.array(joined["guess"].to_list(), dtype=object)
    scores = np.zeros((len(joined), len(labels)))
    column = {label: k for k, label in enumerate(labels)}
    for row, (label, confidence, pdf) in enumerate(
        zip(guess, joined["confidence"].to_list(), joined["class_pdf"].to_list(), strict=True)
    ):
        if pdf:
            for name, value in json.loads(pdf).items():
                if name in column:
                    scores[row, column[name]] = value
        elif label is not None:
            scores[row, column[label]] = 1.0 if confidence is None else confidence
    found = classification_metrics(
        truth, guess, classes=labels, scores=scores, top_k=tuple(params.get("top_k", [1, 5]))
    )
    right = (truth == guess) & np.array([t is not None for t in truth])
    has_pred = np.array([g is not None for g in guess])
    has_truth = np.array([t is not None for t in truth])
    tp = int(np.sum(right))
    fp = int(np.sum(has_pred & ~right))
    fn = int(np.sum(has_truth & ~right))
    per_class = [
        {
            "label": c.label,
            "precision": c.precision,
            "recall": c.recall,
            "f1": c.f1,
            "support": c.support,
            "predicted": c.predicted,
            "tp": int(np.sum(right & (truth == c.label))),
            "fp": int(np.sum(has_pred & ~right & (guess == c.label))),
            "fn": int(np.sum(has_truth & ~right & (truth == c.label))),
        }
        for c in found.per_class
    ]
    summary = {
        "accuracy": found.accuracy,
        "micro_f1": found.micro.f1,
        "macro_f1": found.macro.f1 if found.macro else None,
        "weighted_f1": found.weighted.f1,
        "cohen_kappa": found.cohen_kappa,
        **{f"top_{k}_accuracy": v for k, v in found.top_k_accuracy.items()},
    }
    metrics = {
        "task": "classification",
        "summary": summary,
        "labels": labels,
        "totals": {"tp": tp, "fp": fp, "fn": fn},
        "per_class": per_class,
        "averages": {
            name: dataclasses.asdict(getattr(found, name)) if getattr(found, name) else None
            for name in ("micro", "macro", "weighted")
        },
        "confusion": {
            "labels": [*labels, NONE_LABEL],
            "matrix": [list(row) for row in found.confusion],
        },
        "items": len(joined),
        "missed": found.missed,
        "spurious": found.spurious,
    }
    gt_ids = joined["gt_id"].to_list()
    pred_ids = joined["pred_id"].to_list()
    item_ids = joined["item_id"].to_list()
    rows = []
    for n in range(len(joined)):
        if pred_ids[n] is not None:
            rows.append((pred_ids[n], item_ids[n], True, "tp" if right[n] else "fp", gt_ids[n]))
        if gt_ids[n] is not None:
            rows.append((gt_ids[n], item_ids[n], False, "tp" if right[n] else "fn", pred_ids[n]))
    matches = pl.DataFrame(
        rows,
        schema={
            "object_id": pl.Utf8,
            "item_id": pl.Utf8,
            "prediction": pl.Boolean,
            "match": pl.Utf8,
            "matched_id": pl.Utf8,
        },
        orient="row",
    )
    matches = matches.with_columns(
        pl.lit(None, dtype=pl.Float64).alias("iou"),
        pl.lit(None, dtype=pl.Float64).alias("iou_threshold"),
    )
    buffer = io.BytesIO()
    matches.write_parquet(buffer, compression="lz4", statistics=False)
    state = io.BytesIO()
    np.savez(
        state,
        seq=joined["seq"].to_numpy(),
        truth=np.array([-1 if t is None else column[t] for t in truth], np.int32),
        guess=np.array([-1 if g is None else column[g] for g in guess], np.int32),
        scores=scores,
        top_k=np.asarray(params.get("top_k", [1, 5]), np.int64),
    )
    return metrics, buffer.getvalue(), state.getvalue()


def categories_for(evaluation: models.Evaluation, seqs: np.ndarray) -> dict[str, Any]:
    """A classification evaluation restricted to some items, from its stored pairs."""
    from assay.metrics.classification import classification_metrics

    labels = (evaluation.metrics or {}).get("labels", [])
    with np.load(io.BytesIO(evaluation.state)) as stored:
        keep = np.isin(stored["seq"], seqs)
        truth, guess = stored["truth"][keep], stored["guess"][keep]
        scores, top_k = stored["scores"][keep], tuple(int(k) for k in stored["top_k"])
    names = np.array([*labels, None], dtype=object)
    found = classification_metrics(
        names[truth], names[guess], classes=labels, scores=scores, top_k=top_k
    )
    return {
        "items": int(keep.sum()),
        "summary": {
            "accuracy": found.accuracy,
            "micro_f1": found.micro.f1,
            "macro_f1": found.macro.f1 if found.macro else None,
            "weighted_f1": found.weighted.f1,
            **{f"top_{k}_accuracy": v for k, v in found.top_k_accuracy.items()},
        },
        "per_class": [
            {"label": c.label, "precision": c.precision, "recall": c.recall, "f1": c.f1}
            for c in found.per_class
        ],
    }
