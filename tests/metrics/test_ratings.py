from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from assay.metrics import ratings as r


def noisy_rankings(rng, n_items, n_rankings, swaps):
    """Rankings of items 0..n-1 (true order ascending) with random adjacent swaps."""
    out = []
    for _ in range(n_rankings):
        order = list(range(n_items))
        for _ in range(swaps):
            k = int(rng.integers(0, n_items - 1))
            order[k], order[k + 1] = order[k + 1], order[k]
        out.append(order)
    return out


def test_borda_known_answer():
    order, scores = r.borda([[0, 1, 2], [0, 2, 1], [1, 0, 2]])
    assert scores.tolist() == [5, 3, 1]
    assert order == [0, 1, 2]
    assert r.borda([[1, 0], [0, 1]])[0] == [0, 1]  # a tie keeps the lower index first


def test_rankings_must_be_permutations():
    with pytest.raises(ValueError):
        r.borda([[0, 0, 1]])


def test_preference_matrix_and_kemeny_distance():
    rankings = [[0, 1, 2], [2, 1, 0]]
    assert r.preference_matrix(rankings).tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    assert r.kemeny_distance([0, 1, 2], rankings) == 3
    assert r.kemeny_distance([0, 1, 2], [[0, 1, 2]]) == 0


def test_kemeny_exact_is_the_brute_force_optimum():
    rng = np.random.default_rng(1)
    rankings = [list(rng.permutation(5)) for _ in range(7)]
    best = min(r.kemeny_distance(p, rankings) for p in permutations(range(5)))
    assert r.kemeny_distance(r.kemeny(rankings), rankings) == best


def test_kemeny_beats_borda_where_they_differ():
    # Condorcet winner 0 beats 1 and 2 head to head, yet Borda puts 1 first.
    rankings = [[0, 1, 2, 3]] * 3 + [[1, 2, 3, 0]] * 2
    borda_order = r.borda(rankings)[0]
    kemeny_order = r.kemeny(rankings)
    assert borda_order[0] == 1 and kemeny_order[0] == 0
    assert r.kemeny_distance(kemeny_order, rankings) < r.kemeny_distance(borda_order, rankings)


@pytest.mark.parametrize("n_items", [6, 12])
def test_kemeny_never_worse_than_borda(n_items):
    rng = np.random.default_rng(n_items)
    for _ in range(5):
        rankings = noisy_rankings(rng, n_items, n_rankings=9, swaps=n_items)
        kemeny = r.kemeny_distance(r.kemeny(rankings), rankings)
        assert kemeny <= r.kemeny_distance(r.borda(rankings)[0], rankings)
        assert sorted(r.kemeny(rankings)) == list(range(n_items))


def test_bradley_terry_recovers_strength_order():
    rng = np.random.default_rng(0)
    truth = np.exp(np.linspace(2, -2, 8))  # item 0 strongest
    names = np.array([f"model-{k}" for k in range(8)])
    a = rng.integers(0, 8, 4000)
    b = (a + rng.integers(1, 8, 4000)) % 8
    p_a = truth[a] / (truth[a] + truth[b])
    draw = rng.random(4000)
    outcome = np.where(draw < p_a - 0.05, "a", np.where(draw < p_a + 0.05, "tie", "b"))
    result = r.bradley_terry(names[a], names[b], outcome)
    assert result.converged
    assert list(result.order) == list(names)
    estimated = np.log(result.strengths)
    assert np.corrcoef(estimated, np.log(truth))[0, 1] > 0.99
    assert np.exp(np.mean(estimated)) == pytest.approx(1.0)


def test_bradley_terry_two_items_and_ties():
    # 3 wins in 4 games: with a vanishing prior the odds are 3 to 1.
    result = r.bradley_terry(["x"] * 4, ["y"] * 4, [1, 1, 1, 0], prior=1e-6)
    assert result.probability(0, 1) == pytest.approx(0.75, abs=1e-4)
    ties = r.bradley_terry(["x", "y", "z"], ["y", "z", "x"], ["tie", "both_good", "both_bad"])
    assert ties.strengths == pytest.approx(np.ones(3))


def test_bradley_terry_keeps_never_winning_items_finite():
    result = r.bradley_terry(["a", "a", "b"], ["b", "c", "c"], [1, 1, 1])
    assert np.all(np.isfinite(result.strengths)) and np.all(result.strengths > 0)
    assert list(result.order) == ["a", "b", "c"]
    with pytest.raises(ValueError):
        r.bradley_terry(["a"], ["b"], [1], prior=0)
    with pytest.raises(ValueError):
        r.bradley_terry(["a"], ["b"], [2])
