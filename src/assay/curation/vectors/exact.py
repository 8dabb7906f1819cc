"""Exact top-k by inner product: the reference path every index is held equal to."""

from __future__ import annotations

import numpy as np

# Rows scored per matmul block: bounds the scores buffer (queries x block float32).
BLOCK_ROWS = 262_144


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and values of the k largest scores per row, best first."""
    k = min(k, scores.shape[1])
    if k == 0:
        empty = np.zeros((scores.shape[0], 0))
        return empty.astype(np.int64), empty.astype(np.float32)
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(k), (scores.shape[0], k))
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, 1), np.take_along_axis(values, order, 1)


def exact_search(
    vectors: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `vectors` with the k highest inner products per query, and those products.

    `rows` (int64 positions) restricts the candidates; the answer then holds positions into
    `vectors`, not into `rows`. Rows are scored a block at a time, and the running best k
    kept, so memory stays bounded at any size.
    """
    queries = np.atleast_2d(queries)
    total = len(vectors) if rows is None else len(rows)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, total, BLOCK_ROWS):
        stop = min(total, start + BLOCK_ROWS)
        if rows is None:
            positions = np.arange(start, stop, dtype=np.int64)
            block = vectors[start:stop]
        else:
            positions = rows[start:stop]
            block = vectors[positions]
        scores = np.concatenate([best_scores, queries @ block.T], axis=1)
        candidates = np.concatenate(
            [best_rows, np.broadcast_to(positions, (len(queries), len(positions)))], axis=1
        )
        picked, best_scores = top_k(scores, k)
        best_rows = np.take_along_axis(candidates, picked, axis=1)
    return best_rows, best_scores
