"""Scoring a response against an expected one: optimal matching, F1, similarities, in [0, 1]."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.metrics.geometry import POINT_SCALE, similarity_matrix

GEOMETRY_TYPES = frozenset(
    ("box", "polygon", "line", "point", "keypoints", "ellipse", "cuboid", "mask")
)


@dataclass(frozen=True, slots=True)
class Pair:
    """One matched pair: indices into the expected and actual lists, and how well they agree."""

    expected: int
    actual: int
    similarity: float
    label_agrees: bool
    attribute_agreement: float


@dataclass(frozen=True, slots=True)
class Matching:
    pairs: tuple[Pair, ...]
    unmatched_expected: tuple[int, ...]
    unmatched_actual: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PRF:
    precision: float
    recall: float
    f1: float
    true_positives: float
    expected: int
    actual: int


def prf(true_positives: float, expected: int, actual: int) -> PRF:
    """Precision, recall and F1 from counts; nothing expected and nothing given is perfect."""
    precision = true_positives / actual if actual else float(expected == 0)
    recall = true_positives / expected if expected else float(actual == 0)
    total = expected + actual
    f1 = 2 * true_positives / total if total else 1.0
    return PRF(precision, recall, f1, true_positives, expected, actual)


def _same(a: Any, b: Any) -> bool:
    # Multi-choice answers are sets: order in the list does not matter.
    if isinstance(a, list) and isinstance(b, list):
        try:
            return sorted(map(str, a)) == sorted(map(str, b)) and len(a) == len(b)
        except TypeError:
            return a == b
    return a == b


def attribute_agreement(a: dict | None, b: dict | None) -> float:
    """Share of attribute names (either side) whose values are equal; none at all is 1."""
    a, b = a or {}, b or {}
    names = a.keys() | b.keys()
    if not names:
        return 1.0
    return sum(1 for n in names if n in a and n in b and _same(a[n], b[n])) / len(names)


def assign(weights: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """Pairs maximising the total weight among valid cells (Hungarian)."""
    if not weights.size or not valid.any():
        return []
    from scipy.optimize import linear_sum_assignment  # here: a server starts faster

    rows, cols = linear_sum_assignment(np.where(valid, weights, 0.0), maximize=True)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if valid[i, j]]


def match_annotations(
    expected: Sequence[dict],
    actual: Sequence[dict],
    *,
    threshold: float = 0.5,
    point_scale: float = POINT_SCALE,
) -> Matching:
    """Optimal one-to-one matching by IoU/similarity ≥ threshold, preferring same labels.

    The weight of a pair is its similarity plus 1 when the labels agree, so among matchings
    the Hungarian algorithm picks the most label-agreeing pairs, then the best overlap.
    """
    sims = similarity_matrix(expected, actual, point_scale=point_scale)
    labels_e = [a.get("label") for a in expected]
    labels_a = [a.get("label") for a in actual]
    same_label = np.array([[le == la for la in labels_a] for le in labels_e], dtype=bool)
    same_label = same_label.reshape(len(expected), len(actual))
    valid = sims >= threshold
    pairs = tuple(
        Pair(
            i,
            j,
            float(sims[i, j]),
            bool(same_label[i, j]),
            attribute_agreement(expected[i].get("attributes"), actual[j].get("attributes")),
        )
        for i, j in assign(sims + same_label, valid)
    )
    matched_e = {p.expected for p in pairs}
    matched_a = {p.actual for p in pairs}
    return Matching(
        pairs,
        tuple(i for i in range(len(expected)) if i not in matched_e),
        tuple(j for j in range(len(actual)) if j not in matched_a),
    )


def detection_prf(matching: Matching, *, require_label: bool = True) -> PRF:
    """Precision/recall/F1 where a true positive is a matched pair (with the same label)."""
    tp = sum(1 for p in matching.pairs if p.label_agrees or not require_label)
    expected = len(matching.pairs) + len(matching.unmatched_expected)
    actual = len(matching.pairs) + len(matching.unmatched_actual)
    return prf(tp, expected, actual)


def score_geometry(
    expected: Sequence[dict],
    actual: Sequence[dict],
    *,
    threshold: float = 0.5,
    attribute_weight: float = 0.25,
    point_scale: float = POINT_SCALE,
) -> float:
    """Soft F1: a matched pair with the same label counts (1 - w) + w x attribute agreement."""
    matching = match_annotations(expected, actual, threshold=threshold, point_scale=point_scale)
    credit = sum(
        (1 - attribute_weight) + attribute_weight * p.attribute_agreement
        for p in matching.pairs
        if p.label_agrees
    )
    return prf(credit, len(expected), len(actual)).f1


def score_categories(
    expected: Sequence[str], actual: Sequence[str], *, partial: bool = True
) -> float:
    """Exact set equality, or (partial) the Jaccard index of the chosen categories."""
    e, a = set(expected), set(actual)
    if not partial:
        return float(e == a)
    union = e | a
    return len(e & a) / len(union) if union else 1.0


def _runs_by_label(spans: Sequence[dict]) -> dict[Any, np.ndarray]:
    """Per label, the sorted disjoint [start, end) character runs its spans cover."""
    out: dict[Any, list[tuple[int, int]]] = {}
    for s in spans:
        out.setdefault(s.get("label"), []).append((s["start"], s["end"]))
    merged = {}
    for label, runs in out.items():
        runs.sort()
        keep: list[list[int]] = []
        for start, end in runs:  # overlapping spans of one label cover characters once
            if keep and start <= keep[-1][1]:
                keep[-1][1] = max(keep[-1][1], end)
            else:
                keep.append([start, end])
        merged[label] = np.array(keep, dtype=np.int64).reshape(-1, 2)
    return merged


def _overlap_chars(a: np.ndarray, b: np.ndarray) -> int:
    lo = np.maximum(a[:, None, 0], b[None, :, 0])
    hi = np.minimum(a[:, None, 1], b[None, :, 1])
    return int(np.clip(hi - lo, 0, None).sum())


def span_prf(expected: Sequence[dict], actual: Sequence[dict], *, mode: str = "exact") -> PRF:
    """Span F1: `exact` counts spans equal in start, end and label; `overlap` counts characters."""
    if mode == "exact":
        key = lambda s: (s["start"], s["end"], s.get("label"))  # noqa: E731
        e, a = {key(s) for s in expected}, {key(s) for s in actual}
        return prf(len(e & a), len(e), len(a))
    if mode != "overlap":
        raise ValueError(f"mode must be 'exact' or 'overlap', not {mode!r}")
    runs_e, runs_a = _runs_by_label(expected), _runs_by_label(actual)
    chars = lambda runs: int(sum(int(np.sum(r[:, 1] - r[:, 0])) for r in runs.values()))  # noqa: E731
    tp = sum(_overlap_chars(r, runs_a[label]) for label, r in runs_e.items() if label in runs_a)
    return prf(tp, chars(runs_e), chars(runs_a))


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: differences nobody would call an error."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance by Myers' bit-parallel algorithm (Hyyrö's form), a Python int as bit row.

    One pass over `a` with a handful of integer operations per character, whatever the
    length of `b`: a page of text takes well under a millisecond.
    """
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if not m:
        return len(a)
    match: dict[str, int] = {}  # character → bit mask of its positions in b
    for i, ch in enumerate(b):
        match[ch] = match.get(ch, 0) | (1 << i)
    full, last = (1 << m) - 1, 1 << (m - 1)
    plus, minus, distance = full, 0, m  # vertical deltas +1 / -1 down the column
    for ch in a:
        eq = match.get(ch, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        h_plus = minus | ~(xh | plus)
        h_minus = plus & xh
        if h_plus & last:
            distance += 1
        elif h_minus & last:
            distance -= 1
        h_plus = (h_plus << 1) | 1  # row 0 grows by one per character of a
        h_minus <<= 1
        plus = (h_minus | ~(xv | h_plus)) & full
        minus = h_plus & xv & full
    return distance


def text_similarity(expected: str, actual: str, *, normalize: bool = True) -> float:
    """1 - Levenshtein distance / length of the longer text, after normalisation."""
    if normalize:
        expected, actual = normalize_text(expected), normalize_text(actual)
    longest = max(len(expected), len(actual))
    return 1.0 - levenshtein(expected, actual) / longest if longest else 1.0


def ranking_similarity(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Kendall tau rescaled to [0, 1]: the share of item pairs both orders agree on."""
    if sorted(expected) != sorted(actual):
        raise ValueError("rankings must order the same items")
    n = len(expected)
    if n < 2:
        return 1.0
    position = {item: k for k, item in enumerate(actual)}
    ranks = np.array([position[item] for item in expected])
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    discordant = int(np.sum((ranks[:, None] > ranks[None, :]) & upper))
    return 1.0 - discordant / (n * (n - 1) / 2)


def _matched_mean(
    expected: Sequence[dict], actual: Sequence[dict], pair_score: Callable[[dict, dict], float]
) -> float:
    """Mean score of the best one-to-one pairing; unpaired items on either side score 0."""
    if not expected and not actual:
        return 1.0
    scores = np.array([[pair_score(e, a) for a in actual] for e in expected]).reshape(
        len(expected), len(actual)
    )
    pairs = assign(scores, scores > 0)
    return sum(scores[i, j] for i, j in pairs) / max(len(expected), len(actual))


def _text_pair(e: dict, a: dict) -> float:
    if e.get("field") != a.get("field") or e.get("label") != a.get("label"):
        return 0.0
    return text_similarity(e.get("text", ""), a.get("text", ""))


def _rating_pair(e: dict, a: dict) -> float:
    same_item = (e.get("criterion"), e.get("response_index")) == (
        a.get("criterion"),
        a.get("response_index"),
    )
    return float(same_item and e.get("value") == a.get("value"))


def _verdict_pair(e: dict, a: dict) -> float:
    return float(e.get("criterion") == a.get("criterion") and e.get("met") == a.get("met"))


def score_response(
    expected: dict,
    actual: dict,
    *,
    threshold: float = 0.5,
    attribute_weight: float = 0.25,
    span_mode: str = "overlap",
    partial_categories: bool = True,
    point_scale: float = POINT_SCALE,
) -> float:
    """Score in [0, 1] of a response against the expected one: the mean over the kinds present.

    Geometry by soft F1 of the optimal IoU matching, categories by Jaccard (or exact), spans
    by F1, text by normalised edit similarity, rankings by rescaled Kendall tau, comparisons,
    ratings and rubric verdicts (per criterion) exactly; global attributes, when expected,
    count as one more part.
    """
    groups: dict[str, tuple[list[dict], list[dict]]] = {}
    for side, response in enumerate((expected, actual)):
        for ann in response.get("annotations") or []:
            kind = ann.get("type")
            family = "geometry" if kind in GEOMETRY_TYPES else kind
            groups.setdefault(family, ([], []))[side].append(ann)
    parts: list[float] = []
    for family, (e, a) in groups.items():
        if family == "geometry":
            parts.append(
                score_geometry(
                    e,
                    a,
                    threshold=threshold,
                    attribute_weight=attribute_weight,
                    point_scale=point_scale,
                )
            )
        elif family == "category":
            labels_e, labels_a = [x.get("label") for x in e], [x.get("label") for x in a]
            parts.append(score_categories(labels_e, labels_a, partial=partial_categories))
        elif family == "span":
            parts.append(span_prf(e, a, mode=span_mode).f1)
        elif family == "text":
            parts.append(_matched_mean(e, a, _text_pair))
        elif family == "ranking":
            orders_e, orders_a = [x["order"] for x in e], [x["order"] for x in a]
            same = orders_e and orders_a and sorted(orders_e[0]) == sorted(orders_a[0])
            parts.append(ranking_similarity(orders_e[0], orders_a[0]) if same else 0.0)
        elif family == "comparison":
            choices_e, choices_a = [x.get("choice") for x in e], [x.get("choice") for x in a]
            parts.append(float(choices_e == choices_a))
        elif family == "rating":
            parts.append(_matched_mean(e, a, _rating_pair))
        elif family == "verdict":
            # Per criterion: the share of the expected verdicts the labeler matched.
            parts.append(_matched_mean(e, a, _verdict_pair))
    if expected.get("global_attributes"):
        parts.append(
            attribute_agreement(expected.get("global_attributes"), actual.get("global_attributes"))
        )
    return float(np.mean(parts)) if parts else 1.0
