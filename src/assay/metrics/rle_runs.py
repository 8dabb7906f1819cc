"""Run-length counts' small helpers shared by `assay.metrics.rle` and `rle_iou`."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

UINT32 = 0xFFFFFFFF


def int32(values: np.ndarray) -> np.ndarray:
    """Wrap int64 values to C's 32-bit int, sign included."""
    return ((values + (1 << 31)) & UINT32) - (1 << 31)


def counts_of(counts) -> np.ndarray:
    out = np.asarray(counts, dtype=np.int64).reshape(-1)
    if len(out) and (out.min() < 0 or out.max() > UINT32):
        raise ValueError("RLE counts must lie in [0, 2**32)")
    return out


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Index of the first of each run of equal keys."""
    return np.flatnonzero(np.diff(sorted_keys, prepend=-1) != 0)


def split_at(values: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
    """values cut at the given ends (np.split is several times slower for many pieces)."""
    bounds = [0, *ends.tolist()]
    return [values[a:b] for a, b in pairwise(bounds)]
