"""Cross-label matching for the COCO evaluation (`assay.metrics.detection`): allowed label
matches, Nucleus's `allowed_label_matches`.

`Params.label_matches` lists (ground-truth category, detection category) pairs that may
match besides equal categories. They are directional: (car, vehicle) lets a "vehicle"
detection take a "car" object, not a "car" detection a "vehicle" object. As a K x K
"may match" matrix (rows: the object's category, columns: the detection's) the identity
is COCO's matching with categories, and all-true matches like the class-agnostic path
(`use_categories=False`, which keeps pycocotools' own one-pool accumulation).

With pairs, matching is still COCO's greedy matching per image: detections by score
(pycocotools' order within a category, then across categories by score and input order),
each taking the best IoU among the objects it may match that are still free. Only what
pairs add is computed here:

- `cross_pairs`: the candidate pairs of each allowed (object category, detection category)
  pair, through the same candidate search as same-category pairs (the detections of one
  category grouped as if they were of the other).
- `image_ranks`: the matching order across categories — a detection's rank in its image.
- `accounted`: the accumulation's rows. A cross-label true positive counts for the
  object's category (its precision, recall and AP) and nowhere else: the detection gets a
  row in that category, matched where it took such an object and ignored in the other
  worlds; its own row is ignored where it took an object of another category. Every
  detection still counts once per world, so TP / FP totals and per-category recall add
  up. The max-detections cut stays per detection category (its rank among its own
  category's detections in the image).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from assay.metrics.detection_match import Pairs, candidate_pairs, rank_in_group, unique_key_order

if TYPE_CHECKING:
    from assay.metrics.detection import MatchState, Objects, Params


def allowed_pairs(p: Params, universe: np.ndarray) -> np.ndarray | None:
    """The off-diagonal (object category index, detection category index) pairs among the
    universe's categories (n x 2), or None when there are none (COCO's own matching)."""
    if not p.use_categories or not p.label_matches:
        return None
    ids = np.asarray(p.label_matches, np.int64).reshape(-1, 2)
    pos = np.clip(np.searchsorted(universe, ids), 0, max(len(universe) - 1, 0))
    known = (universe[pos] == ids).all(axis=1) if len(universe) else np.zeros(len(ids), bool)
    pairs = np.unique(pos[known & (ids[:, 0] != ids[:, 1])], axis=0)
    return pairs if len(pairs) else None


def may_match(p: Params, universe: np.ndarray) -> np.ndarray:
    """The K x K "may match" matrix: [object category, detection category]."""
    if not p.use_categories:
        return np.ones((len(universe), len(universe)), bool)
    allowed = np.eye(len(universe), dtype=bool)
    pairs = allowed_pairs(p, universe)
    if pairs is not None:
        allowed[pairs[:, 0], pairs[:, 1]] = True
    return allowed


def cross_pairs(
    p: Params,
    pairs: np.ndarray,
    K: int,
    gt: Objects,
    dt: Objects,
    g_rows: np.ndarray,
    g_group: np.ndarray,
    d_rows: np.ndarray,
    d_group: np.ndarray,
    d_cat: np.ndarray,
    by_group: np.ndarray,
    g_crowd: np.ndarray,
) -> Pairs:
    """Candidate pairs of detections and objects of different, allowed categories. Groups
    are image * K + category; d_cat is the detections' category index (accumulation order)."""
    found = []
    cat_by_group = d_cat[by_group]
    for g_cat, d_cat_k in pairs:
        subset = by_group[cat_by_group == d_cat_k]
        if not len(subset):
            continue
        # This category's detections, grouped as the objects' category: same image order.
        as_other = d_group + (g_cat - d_cat_k)
        found.append(candidate_pairs(p, gt, dt, g_rows, g_group, d_rows, as_other, subset, g_crowd))
    if not found:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return Pairs(*(np.concatenate([getattr(f, k) for f in found]) for k in ("d", "g", "iou")))


def joined(a: Pairs, b: Pairs) -> Pairs:
    return Pairs(np.r_[a.d, b.d], np.r_[a.g, b.g], np.r_[a.iou, b.iou])


def image_ranks(image: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Each detection's rank in its image by score (position: the global order by score,
    input order on ties — the order within a category too)."""
    order = unique_key_order(image, position)
    ranks = np.empty(len(image), np.int64)
    ranks[order] = rank_in_group(image[order])
    return ranks


def accounted(state: MatchState, d_match: np.ndarray, n_categories: int) -> MatchState:
    """The state with cross-label true positives counted for the object's category (see the
    module's docstring), in accumulation order; the same state when nothing crossed."""
    hit = d_match >= 0
    if not hit.any():
        return state
    matched_cat = np.where(hit, state.g_cat[np.maximum(d_match, 0)], -1)
    cross = hit & (matched_cat != state.d_cat[None, :])
    if not cross.any():
        return state
    w, i = np.nonzero(cross)
    rows = np.unique(i * n_categories + matched_cat[w, i])
    row_d, row_cat = rows // n_categories, rows % n_categories
    # The added rows: matched in every world (so ignored unless good), good where the
    # detection took a good object of that category.
    added_good = (matched_cat[:, row_d] == row_cat[None, :]) & state.d_good[:, row_d]
    merged = dataclasses.replace(
        state,
        d_image=np.r_[state.d_image, state.d_image[row_d]],
        d_score=np.r_[state.d_score, state.d_score[row_d]],
        d_rank=np.r_[state.d_rank, state.d_rank[row_d]],
        d_cat=np.r_[state.d_cat, row_cat],
        d_matched=np.c_[state.d_matched, np.ones((len(d_match), len(rows)), bool)],
        d_good=np.c_[state.d_good & ~cross, added_good],
        d_out_of_range=np.c_[state.d_out_of_range, state.d_out_of_range[:, row_d]],
    )
    return type(state).merged([merged])


def renamed(
    p: Params, category_ids: np.ndarray, mapping: np.ndarray, new_ids: np.ndarray
) -> Params:
    """The params with their label matches' categories renamed (`MatchState.recategorised`:
    category index c becomes new_ids[mapping[c]]; pairs of categories gone are dropped)."""
    at = {int(c): k for k, c in enumerate(category_ids)}
    new_ids = np.asarray(new_ids, np.int64)
    pairs = [
        (int(new_ids[mapping[at[g]]]), int(new_ids[mapping[at[d]]]))
        for g, d in p.label_matches
        if g in at and d in at and mapping[at[g]] >= 0 and mapping[at[d]] >= 0
    ]
    return dataclasses.replace(p, label_matches=tuple(pairs))
