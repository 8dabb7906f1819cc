"""The rubric score of a response: Σ points of the criteria it meets / Σ positive points,
clipped to [0, 1]. Negative points penalise (a met "states a dangerous dose" criterion takes
its points away); the judge never sees points, only whether each criterion is met.

A rubric without positive points has no score (NaN): nothing can be earned.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rubric_scores(points: Any, met: Any) -> np.ndarray:
    """Scores of many responses to one rubric: `points` (C,), `met` (N, C) booleans → (N,).

    Also takes `points` (N, C) for one rubric per response, padded with 0 points.
    """
    points = np.asarray(points, dtype=float)
    met = np.asarray(met, dtype=bool)
    if met.ndim == 1:
        met = met[None, :]
    if points.shape[-1] != met.shape[-1]:
        raise ValueError("points and met must have one entry per criterion")
    earned = np.where(met, points, 0.0).sum(axis=-1)
    possible = np.clip(points, 0.0, None).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(possible > 0, earned / np.where(possible > 0, possible, 1.0), np.nan)
    return np.clip(np.broadcast_to(score, earned.shape), 0.0, 1.0)


def rubric_scores_flat(owners: Any, points: Any, met: Any, n: int | None = None) -> np.ndarray:
    """Scores of responses with rubrics of different sizes, from flat arrays with one entry
    per (response, criterion): `owners` is the response's index in 0..n-1."""
    owners = np.asarray(owners, dtype=np.intp).reshape(-1)
    points = np.asarray(points, dtype=float).reshape(-1)
    met = np.asarray(met, dtype=bool).reshape(-1)
    if not (len(owners) == len(points) == len(met)):
        raise ValueError("owners, points and met must have the same length")
    size = n if n is not None else (int(owners.max()) + 1 if len(owners) else 0)
    earned = np.bincount(owners, weights=np.where(met, points, 0.0), minlength=size)
    possible = np.bincount(owners, weights=np.clip(points, 0.0, None), minlength=size)
    score = np.full(size, np.nan)
    np.divide(earned, possible, out=score, where=possible > 0)
    return np.clip(score, 0.0, 1.0)
