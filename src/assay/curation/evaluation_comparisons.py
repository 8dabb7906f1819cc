"""Reading finished evaluations again: a subset of the evaluated items' numbers from the
stored state (`metrics_for_items`: a slice's or a query's metrics without matching again),
and two evaluations of the same task compared (`compare`: per-class deltas on the items
both evaluated, and the items where the new model does worse).

Detection states are parsed once per process (`STATES`: a done evaluation's state never
changes, and unpacking it is most of what a slice's numbers cost over HTTP).
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core.errors import Invalid
from assay.curation import (
    evaluation_categories,
    evaluation_segmentation,
    evaluation_spans,
    models,
)
from assay.curation.evaluations import number, per_label_values
from assay.curation.items import ITEMS
from assay.curation.snapshots import SNAPSHOTS
from assay.metrics.detection import MatchState

COMPARABLE = ("detection", "classification", "spans")


def _evaluated_seqs(evaluation: models.Evaluation) -> np.ndarray:
    """The items an evaluation evaluated (detection: every item in scope; classification
    and spans: the items with a category or a span)."""
    if evaluation.task == "detection":
        return load_state(evaluation).image_ids
    with np.load(io.BytesIO(evaluation.state)) as stored:
        return np.unique(stored["seq"])


class _States:
    """The last few finished evaluations' states, parsed, by evaluation id: a done
    evaluation's state never changes, and reading and unpacking it (megabytes at 100,000
    items) is most of what a slice's numbers cost over HTTP."""

    SIZE = 4

    def __init__(self) -> None:
        self._found: dict[str, MatchState] = {}
        self._lock = threading.Lock()

    def of(self, evaluation: models.Evaluation) -> MatchState:
        with self._lock:
            found = self._found.pop(evaluation.id, None)
        if found is None:
            found = MatchState.from_bytes(evaluation.state)
        with self._lock:
            self._found[evaluation.id] = found  # the newest last
            while len(self._found) > self.SIZE:
                self._found.pop(next(iter(self._found)))
        return found


STATES = _States()


def load_state(evaluation: models.Evaluation) -> MatchState:
    """A done detection evaluation's state (parsed once per process)."""
    return STATES.of(evaluation)


def metrics_for_items(
    *, session: Session, dataset: models.Dataset, evaluation: models.Evaluation, item_ids: list[str]
) -> dict[str, Any]:
    """Summary and per-class AP of the evaluation restricted to some of its items (a slice),
    from the stored matches."""
    # Done means its results are stored (one transaction); not reading them here lets a
    # parsed state be reused (`STATES`).
    if evaluation.status != "done":
        raise Invalid(
            f"evaluation {evaluation.id} is {evaluation.status}, not done", field="evaluation_id"
        )
    items = SNAPSHOTS.get(session, dataset).items
    seqs = items.filter(pl.col("item_id").is_in(list(item_ids)))["seq"].to_list()
    if evaluation.task == "classification":
        return evaluation_categories.categories_for(evaluation, np.asarray(seqs, np.int64))
    if evaluation.task == "spans":
        return evaluation_spans.spans_for(evaluation, np.asarray(seqs, np.int64))
    if evaluation.task == "segmentation":
        return evaluation_segmentation.segmentation_for(evaluation, np.asarray(seqs, np.int64))
    ev = load_state(evaluation).restricted_to(np.asarray(seqs, np.int64))
    labels = (evaluation.metrics or {}).get("labels", [])
    ap = per_label_values(ev.per_class_ap(), len(labels))
    return {
        "items": len(ev.image_ids),
        "summary": {k: number(v) for k, v in ev.summary().items()},
        "per_class": [{"label": label, "ap": number(ap[k])} for k, label in enumerate(labels)],
    }


# --- comparing two evaluations ---


def _item_counts(matches: bytes) -> pl.DataFrame:
    frame = pl.read_parquet(io.BytesIO(matches))
    # Signed counts: a boolean sum is unsigned, and `worse_by` subtracts them (an item the
    # new model does better on would wrap around to 4294967295 and rank first).
    return frame.group_by("item_id").agg(
        (pl.col("prediction") & (pl.col("match") == "tp")).sum().cast(pl.Int64).alias("tp"),
        (pl.col("prediction") & (pl.col("match") == "fp")).sum().cast(pl.Int64).alias("fp"),
        (~pl.col("prediction") & (pl.col("match") == "fn")).sum().cast(pl.Int64).alias("fn"),
    )


def compare(
    *,
    session: Session,
    dataset: models.Dataset,
    base: models.Evaluation,
    new: models.Evaluation,
    limit: int = 50,
) -> dict[str, Any]:
    """Two evaluations side by side on the items both evaluated: summary and per-class
    deltas (new - base), and the items where the new model does worse (more false
    positives plus misses), worst first."""
    for which, found in (("base", base), ("new", new)):
        if found.status != "done":
            raise Invalid(f"evaluation {found.id} is {found.status}, not done", field=which)
        if found.task not in COMPARABLE:
            raise Invalid(
                f"evaluation {found.id} is a {found.task} evaluation; comparisons are of "
                f"{', '.join(COMPARABLE)} evaluations",
                field=which,
            )
    if base.task != new.task:
        raise Invalid(
            f"a {new.task} evaluation is not compared with a {base.task} one", field="new"
        )
    task = base.task
    base_seqs, new_seqs = _evaluated_seqs(base), _evaluated_seqs(new)
    common = np.intersect1d(base_seqs, new_seqs)
    same_scope = len(common) == len(base_seqs) == len(new_seqs)
    seq_to_item = dict(
        session.execute(
            select(ITEMS.c.seq, ITEMS.c.id).where(ITEMS.c.dataset_id == dataset.id)
        ).all()
    )
    common_items = [seq_to_item[int(s)] for s in common if int(s) in seq_to_item]

    def side(found: models.Evaluation) -> dict[str, Any]:
        if same_scope:
            metrics = found.metrics or {}
            return {
                "summary": metrics.get("summary", {}),
                "per_class": {c["label"]: c for c in metrics.get("per_class", [])},
            }
        if task != "detection":
            part_metrics = (
                evaluation_categories.categories_for(found, common)
                if task == "classification"
                else evaluation_spans.spans_for(found, common)
            )
            return {
                "summary": part_metrics["summary"],
                "per_class": {c["label"]: c for c in part_metrics["per_class"]},
            }
        part = load_state(found).restricted_to(common)
        labels = (found.metrics or {}).get("labels", [])
        ap = per_label_values(part.per_class_ap(), len(labels))
        return {
            "summary": {k: number(v) for k, v in part.summary().items()},
            "per_class": {
                label: {"label": label, "ap": number(ap[k])} for k, label in enumerate(labels)
            },
        }

    a, b = side(base), side(new)
    metric = "ap" if task == "detection" else "f1"

    def delta(x: Any, y: Any) -> float | None:
        return None if x is None or y is None else float(y) - float(x)

    per_class = []
    for label in sorted(set(a["per_class"]) | set(b["per_class"])):
        left, right = a["per_class"].get(label, {}), b["per_class"].get(label, {})
        row: dict[str, Any] = {
            "label": label,
            f"base_{metric}": left.get(metric),
            f"new_{metric}": right.get(metric),
            "delta": delta(left.get(metric), right.get(metric)),
        }
        for key in ("tp", "fp", "fn"):
            if key in left or key in right:
                row[f"base_{key}"] = left.get(key)
                row[f"new_{key}"] = right.get(key)
        per_class.append(row)

    counts = (
        pl.DataFrame({"item_id": common_items}, schema={"item_id": pl.Utf8})
        .join(_item_counts(base.matches), on="item_id", how="left")
        .join(_item_counts(new.matches), on="item_id", how="left", suffix="_new")
        .fill_null(0)
        .with_columns(
            ((pl.col("fp_new") + pl.col("fn_new")) - (pl.col("fp") + pl.col("fn"))).alias(
                "worse_by"
            )
        )
    )
    disagree = counts.filter(
        (pl.col("tp") != pl.col("tp_new"))
        | (pl.col("fp") != pl.col("fp_new"))
        | (pl.col("fn") != pl.col("fn_new"))
    ).height
    worst = counts.filter(pl.col("worse_by") > 0).sort(
        ["worse_by", "item_id"], descending=[True, False]
    )
    top = worst.head(limit).to_dicts()
    references = (
        dict(
            session.execute(
                select(ITEMS.c.id, ITEMS.c.reference_id).where(
                    ITEMS.c.id.in_([r["item_id"] for r in top])
                )
            ).all()
        )
        if top
        else {}
    )

    def brief(found: models.Evaluation, summary: dict[str, Any]) -> dict[str, Any]:
        return {"id": found.id, "model_id": found.model_id, "name": found.name, "summary": summary}

    return {
        "task": task,
        "class_metric": metric,
        "base": brief(base, a["summary"]),
        "new": brief(new, b["summary"]),
        "items_compared": len(common_items),
        "same_scope": same_scope,
        "summary_delta": {
            name: delta(a["summary"].get(name), b["summary"].get(name)) for name in b["summary"]
        },
        "per_class": per_class,
        "items_worse": worst.height,
        "items_disagreeing": disagree,
        "items": [
            {
                "item_id": r["item_id"],
                "reference_id": references.get(r["item_id"]),
                "base": {"tp": r["tp"], "fp": r["fp"], "fn": r["fn"]},
                "new": {"tp": r["tp_new"], "fp": r["fp_new"], "fn": r["fn_new"]},
                "worse_by": r["worse_by"],
            }
            for r in top
        ],
    }
