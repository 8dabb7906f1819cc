"""Judge-vs-human agreement: a fixture counted by hand, per category in one call, and a
cross-check against scikit-learn on random verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from assay.metrics.judge_agreement import judge_agreement, judge_agreement_by_category

# 10 pairs (judge, human): 4 of (met, met), 2 of (met, not), 1 of (not, met), 3 of (not, not).
JUDGE = [True] * 4 + [True] * 2 + [False] * 1 + [False] * 3
HUMAN = [True] * 4 + [False] * 2 + [True] * 1 + [False] * 3


def test_counted_by_hand():
    found = judge_agreement(JUDGE, HUMAN)
    assert (found.met_met, found.met_not, found.not_met, found.not_not) == (4, 2, 1, 3)
    assert found.pairs == 10
    assert found.accuracy == pytest.approx(7 / 10)
    # met: tp 4, humans say met 5 times, judge 6 times → F1 = 2·4 / (5 + 6) = 8/11.
    # not met: tp 3, humans 5, judge 4 → F1 = 2·3 / (5 + 4) = 2/3.
    # balanced F1 = (8/11 + 2/3) / 2 = (24/33 + 22/33) / 2 = 23/33.
    assert found.f1_met == pytest.approx(8 / 11)
    assert found.f1_not_met == pytest.approx(2 / 3)
    assert found.balanced_f1 == pytest.approx(23 / 33)
    # κ: observed 0.7; chance = (6·5 + 4·5) / 100 = 0.5 → (0.7 - 0.5) / (1 - 0.5) = 0.4.
    assert found.cohen_kappa == pytest.approx(0.4)
    # Bias: judge says met on 2 of the 5 humans' not-met; not met on 1 of the 5 humans' met.
    assert found.false_met_rate == pytest.approx(2 / 5)
    assert found.false_not_met_rate == pytest.approx(1 / 5)


def test_per_category_in_one_call():
    # Category "safety" holds the hand fixture; "accuracy" is a judge that always says met
    # on 3 human met and 1 human not met: met F1 = 2·3/(3+4) = 6/7, not-met F1 = 0 (tp 0,
    # humans 1, judge 0 → 0/1), balanced 3/7; κ: observed 3/4, chance (4·3 + 0·1)/16 = 3/4
    # → 0; false-met rate 1/1, false-not-met rate 0/3.
    judge = [*JUDGE, True, True, True, True]
    human = [*HUMAN, True, True, True, False]
    categories = ["safety"] * 10 + ["accuracy"] * 4
    found = judge_agreement_by_category(judge, human, categories)
    assert list(found) == ["accuracy", "safety"]
    assert found["safety"] == judge_agreement(JUDGE, HUMAN)
    gullible = found["accuracy"]
    assert gullible.balanced_f1 == pytest.approx(3 / 7)
    assert gullible.cohen_kappa == pytest.approx(0.0)
    assert (gullible.false_met_rate, gullible.false_not_met_rate) == (1.0, 0.0)


def test_undefined_values():
    # Everyone says met: the not-met class has nothing (F1 0.0 as scikit-learn), chance
    # agreement is 1 (κ undefined) and nobody said not met (false-met rate undefined).
    found = judge_agreement([True, True], [True, True])
    assert (found.f1_met, found.f1_not_met, found.balanced_f1) == (1.0, 0.0, 0.5)
    assert found.cohen_kappa is None and found.false_met_rate is None
    assert found.false_not_met_rate == 0.0
    assert judge_agreement([], []) is None
    assert judge_agreement_by_category([], [], []) == {}


def test_inputs():
    assert judge_agreement(np.array([1, 0, 1]), np.array([1, 1, 0])).pairs == 3
    with pytest.raises(ValueError, match="booleans"):
        judge_agreement(["met", "not"], [True, False])
    with pytest.raises(ValueError, match="same length"):
        judge_agreement_by_category([True], [True, False], ["a", "a"])


def test_matches_scikit_learn_on_random_verdicts():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    n = 5000
    categories = rng.choice(["completeness", "accuracy", "safety", "style"], n)
    human = rng.random(n) < 0.55
    # A judge that agrees 80% of the time and leans to "met" when it does not.
    judge = np.where(rng.random(n) < 0.8, human, rng.random(n) < 0.7)
    found = judge_agreement_by_category(judge, human, categories)
    for name in ("completeness", "accuracy", "safety", "style"):
        mask = categories == name
        j, h = judge[mask], human[mask]
        ours = found[name]
        assert ours.balanced_f1 == pytest.approx(
            metrics.f1_score(h, j, average="macro", labels=[False, True], zero_division=0)
        )
        assert ours.cohen_kappa == pytest.approx(metrics.cohen_kappa_score(h, j))
        assert ours.accuracy == pytest.approx(metrics.accuracy_score(h, j))
        (tn, fp), (fn, tp) = metrics.confusion_matrix(h, j, labels=[False, True])
        assert ours.false_met_rate == pytest.approx(fp / (fp + tn))
        assert ours.false_not_met_rate == pytest.approx(fn / (fn + tp))
