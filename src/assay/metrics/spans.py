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


def _span(span: Any) -> tuple[int, int, Any, float]:
    if isinstance(span, dict):
        start, end, label, score = span["start"], span["end"], span["label"], span.get("score")
    elif len(span) in (3, 4):
        start, end, label = span[:3]
        score = span[3] if len(span) == 4 else None
    else:
        raise ValueError(f"a span is (start, end, label[, score]) or a dict, not {span!r}")
    if int(end) <= int(start):
        raise ValueError(f"a span must end after it starts: {span!r}")
    return int(start), int(end), label, -np.inf if score is None else float(score)


def _documents(documents: Sequence[Sequence[Any]]) -> list[list[tuple[int, int, Any, float]]]:
    return [[_span(s) for s in spans or ()] for spans in documents]


def _strict_matches(
    truth: list[tuple[int, int, Any, float]], predicted: list[tuple[int, int, Any, float]]
) -> Counter:
    """True positives per label: the multiset intersection of (start, end, label)."""
    common = Counter(s[:3] for s in truth) & Counter(s[:3] for s in predicted)
    out: Counter = Counter()
    for (_, _, label), count in common.items():
        out[label] += count
    return out


def _partial_matches(
    truth: list[tuple[int, int, Any, float]],
    predicted: list[tuple[int, int, Any, float]],
    min_iou: float,
) -> Counter:
    out: Counter = Counter()
    if not truth or not predicted:
        return out
    t_start, t_end = (np.array([s[i] for s in truth]) for i in (0, 1))
    p_start, p_end = (np.array([s[i] for s in predicted]) for i in (0, 1))
    p_score = np.array([s[3] for s in predicted])
    labels = [s[2] for s in truth] + [s[2] for s in predicted]
    _, codes = factorize(np.array(labels, dtype=object))
    t_label, p_label = codes[: len(truth)], codes[len(truth) :]
    overlap = np.minimum.outer(p_end, t_end) - np.maximum.outer(p_start, t_start)
    union = np.add.outer(p_end - p_start, t_end - t_start) - overlap
    iou = np.where(overlap > 0, overlap / union, 0.0)
    candidate = (p_label[:, None] == t_label[None, :]) & (overlap > 0) & (iou >= min_iou)
    p_index, t_index = np.nonzero(candidate)
    order = np.lexsort((t_index, p_index, -iou[p_index, t_index], -p_score[p_index]))
    taken_p, taken_t = set(), set()
    for p, t in zip(p_index[order].tolist(), t_index[order].tolist(), strict=True):
        if p not in taken_p and t not in taken_t:
            taken_p.add(p)
            taken_t.add(t)
            out[truth[t][2]] += 1
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
    truth_docs, pred_docs = _documents(ground_truth), _documents(predictions)
    if len(truth_docs) != len(pred_docs):
        raise ValueError("ground_truth and predictions must have the same number of documents")
    support: Counter = Counter(s[2] for doc in truth_docs for s in doc)
    predicted: Counter = Counter(s[2] for doc in pred_docs for s in doc)
    tp: Counter = Counter()
    for truth, found in zip(truth_docs, pred_docs, strict=True):
        if mode == "strict":
            tp.update(_strict_matches(truth, found))
        else:
            tp.update(_partial_matches(truth, found, min_iou))
    seen = list(dict.fromkeys([*support, *predicted]))  # first seen: unsortable labels
    labels, _ = factorize(np.array(seen, dtype=object)) if seen else (np.empty(0), None)
    names = labels.tolist()
    counts = [np.array([c[name] for name in names], np.int64) for c in (tp, support, predicted)]
    rows, micro, macro, weighted = score_table(labels, *counts, zero_division)
    return SpanMetrics(
        mode=mode,
        min_iou=float(min_iou) if mode == "partial" else None,
        documents=len(truth_docs),
        labels=tuple(names),
        true_positives=int(counts[0].sum()),
        support=int(counts[1].sum()),
        predicted=int(counts[2].sum()),
        per_label=rows,
        micro=micro,
        macro=macro,
        weighted=weighted,
    )
