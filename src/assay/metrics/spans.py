"""Entity-level scores of text spans (named entities): exact and partial-overlap matching.

Inputs are documents: `ground_truth[d]` and `predictions[d]` are document d's spans, each
a dict {start, end, label[, score]} (Assay's span annotations) or a tuple (start, end, label
[, score]). Offsets are half-open [start, end), in characters or tokens alike.

Matching is one-to-one within a document and a label:

- strict: a prediction is a true positive when a ground-truth span has the same start, end
  and label (seqeval's strict mode). Spans are counted as given, so a repeated prediction of
  one entity is one true positive and one false positive; seqeval reads spans off BIO tags,
  where repeats cannot occur, and agrees everywhere else.
- partial: a prediction may match a ground-truth span of its label that it overlaps with an
  IoU (intersection over union of the two intervals) of at least `min_iou` (any overlap
  when 0; strict when 1). Pairs are taken greedily, by descending prediction score (spans
  without one rank after those with one), then descending IoU, then by position (first
  prediction, first ground-truth span): the way COCO matches detections, and a global
  best-overlap-first greedy when no scores are given.

Precision, recall and F1 per label and averaged (micro, macro over the labels in ground
truth or predictions, support-weighted), with `zero_division` (0.0) for zero denominators.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.metrics.classification import Averages, ClassScores, score_table
from assay.metrics.factorize import factorize

MODES = ("strict", "partial")


@dataclass(frozen=True, slots=True)
class SpanMetrics:
    mode: str
    min_iou: float | None  # partial mode's threshold; None in strict mode
    documents: int
    labels: tuple[Any, ...]
    true_positives: int
    support: int  # ground-truth spans
    predicted: int  # predicted spans
    per_label: tuple[ClassScores, ...]
    micro: Averages
    macro: Averages | None
    weighted: Averages

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class _Columns:
    """Every document's spans in parallel arrays."""

    document: np.ndarray
    start: np.ndarray
    end: np.ndarray
    label: list[Any]
    score: np.ndarray  # -inf for spans without a score


def _columns(documents: Sequence[Sequence[Any]]) -> tuple[_Columns, int]:
    document, start, end, label, score = [], [], [], [], []
    count = 0
    for d, spans in enumerate(documents):
        count += 1
        for span in spans or ():
            if isinstance(span, dict):
                value = span.get("score")
                start.append(span["start"])
                end.append(span["end"])
                label.append(span["label"])
            elif len(span) in (3, 4):
                start.append(span[0])
                end.append(span[1])
                label.append(span[2])
                value = span[3] if len(span) == 4 else None
            else:
                raise ValueError(f"a span is (start, end, label[, score]) or a dict, not {span!r}")
            score.append(-np.inf if value is None else value)
            document.append(d)
    columns = _Columns(
        np.array(document, np.intp),
        np.array(start, np.int64),
        np.array(end, np.int64),
        label,
        np.array(score, float),
    )
    empty = np.flatnonzero(columns.end <= columns.start)
    if len(empty):
        i = empty[0]
        raise ValueError(f"a span must end after it starts: {start[i]}..{end[i]} {label[i]!r}")
    return columns, count


def _strict_pairs(truth: _Columns, predicted: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, ground truth) pairs of the same (document, start, end, label): the k-th
    prediction of a key with the key's k-th ground-truth span (a multiset intersection)."""
    waiting: dict[tuple, list[int]] = {}
    keys = zip(
        truth.document.tolist(), truth.start.tolist(), truth.end.tolist(), truth.label, strict=True
    )
    for j, key in enumerate(keys):
        waiting.setdefault(key, []).append(j)
    for found in waiting.values():
        found.reverse()  # popped first to last
    p, t = [], []
    keys = zip(
        predicted.document.tolist(),
        predicted.start.tolist(),
        predicted.end.tolist(),
        predicted.label,
        strict=True,
    )
    for i, key in enumerate(keys):
        found = waiting.get(key)
        if found:
            p.append(i)
            t.append(found.pop())
    return np.array(p, np.intp), np.array(t, np.intp)


def _candidate_pairs(truth: _Columns, predicted: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """Every (prediction, ground truth) pair of the same document and label, as indices."""
    _, codes = factorize(np.array([*truth.label, *predicted.label, None], dtype=object)[:-1])
    labels = int(codes.max()) + 1 if len(codes) else 1
    truth_group = truth.document * labels + codes[: len(truth.label)]
    pred_group = predicted.document * labels + codes[len(truth.label) :]
    by_group = np.argsort(truth_group, kind="stable")
    sorted_groups = truth_group[by_group]
    first = np.searchsorted(sorted_groups, pred_group, "left")
    counts = np.searchsorted(sorted_groups, pred_group, "right") - first
    pred_index = np.repeat(np.arange(len(pred_group)), counts)
    within = np.arange(len(pred_index)) - np.repeat(np.cumsum(counts) - counts, counts)
    return pred_index, by_group[np.repeat(first, counts) + within]


def _partial_pairs(
    truth: _Columns, predicted: _Columns, min_iou: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The greedy one-to-one matching by score, then IoU: (prediction, ground truth, IoU)."""
    p, t = _candidate_pairs(truth, predicted)
    overlap = np.minimum(predicted.end[p], truth.end[t]) - np.maximum(
        predicted.start[p], truth.start[t]
    )
    union = (predicted.end[p] - predicted.start[p]) + (truth.end[t] - truth.start[t]) - overlap
    iou = overlap / np.maximum(union, 1)
    keep = (overlap > 0) & (iou >= min_iou)
    p, t, iou = p[keep], t[keep], iou[keep]
    # Documents never share an index, so one global order greedily matches each of them.
    order = np.lexsort((t, p, -iou, -predicted.score[p]))
    taken_p, taken_t = set(), set()
    out_p, out_t, out_iou = [], [], []
    for i, j, v in zip(p[order].tolist(), t[order].tolist(), iou[order].tolist(), strict=True):
        if i not in taken_p and j not in taken_t:
            taken_p.add(i)
            taken_t.add(j)
            out_p.append(i)
            out_t.append(j)
            out_iou.append(v)
    return np.array(out_p, np.intp), np.array(out_t, np.intp), np.array(out_iou, float)


@dataclass(frozen=True, slots=True)
class SpanMatches:
    """Which spans matched: for each predicted span (documents in order, spans as given)
    the index of its ground-truth span or -1, for each ground-truth span its prediction's
    or -1, and the IoU of each matched prediction (NaN when unmatched)."""

    predicted: np.ndarray
    truth: np.ndarray
    iou: np.ndarray


def match_spans(
    ground_truth: Sequence[Sequence[Any]],
    predictions: Sequence[Sequence[Any]],
    *,
    mode: str = "strict",
    min_iou: float = 0.5,
) -> SpanMatches:
    """The pairs `span_metrics` counts, span by span (for writing outcomes back)."""
    truth, found, pairs = _matched(ground_truth, predictions, mode, min_iou)
    p, t, iou = pairs
    predicted = np.full(len(found.label), -1, np.intp)
    matched = np.full(len(truth.label), -1, np.intp)
    predicted[p], matched[t] = t, p
    ious = np.full(len(found.label), np.nan)
    ious[p] = iou
    return SpanMatches(predicted, matched, ious)


def _matched(
    ground_truth: Sequence[Sequence[Any]],
    predictions: Sequence[Sequence[Any]],
    mode: str,
    min_iou: float,
) -> tuple[_Columns, _Columns, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "partial" and not 0.0 <= min_iou <= 1.0:
        raise ValueError("min_iou must lie in [0, 1]")
    (truth, documents), (found, pred_documents) = _columns(ground_truth), _columns(predictions)
    if documents != pred_documents:
        raise ValueError("ground_truth and predictions must have the same number of documents")
    if mode == "strict":
        p, t = _strict_pairs(truth, found)
        pairs = (p, t, np.ones(len(p)))
    else:
        pairs = _partial_pairs(truth, found, min_iou)
    return truth, found, pairs


def span_metrics(
    ground_truth: Sequence[Sequence[Any]],
    predictions: Sequence[Sequence[Any]],
    *,
    mode: str = "strict",
    min_iou: float = 0.5,
    zero_division: float = 0.0,
) -> SpanMetrics:
    """Per-label and averaged precision/recall/F1 of predicted spans, document by document."""
    truth, found, (_, matched, _) = _matched(ground_truth, predictions, mode, min_iou)
    documents = len(ground_truth)
    support, predicted = Counter(truth.label), Counter(found.label)
    tp = Counter(truth.label[j] for j in matched.tolist())
    seen = list(dict.fromkeys([*support, *predicted]))  # first seen: unsortable labels
    labels, _ = factorize(np.array(seen, dtype=object)) if seen else (np.empty(0), None)
    names = labels.tolist()
    counts = [np.array([c[name] for name in names], np.int64) for c in (tp, support, predicted)]
    rows, micro, macro, weighted = score_table(labels, *counts, zero_division)
    return SpanMetrics(
        mode=mode,
        min_iou=float(min_iou) if mode == "partial" else None,
        documents=documents,
        labels=tuple(names),
        true_positives=int(counts[0].sum()),
        support=int(counts[1].sum()),
        predicted=int(counts[2].sum()),
        per_label=rows,
        micro=micro,
        macro=macro,
        weighted=weighted,
    )
