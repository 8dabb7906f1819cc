"""Aggregating orders and preferences: Borda, Kemeny, Bradley-Terry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Any

import numpy as np

from assay.metrics.factorize import factorize

KEMENY_EXACT_MAX = 8  # 8! = 40,320 orders, scored in one vectorised pass
# Choices of Assay's comparison annotation and the share of the win each gives to "a".
COMPARISON_OUTCOMES = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_good": 0.5, "both_bad": 0.5}


def _positions(rankings: Sequence[Sequence[int]]) -> np.ndarray:
    """(R, n) position of each item (0 = best) in each ranking, which must be permutations."""
    orders = np.asarray(rankings, dtype=np.intp)
    if orders.ndim != 2 or np.any(np.sort(orders, axis=1) != np.arange(orders.shape[1])):
        raise ValueError("each ranking must order the items 0..n-1, each exactly once")
    positions = np.empty_like(orders)
    np.put_along_axis(positions, orders, np.arange(orders.shape[1])[None, :], axis=1)
    return positions


def borda(rankings: Sequence[Sequence[int]]) -> tuple[list[int], np.ndarray]:
    """Order by Borda count (n - 1 points for first place, 0 for last), and the scores.

    Ties keep the lower item index first.
    """
    positions = _positions(rankings)
    scores = np.sum(positions.shape[1] - 1 - positions, axis=0)
    return [int(i) for i in np.lexsort((np.arange(len(scores)), -scores))], scores


def preference_matrix(rankings: Sequence[Sequence[int]]) -> np.ndarray:
    """(n, n): how many rankings put item i before item j."""
    positions = _positions(rankings)
    return np.sum(positions[:, :, None] < positions[:, None, :], axis=0)


def kemeny_distance(order: Sequence[int], rankings: Sequence[Sequence[int]]) -> int:
    """Total Kendall distance (item pairs ordered differently) from `order` to the rankings."""
    prefer = preference_matrix(rankings)
    pos = _positions([order])[0]
    before = pos[:, None] < pos[None, :]
    return int(np.sum(prefer.T[before]))  # rankings with j before i, where order has i first


def kemeny(rankings: Sequence[Sequence[int]]) -> list[int]:
    """A Kemeny order: the one closest to all rankings in total Kendall distance.

    Exact (every order scored) for at most KEMENY_EXACT_MAX items; beyond, a local search
    from the Borda order that moves single items to their best place until nothing improves,
    so it never does worse than Borda.
    """
    prefer = preference_matrix(rankings)
    n = len(prefer)
    if n <= 1:
        return list(range(n))
    if n <= KEMENY_EXACT_MAX:
        orders = np.array(list(permutations(range(n))), dtype=np.intp)
        i, j = np.triu_indices(n, 1)
        costs = np.sum(prefer[orders[:, j], orders[:, i]], axis=1)
        return [int(x) for x in orders[int(np.argmin(costs))]]  # first minimum: lexicographic
    order = borda(rankings)[0]
    improved = True
    while improved:
        improved = False
        for item in list(order):
            rest = [x for x in order if x != item]
            # Cost of placing `item` at slot p: rest items after it that beat it, before it
            # that it beats; both by cumulative sums, for every slot at once.
            beats_item = prefer[rest, item]  # rankings with rest[k] before item
            item_beats = prefer[item, rest]
            before_cost = np.concatenate(([0], np.cumsum(item_beats)))
            after_cost = np.concatenate((np.cumsum(beats_item[::-1])[::-1], [0]))
            costs = before_cost + after_cost
            best = int(np.argmin(costs))
            current = order.index(item)
            if costs[best] < costs[current]:
                order = [*rest[:best], item, *rest[best:]]
                improved = True
    return order


@dataclass(frozen=True, slots=True)
class BradleyTerryResult:
    items: np.ndarray  # (n,) distinct item ids, sorted
    strengths: np.ndarray  # (n,) positive, geometric mean 1; P(i beats j) = s_i / (s_i + s_j)
    order: np.ndarray  # item ids, strongest first
    iterations: int
    converged: bool

    def probability(self, i: int, j: int) -> float:
        """P(items[i] beats items[j])."""
        return float(self.strengths[i] / (self.strengths[i] + self.strengths[j]))


def bradley_terry(
    first: Any,
    second: Any,
    outcomes: Any,
    *,
    prior: float = 0.1,
    max_iter: int = 10_000,
    tol: float = 1e-9,
) -> BradleyTerryResult:
    """Bradley-Terry strengths by Hunter's (2004) MM iterations.

    `outcomes[k]` is how much of comparison k `first[k]` won: 1, 0, or 0.5 for a tie (or one
    of Assay's comparison choices: a, b, tie, both_good, both_bad). A tie counts half a win
    each way. `prior` adds that many virtual tied games between every two items, so an item
    that never won (or never lost) still gets a finite strength; being a tie between items,
    it leaves the likelihood free of scale, and each step can renormalise.
    """
    if prior <= 0:
        raise ValueError("prior must be positive: it keeps never-won items finite")
    outcomes = [COMPARISON_OUTCOMES[o] if isinstance(o, str) else o for o in outcomes]
    items, codes = factorize(np.concatenate((np.asarray(first), np.asarray(second))))
    n, m = len(items), len(outcomes)
    a, b = codes[:m], codes[m:]
    won = np.asarray(outcomes, dtype=float)
    if np.any((won < 0) | (won > 1)):
        raise ValueError("outcomes must lie between 0 (second wins) and 1 (first wins)")
    wins = np.bincount(a, weights=won, minlength=n) + np.bincount(b, weights=1 - won, minlength=n)
    games = np.zeros((n, n))
    np.add.at(games, (a, b), 1.0)
    games += games.T + prior * (1 - np.eye(n))
    wins += prior * (n - 1) / 2
    strengths = np.ones(n)
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        # MM update: s_i = W_i / Σ_j n_ij / (s_i + s_j), then geometric mean 1.
        new = wins / np.sum(games / (strengths[:, None] + strengths[None, :]), axis=1)
        new /= np.exp(np.mean(np.log(new)))
        change = float(np.max(np.abs(np.log(new) - np.log(strengths))))
        strengths = new
        if change < tol:
            converged = True
            break
    order = items[np.lexsort((np.arange(n), -strengths))]
    return BradleyTerryResult(items, strengths, order, iterations, converged)
