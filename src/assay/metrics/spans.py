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


def _strict_matches(truth: _Columns, predicted: _Columns) -> Counter:
    """True positives per label: the multiset intersection of (document, start, end, label)."""

    def keys(c: _Columns) -> Counter:
        return Counter(
            zip(c.document.tolist(), c.start.tolist(), c.end.tolist(), c.label, strict=True)
        )

    out: Counter = Counter()
    for (_, _, _, label), count in (keys(truth) & keys(predicted)).items():
        out[label] += count
    return out


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


def _partial_matches(truth: _Columns, predicted: _Columns, min_iou: float) -> Counter:
    """True positives per label of the greedy one-to-one matching by score, then IoU."""
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
    out: Counter = Counter()
    for i, j in zip(p[order].tolist(), t[order].tolist(), strict=True):
        if i not in taken_p and j not in taken_t:
            taken_p.add(i)
            taken_t.add(j)
            out[truth.label[j]] += 1
    return out


def span_metrics(
    ground_truth: Sequence[Sequence[Any]],
    predictions: Sequence[Sequence[Any]],
    *,
    mode: str = "strict",
    min_iou: float = 0.5,
    zero_division: float = 0.0,
) -> SpanMetrics:
    """Per-label and averaged precision/recall/F1 of predicted spans, document by document."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "partial" and not 0.0 <= min_iou <= 1.0:
        raise ValueError("min_iou must lie in [0, 1]")
    (truth, documents), (found, pred_documents) = _columns(ground_truth), _columns(predictions)
    if documents != pred_documents:
        raise ValueError("ground_truth and predictions must have the same number of documents")
    support, predicted = Counter(truth.label), Counter(found.label)
    if mode == "strict":
        tp = _strict_matches(truth, found)
    else:
        tp = _partial_matches(truth, found, min_iou)
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
