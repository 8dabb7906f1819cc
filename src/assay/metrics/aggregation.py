"""Aggregating several labelers' answers: categories (majority vote, Dawid-Skene), shapes, spans.

Categorical inputs are three parallel arrays (task id, labeler id, label), one entry per
label given, with ids of any type: 24-hex strings as the server stores them, integers, ….
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from assay.metrics.factorize import factorize
from assay.metrics.geometry import POINT_SCALE, similarity_matrix

# Confusion entries never reach 0: log(0) would veto a class on a single label.
_FLOOR = 1e-10


# --- categories ---


@dataclass(frozen=True, slots=True)
class CategoricalResult:
    """One aggregated label per task, with each class's probability."""

    tasks: np.ndarray  # (T,) distinct task ids, sorted
    classes: np.ndarray  # (K,) distinct labels, sorted
    posteriors: np.ndarray  # (T, K) probability of each class, rows sum to 1
    labels: np.ndarray  # (T,) the most probable class of each task


@dataclass(frozen=True, slots=True)
class DawidSkeneResult(CategoricalResult):
    labelers: np.ndarray  # (W,) distinct labeler ids, sorted
    confusion: np.ndarray  # (W, K, K): P(labeler gives label l | true class k) at [w, k, l]
    priors: np.ndarray  # (K,) class frequencies
    iterations: int
    converged: bool
    log_likelihood: float  # mean per label given


def _vote_counts(task_codes: np.ndarray, label_codes: np.ndarray, t: int, k: int) -> np.ndarray:
    return np.bincount(task_codes * k + label_codes, minlength=t * k).reshape(t, k)


def majority_vote(tasks: Any, labels: Any) -> CategoricalResult:
    """The most frequent label per task; ties go to the class first in sorted order."""
    task_ids, t = factorize(tasks)
    classes, k = factorize(labels)
    if len(t) != len(k):
        raise ValueError("tasks and labels must have the same length")
    if not len(t):
        raise ValueError("no labels to aggregate")
    counts = _vote_counts(t, k, len(task_ids), len(classes)).astype(float)
    posteriors = counts / counts.sum(axis=1, keepdims=True)
    return CategoricalResult(task_ids, classes, posteriors, classes[counts.argmax(axis=1)])


def dawid_skene(
    tasks: Any,
    labelers: Any,
    labels: Any,
    *,
    max_iter: int = 100,
    tol: float = 1e-5,
    smoothing: float = 0.0,
) -> DawidSkeneResult:
    """Dawid-Skene (1979) by EM from the majority vote: per-labeler confusion matrices.

    The label tensor is a sparse one-hot matrix A[task, labeler·K + label], so the M-step is
    one product (posteriors @ A) and the E-step another (A @ log confusion); float32, with
    arrays laid out class-major so the per-task softmax runs over contiguous rows. Stops when
    the mean log-likelihood per label improves by less than `tol` (crowd-kit's rule) or after
    `max_iter` rounds. `smoothing` adds pseudo-counts to every confusion cell.
    """
    task_ids, t = factorize(tasks)
    labeler_ids, w = factorize(labelers)
    classes, lab = factorize(labels)
    if not (len(t) == len(w) == len(lab)):
        raise ValueError("tasks, labelers and labels must have the same length")
    if not len(t):
        raise ValueError("no labels to aggregate")
    n_tasks, n_labelers, k = len(task_ids), len(labeler_ids), len(classes)
    import scipy.sparse as sp  # here, as scipy below: a server starts faster without them

    dtype = np.float32  # probabilities need ~4 digits, not 16; half the memory traffic
    a = sp.csr_array((np.ones(len(t), dtype), (t, w * k + lab)), shape=(n_tasks, n_labelers * k))
    votes = _vote_counts(t, lab, n_tasks, k).T.astype(dtype)  # (K, T): class-major
    posterior = votes / votes.sum(axis=0)

    def m_step(posterior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = np.asarray(posterior @ a).reshape(k, n_labelers, k).transpose(1, 0, 2)
        counts = np.maximum(counts + smoothing, _FLOOR)  # [labeler, true, given]
        confusion = counts / counts.sum(axis=2, keepdims=True)
        return confusion, np.maximum(posterior.mean(axis=1), _FLOOR)

    log_likelihood = -np.inf
    converged = False
    iterations = 0
    confusion, priors = m_step(posterior)
    while iterations < max_iter:
        iterations += 1
        # Rows (labeler, given label) of log P(given | true), one column per true class.
        log_confusion = np.log(confusion).transpose(0, 2, 1).reshape(n_labelers * k, k)
        scores = np.ascontiguousarray((a @ log_confusion).T)
        scores += np.log(priors)[:, None]
        best = scores.max(axis=0)
        scores -= best
        np.exp(scores, out=scores)
        total = scores.sum(axis=0)
        scores /= total
        posterior = scores
        new_log_likelihood = float((np.sum(best, dtype=float) + np.sum(np.log(total))) / len(t))
        confusion, priors = m_step(posterior)
        improvement, log_likelihood = new_log_likelihood - log_likelihood, new_log_likelihood
        if improvement < tol:
            converged = True
            break
    posteriors = posterior.T.astype(float)
    return DawidSkeneResult(
        tasks=task_ids,
        classes=classes,
        posteriors=posteriors,
        labels=classes[posterior.argmax(axis=0)],
        labelers=labeler_ids,
        confusion=confusion.astype(float),
        priors=priors.astype(float),
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
    )


# --- shapes ---


@dataclass(frozen=True, slots=True)
class ShapeCluster:
    """Shapes of different labelers taken to be one object, and their consensus."""

    members: tuple[tuple[int, int], ...]  # (labeler index, annotation index)
    shape: dict  # consensus annotation (label and attributes by vote)
    agreement: float  # mean pairwise IoU/similarity of the members


def _median_box(boxes: list[dict]) -> dict:
    corners = np.array([(b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]) for b in boxes])
    x0, y0, x1, y1 = np.median(corners, axis=0)
    return {"x": float(x0), "y": float(y0), "width": float(x1 - x0), "height": float(y1 - y0)}


def _consensus_geometry(shapes: list[dict], sims: np.ndarray) -> dict:
    """Median of coordinates where they line up (boxes, cuboids, points), else the medoid."""
    kinds = {s["type"] for s in shapes}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind == "box":
        return {"type": "box", **_median_box(shapes)}
    if kind == "cuboid":
        return {
            "type": "cuboid",
            "front": _median_box([s["front"] for s in shapes]),
            "back": _median_box([s["back"] for s in shapes]),
        }
    if kind == "point":
        x, y = np.median([(s["x"], s["y"]) for s in shapes], axis=0)
        return {"type": "point", "x": float(x), "y": float(y)}
    # Polygons, lines, ellipses, masks, keypoints: the member closest to all the others.
    medoid = shapes[int(np.argmax(sims.sum(axis=1)))]
    return {key: value for key, value in medoid.items() if key not in ("id", "label", "attributes")}


def _consensus_attributes(shapes: list[dict]) -> dict:
    out = {}
    names = {name for s in shapes for name in s.get("attributes") or {}}
    for name in sorted(names):
        given = [s["attributes"][name] for s in shapes if name in (s.get("attributes") or {})]
        if 2 * len(given) >= len(shapes):  # an attribute most members left out stays out
            winner = Counter(map(repr, given)).most_common(1)[0][0]
            out[name] = next(v for v in given if repr(v) == winner)
    return out


def cluster_shapes(
    annotations: Sequence[Sequence[dict]],
    *,
    threshold: float = 0.5,
    quorum: int | None = None,
    by_label: bool = True,
    point_scale: float = POINT_SCALE,
) -> list[ShapeCluster]:
    """Group the labelers' shapes by IoU into objects; keep those at least `quorum` drew.

    `annotations[r]` are labeler r's shapes. Labelers join one at a time: each shape is
    matched (Hungarian) to the cluster whose members it overlaps most on average (≥
    threshold, never two shapes of one labeler in a cluster), or starts a new cluster.
    The default quorum is a majority of the labelers.
    """
    flat = [(r, i, ann) for r, shapes in enumerate(annotations) for i, ann in enumerate(shapes)]
    if quorum is None:
        quorum = len(annotations) // 2 + 1
    shapes = [ann for _, _, ann in flat]
    sims = similarity_matrix(shapes, shapes, point_scale=point_scale)
    owner = np.array([r for r, _, _ in flat])
    if by_label:
        labels = [repr(ann.get("label")) for ann in shapes]
        sims = sims * np.equal.outer(np.array(labels, dtype=object), np.array(labels, dtype=object))
    from scipy.optimize import linear_sum_assignment

    clusters: list[list[int]] = []
    for r in range(len(annotations)):
        mine = np.flatnonzero(owner == r)
        if clusters and len(mine):
            score = np.array([[sims[s, members].mean() for members in clusters] for s in mine])
            rows, cols = linear_sum_assignment(
                np.where(score >= threshold, score, 0), maximize=True
            )
            taken = set()
            for i, c in zip(rows, cols, strict=True):
                if score[i, c] >= threshold:
                    clusters[c].append(int(mine[i]))
                    taken.add(i)
            mine = [s for i, s in enumerate(mine) if i not in taken]
        clusters.extend([int(s)] for s in mine)
    out = []
    for members in clusters:
        if len(members) < quorum:
            continue
        block = sims[np.ix_(members, members)]
        pairs = len(members) * (len(members) - 1)
        agreement = float((block.sum() - np.trace(block)) / pairs) if pairs else 1.0
        member_shapes = [shapes[m] for m in members]
        shape = _consensus_geometry(member_shapes, block)
        labels = [s.get("label") for s in member_shapes]
        if any(label is not None for label in labels):
            shape["label"] = Counter(labels).most_common(1)[0][0]
        shape["attributes"] = _consensus_attributes(member_shapes)
        out.append(ShapeCluster(tuple((flat[m][0], flat[m][1]) for m in members), shape, agreement))
    return out


# --- spans ---


def aggregate_spans(spans: Sequence[Sequence[dict]], *, quorum: int | None = None) -> list[dict]:
    """Character-level vote: each character takes the label most labelers gave it (≥ quorum).

    `spans[r]` are labeler r's spans {start, end, label}; consecutive characters with the
    same winning label become one span. The default quorum is a majority of the labelers.
    """
    if quorum is None:
        quorum = len(spans) // 2 + 1
    flat = [(r, s) for r, mine in enumerate(spans) for s in mine]
    if not flat:
        return []
    labels = sorted({repr(s.get("label")) for _, s in flat})
    label_index = {name: j for j, name in enumerate(labels)}
    by_name = {repr(s.get("label")): s.get("label") for _, s in flat}
    length = max(s["end"] for _, s in flat)
    rows = np.array([r for r, _ in flat])
    cols = np.array([label_index[repr(s.get("label"))] for _, s in flat])
    starts = np.array([s["start"] for _, s in flat])
    ends = np.array([s["end"] for _, s in flat])
    edges = np.zeros((len(spans), len(labels), length + 1), np.int32)
    np.add.at(edges, (rows, cols, starts), 1)
    np.add.at(edges, (rows, cols, ends), -1)
    # A labeler's overlapping spans of one label still give each character one vote.
    votes = (np.cumsum(edges, axis=2)[:, :, :length] > 0).sum(axis=0)  # (labels, chars)
    winner = votes.argmax(axis=0)
    winner = np.where(votes.max(axis=0) >= quorum, winner, -1)
    change = np.flatnonzero(np.diff(np.concatenate(([-1], winner, [-1]))))
    out = []
    for start, end in pairwise(change):
        if winner[start] >= 0:
            out.append(
                {"start": int(start), "end": int(end), "label": by_name[labels[winner[start]]]}
            )
    return out
