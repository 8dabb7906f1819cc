"""Evaluating a model's predictions against a dataset's ground truth, as a job.

`start_evaluation` checks the model, the scope (a slice, a query, or the whole dataset) and
the parameters, records a `models.Evaluation` and queues `curation.evaluate_model`. The job
reads the ground truth and the model's predictions of the items in scope in one pass (their
stored JSON parsed by Polars, no Python object per shape), runs the COCO protocol
(`assay.metrics.detection`: pycocotools' numbers), and stores in one transaction:

- `metrics`: the summary numbers, per class (AP, AP at the writeback threshold, TP / FP /
  FN, precision, recall), PR curves per class and over all classes (COCO's 101 recall
  points, with the score at each), the confusion matrix at the writeback threshold
  (predictions matched to ground truth whatever their labels, with a "missed" column and a
  "spurious" row), confidence histograms of true and false positives;
- `matches`: every evaluated object's outcome at the writeback IoU threshold (default 0.5,
  all areas, COCO's 100 detections per image and class) — predictions `tp` / `fp` /
  `ignored` (matched to a crowd region), ground truth `tp` / `fn` / `ignored` — with the
  IoU and the matched object's id. Snapshots join them into the objects frame, so
  `prediction.match = fp AND prediction.confidence > 0.8` is a query;
- `state`: the evaluation's arrays, so a slice of the evaluated items is re-evaluated from
  the stored matches (`metrics_for`), without matching again.

What is compared (`evaluation_shapes.py`): boxes, and polygons by their bounding box, for
`iou_type` bbox; polygons and masks as pixels, and boxes as rectangles, for segm.
`allowed_label_matches` pairs labels that may match one way (`evaluation_label_matches.py`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.curation import (
    evaluation_categories,
    evaluation_label_matches,
    evaluation_params,
    evaluation_reuse,
    evaluation_segmentation,
    evaluation_shapes,
    evaluation_spans,
    models,
    scenario_results,
    slices,
)
from assay.curation.datasets import next_revision
from assay.curation.query import run_query
from assay.curation.snapshots import SNAPSHOTS
from assay.metrics.detection import Evaluation, MatchState, Objects, Params, evaluate

EVALUATE_JOB = "curation.evaluate_model"
EVALUATIONS = models.Evaluation.__table__
HISTOGRAM_BINS = 20


def start_evaluation(
    *,
    session: Session,
    dataset: models.Dataset,
    model: models.Model,
    actor: Actor,
    slice_id: str | None = None,
    query: str | dict[str, Any] | None = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    task: str = "detection",
) -> models.Evaluation:
    """Record the evaluation and queue its job (the scope and parameters checked first)."""
    checked = evaluation_params.checked(params, task)
    if task == "detection":
        evaluation_label_matches.check_known(session=session, dataset=dataset, params=checked)
    if slice_id is not None and query is not None:
        raise Invalid("give slice_id or query, not both", field="query")
    scope: dict[str, Any] = {}
    if slice_id is not None:
        slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        scope = {"slice_id": slice_id}
    elif query is not None:
        run_query(SNAPSHOTS.get(session, dataset).frames, query, "items")
        scope = {"query": query}
    evaluation = models.Evaluation(
        dataset_id=dataset.id,
        model_id=model.id,
        name=name or model.name,
        task=task,
        params=checked,
        scope=scope,
        status="queued",
        created_by=None if actor.via == "system" else actor.user_id,
    )
    session.add(evaluation)
    session.flush()
    job = enqueue(
        session=session,
        kind=EVALUATE_JOB,
        payload={"evaluation_id": evaluation.id},
        actor=actor,
    )
    evaluation.job_id = job.id
    return evaluation


def get_evaluation(
    *, session: Session, dataset: models.Dataset, evaluation_id: str, field: str = "evaluation_id"
) -> models.Evaluation:
    found = session.get(models.Evaluation, evaluation_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no evaluation {evaluation_id} in this dataset", field=field)
    return found


def list_evaluations(
    *, session: Session, dataset: models.Dataset, model_id: str | None = None
) -> list[models.Evaluation]:
    statement = select(models.Evaluation).where(models.Evaluation.dataset_id == dataset.id)
    if model_id is not None:
        statement = statement.where(models.Evaluation.model_id == model_id)
    return list(
        session.scalars(
            statement.order_by(models.Evaluation.created_at.desc(), models.Evaluation.id.desc())
        )
    )


# --- reading the data ---


def _scope_items(
    session: Session, dataset: models.Dataset, scope: dict[str, Any]
) -> list[str] | None:
    if scope.get("slice_id"):
        found = slices.get_slice(session=session, dataset=dataset, slice_id=scope["slice_id"])
        return slices.slice_item_ids(session=session, dataset=dataset, found=found)
    if "query" in scope:
        snapshot = SNAPSHOTS.get(session, dataset)
        rows = run_query(snapshot.frames, scope["query"], "items").positions
        return snapshot.items["item_id"].to_numpy()[rows].tolist()
    return None


# --- the job ---


def mark_failed(session: Session, job: Any) -> None:
    """A failed evaluation job leaves its evaluation failed, with the job's error."""
    evaluation_id = (job.payload or {}).get("evaluation_id")
    if evaluation_id:
        session.execute(
            update(EVALUATIONS)
            .where(EVALUATIONS.c.id == evaluation_id)
            .values(status="failed", error=(job.error or "")[:2000], finished_at=func.now())
        )


@job_kind(EVALUATE_JOB, max_attempts=2, on_failed=mark_failed)
def run_evaluation(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Evaluate a model's predictions against the ground truth (COCO protocol)."""
    with ctx.db.read() as session:
        evaluation = session.get(models.Evaluation, payload["evaluation_id"])
        if evaluation is None:
            raise PermanentError("the evaluation was deleted")
        dataset = session.get(models.Dataset, evaluation.dataset_id)
        if dataset is None or dataset.deleting:
            raise PermanentError("the dataset was deleted")
        params = dict(evaluation.params)
        model_id = evaluation.model_id
        task = evaluation.task
        item_ids = _scope_items(session, dataset, evaluation.scope)
        geometry: dict[str, dict] = {}
        previous = evaluation_reuse.find_previous(session, dataset, evaluation)
        ctx.progress(0.05, 1, "reading ground truth and predictions", force=True)
        if task == "classification":
            frame, seqs, read_at = evaluation_categories.read_categories(
                session, dataset, model_id, item_ids
            )
        elif task == "spans":
            frame, seqs, read_at = evaluation_spans.read_spans(session, dataset, model_id, item_ids)
        elif task == "segmentation":
            frame, seqs, read_at, geometry = evaluation_segmentation.read_segmentation(
                session, dataset, model_id, item_ids
            )
        else:
            iou_type = params.get("iou_type", "bbox")
            frame, seqs, read_at = evaluation_shapes.read_shapes(
                session, dataset, model_id, item_ids, iou_type
            )
            if iou_type in ("segm", "keypoints"):
                geometry = evaluation_shapes.read_geometry(
                    session, frame, (models.GROUND_TRUTH, model_id)
                )
    with ctx.db.write() as session:
        session.execute(
            update(EVALUATIONS)
            .where(EVALUATIONS.c.id == payload["evaluation_id"])
            .values(status="running")
        )
    ctx.progress(0.3, 1, f"evaluating {frame.height} objects on {len(seqs)} items", force=True)
    if task == "classification":
        result = Result(
            *evaluation_categories.evaluate_categories(frame, seqs, model_id, params), None
        )
    elif task == "spans":
        result = Result(*evaluation_spans.evaluate_spans(frame, seqs, model_id, params), None)
    elif task == "segmentation":
        result = Result(
            *evaluation_segmentation.evaluate_segmentation(frame, seqs, model_id, params, geometry),
            None,
        )
    else:
        result = evaluate_frame(frame, seqs, model_id, params, geometry, previous)
    ctx.progress(0.8, 1, "storing the results", force=True)
    with ctx.db.write() as session:
        evaluation = session.get(models.Evaluation, payload["evaluation_id"])
        if evaluation is None:
            raise PermanentError("the evaluation was deleted")
        revision = next_revision(session, evaluation.dataset_id)
        evaluation.metrics = result.metrics
        if evaluation.result is None:  # a job run again after a crash may find its own
            evaluation.result = models.EvaluationResult(matches=result.matches, state=result.state)
        else:
            evaluation.result.matches, evaluation.result.state = result.matches, result.state
        evaluation.revision = revision
        evaluation.evaluated_revision = read_at
        evaluation.status = "done"
        evaluation.finished_at = dt.datetime.now(dt.UTC)
    scenario_results.record_evaluation(
        db=ctx.db, evaluation_id=payload["evaluation_id"], settings=ctx.settings
    )
    summary = result.metrics["summary"]
    return {
        "evaluation_id": payload["evaluation_id"],
        "AP": summary.get("AP"),
        **result.metrics.get("totals", {}),
    }


class Result:
    def __init__(
        self, metrics: dict[str, Any], matches: bytes, state: bytes, evaluation: Evaluation
    ) -> None:
        self.metrics = metrics
        self.matches = matches
        self.state = state
        self.evaluation = evaluation


def evaluate_frame(
    frame: pl.DataFrame,
    seqs: np.ndarray,
    model_id: str,
    params: dict[str, Any],
    geometry: dict[str, dict] | None = None,
    previous: evaluation_reuse.Previous | None = None,
) -> Result:
    """The evaluation of read_shapes' frame (and, for segm, read_geometry's shapes): the
    metrics, the matches (Parquet) and the state. With an earlier evaluation of the same
    parameters, the items untouched since keep its matches (`evaluation_reuse.py`)."""
    iou_type = params.get("iou_type", "bbox")
    if iou_type == "segm":
        frame = evaluation_shapes.with_canvas(frame)
    gt_frame = frame.filter(pl.col("source") == models.GROUND_TRUTH)
    dt_frame = frame.filter(pl.col("source") == model_id)
    labels = sorted(set(gt_frame["label"].to_list()) | set(dt_frame["label"].to_list()))
    names, sigmas = None, None
    if iou_type == "keypoints":
        names = evaluation_shapes.keypoint_names(geometry or {})
        try:
            sigmas = evaluation_shapes.keypoint_sigmas(names, params.get("keypoint_sigmas", {}))
        except ValueError as e:
            raise PermanentError(str(e)) from None
    gt = evaluation_shapes.objects(gt_frame, labels, False, iou_type, geometry, names)
    dets = evaluation_shapes.objects(dt_frame, labels, True, iou_type, geometry, names)
    p = dataclasses.replace(
        Params.coco(iou_type),
        iou_thresholds=np.asarray(params["iou_thresholds"], float),
        max_detections=tuple(params["max_detections"]),
        use_categories=not params.get("class_agnostic", False),
        label_matches=evaluation_label_matches.category_pairs(params, labels),
        **({"keypoint_sigmas": sigmas} if sigmas is not None else {}),
    )
    categories = np.arange(len(labels))
    threshold = float(params["iou_threshold"])
    reused = evaluation_reuse.reusable_seqs(previous, seqs)
    if previous is not None and len(reused):
        # Match only the items not reused, then merge with the earlier state.
        fresh = np.setdiff1d(seqs, reused)
        new_gt = gt_frame.filter(pl.col("seq").is_in(fresh))
        new_dt = dt_frame.filter(pl.col("seq").is_in(fresh))
        part = evaluate(
            evaluation_shapes.objects(new_gt, labels, False),
            evaluation_shapes.objects(new_dt, labels, True),
            p, image_ids=fresh, category_ids=categories,
        )  # fmt: skip
        world = part.world(threshold, "all")
        fresh_matches = _matches_frame(
            new_gt, new_dt, part.detections(world), part.objects(world), threshold
        )
        kept_items = frame.filter(pl.col("seq").is_in(reused))["item_id"].unique()
        matches = pl.concat(
            [
                previous.matches.filter(pl.col("item_id").is_in(kept_items.implode())),
                fresh_matches,
            ],
            how="vertical_relaxed",
        )
        state = MatchState.merged(
            [evaluation_reuse.carried_state(previous, reused, labels), part.state]
        )
        ev = state.restricted_to(state.image_ids)
        det, obj = evaluation_reuse.outcomes(matches, gt_frame, dt_frame)
    else:
        evaluated = evaluate(gt, dets, p, image_ids=seqs, category_ids=categories)
        world = evaluated.world(threshold, "all")
        det, obj = evaluated.detections(world), evaluated.objects(world)
        matches = _matches_frame(gt_frame, dt_frame, det, obj, threshold)
        ev, state = evaluated, evaluated.state
    metrics = _metrics(ev, gt, dets, labels, threshold, det, obj)
    metrics["confusion"] = _confusion(gt, dets, labels, seqs, p, threshold, det, obj)
    if previous is not None and len(reused):
        metrics["reused"] = evaluation_reuse.summary(previous, reused)
    buffer = io.BytesIO()
    matches.write_parquet(buffer, compression="lz4", statistics=False)
    return Result(metrics, buffer.getvalue(), state.to_bytes(), ev)


OUTCOMES = {1: "tp", 2: "fp", 3: "fn", 4: "ignored"}


def _outcomes(
    evaluated: np.ndarray, match: np.ndarray, ignored: np.ndarray, miss: int
) -> np.ndarray:
    """Outcome codes (`OUTCOMES`; 0 for an object not evaluated)."""
    out = np.zeros(len(match), np.int8)
    out[evaluated & ignored] = 4
    out[evaluated & ~ignored & (match >= 0)] = 1
    out[evaluated & ~ignored & (match < 0)] = miss
    return out


def _matches_frame(
    gt_frame: pl.DataFrame, dt_frame: pl.DataFrame, det: Any, obj: Any, threshold: float
) -> pl.DataFrame:
    """One row per evaluated object: built column by column (no Python object per row)."""
    gt_ids, dt_ids = gt_frame["object_id"], dt_frame["object_id"]
    # A ground-truth object's IoU: its matching detection's.
    gt_iou = np.full(len(gt_ids), np.nan)
    hit = obj.match >= 0
    gt_iou[hit] = det.iou[obj.match[hit]]
    codes = np.concatenate(
        [
            _outcomes(det.evaluated, det.match, det.ignored, 2),
            _outcomes(obj.evaluated, obj.match, obj.ignored, 3),
        ]
    )
    return pl.DataFrame(
        [
            pl.concat([dt_ids, gt_ids]).alias("object_id"),
            pl.concat([dt_frame["item_id"], gt_frame["item_id"]]).alias("item_id"),
            pl.Series("prediction", np.arange(len(codes)) < len(dt_ids)),
            pl.Series("match", codes).replace_strict(OUTCOMES, default=None, return_dtype=pl.Utf8),
            pl.Series("iou", np.concatenate([np.where(det.match >= 0, det.iou, np.nan), gt_iou])),
            pl.concat(
                [
                    evaluation_shapes.gathered(gt_ids, det.match),
                    evaluation_shapes.gathered(dt_ids, obj.match),
                ]
            ).alias("matched_id"),
        ]
    ).with_columns(pl.col("iou").fill_nan(None), pl.lit(threshold).alias("iou_threshold"))


def per_label_values(values: np.ndarray, n: int) -> np.ndarray:
    """Per-label numbers; none (-1) when the evaluation was class-agnostic (one class)."""
    return values if len(values) == n else np.full(n, -1.0)


def number(v: float) -> float | None:
    return None if v is None or v < 0 or not np.isfinite(v) else float(v)


def _metrics(
    ev: Evaluation,
    gt: Objects,
    dets: Objects,
    labels: list[str],
    threshold: float,
    det: Any,
    obj: Any,
) -> dict[str, Any]:
    p = ev.params
    t = int(np.flatnonzero(np.isclose(p.iou_thresholds, threshold))[0])
    tp_d, fp_d, fn_g = det.tp, det.fp, obj.fn
    per_class = []
    ap = per_label_values(ev.per_class_ap(), len(labels))
    ap_t = per_label_values(ev.per_class_ap(iou_threshold=float(p.iou_thresholds[t])), len(labels))
    n = len(labels)

    def counted(categories: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        chosen = categories if where is None else categories[where]
        return np.bincount(chosen, minlength=n)[:n]

    # A TP counts for its object's label (allowed label matches), class-agnostic ones not.
    by_object = p.use_categories and len(gt)
    tp_labels = gt.category[np.maximum(det.match, 0)] if by_object else dets.category
    tps, fps, fns = (
        counted(tp_labels, tp_d),
        counted(dets.category, fp_d),
        counted(gt.category, fn_g),
    )
    truths, predicted = counted(gt.category, ~gt.flags("crowd")), counted(dets.category)
    for k, label in enumerate(labels):
        tp, fp, fn = int(tps[k]), int(fps[k]), int(fns[k])
        per_class.append(
            {
                "label": label,
                "ground_truth": int(truths[k]),
                "predictions": int(predicted[k]),
                "ap": number(ap[k]),
                "ap_at_threshold": number(ap_t[k]),
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "precision": tp / (tp + fp) if tp + fp else None,
                "recall": tp / (tp + fn) if tp + fn else None,
            }
        )
    # PR curves at the writeback threshold, all areas, the most detections.
    curves, curve_scores = ev.curves()
    precision = curves[t, :, :, 0]  # R x K (K = 1 when class-agnostic)
    score_at = curve_scores[t, :, :, 0]
    curves = {
        label: {
            "precision": [float(v) for v in precision[:, k]],
            "score": [float(v) for v in score_at[:, k]],
        }
        for k, label in enumerate(labels)
        if p.use_categories and precision[0, k] > -1
    }
    valid = precision > -1
    mean = np.where(
        valid.any(axis=1),
        np.sum(np.where(valid, precision, 0), axis=1) / np.maximum(valid.sum(axis=1), 1),
        0,
    )
    scores = dets.score if dets.score is not None else np.zeros(0)
    bins = np.linspace(0, 1, HISTOGRAM_BINS + 1)
    totals = {"tp": int(tp_d.sum()), "fp": int(fp_d.sum()), "fn": int(fn_g.sum())}
    return {
        "summary": {k: number(v) for k, v in ev.summary().items()},
        "iou_threshold": threshold,
        "labels": labels,
        "totals": totals,
        "per_class": per_class,
        "pr_curves": {
            "recall": [float(r) for r in p.recall_thresholds],
            "classes": curves,
            "all": [float(v) for v in mean],
        },
        "confidence": {
            "bins": [float(b) for b in bins],
            "tp": np.histogram(np.clip(scores[tp_d], 0, 1), bins)[0].tolist(),
            "fp": np.histogram(np.clip(scores[fp_d], 0, 1), bins)[0].tolist(),
        },
        "items": len(ev.image_ids),
        "objects": {"ground_truth": len(gt), "predictions": len(dets)},
    }


def _confusion(
    gt: Objects,
    dets: Objects,
    labels: list[str],
    seqs: np.ndarray,
    params: Params,
    threshold: float,
    det: Any,
    obj: Any,
) -> dict[str, Any]:
    """Rows are the ground truth's labels, columns the predictions', each with a last entry
    for "nothing". The evaluation's matches first — with labels, each label's true
    positives, on the diagonal, or off it where allowed label matches paired two labels;
    then the false positives are matched to the missed objects of other labels (greedy by
    score, COCO's rule, at the threshold): a hit is a confusion, a false positive left over
    is spurious (last row), a missed object left over is missed (last column). So a row
    adds up to the label's objects and a column to its counted predictions."""
    n = len(labels)
    matrix = np.zeros((n + 1, n + 1), np.int64)
    # True positives: on the diagonal (class-agnostic matching may cross labels).
    np.add.at(matrix, (gt.category[det.match[det.tp]], dets.category[det.tp]), 1)
    fp_rows, fn_rows = np.flatnonzero(det.fp), np.flatnonzero(obj.fn)
    left_dt, left_gt = (
        evaluation_shapes.subset(dets, fp_rows),
        evaluation_shapes.subset(gt, fn_rows),
    )
    p = dataclasses.replace(
        params,
        iou_thresholds=np.array([threshold]),
        max_detections=(max(len(fp_rows), 1),),
        area_ranges=((0.0, 1e5**2),),
        area_labels=("all",),
        use_categories=False,
    )
    ev = evaluate(left_gt, left_dt, p, image_ids=seqs, category_ids=np.arange(n))
    hits, objects = ev.detections(0), ev.objects(0)
    hit = hits.match >= 0
    np.add.at(matrix, (left_gt.category[hits.match[hit]], left_dt.category[hit]), 1)
    np.add.at(matrix, (n, left_dt.category[~hit]), 1)
    np.add.at(matrix, (left_gt.category[objects.match < 0], n), 1)
    return {
        "labels": [*labels, evaluation_categories.NONE_LABEL],
        "matrix": matrix.tolist(),
        "iou_threshold": threshold,
    }


# --- stored state: a slice re-evaluated ---
