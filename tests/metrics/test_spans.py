from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np
import pytest

from assay.metrics import spans as m

LABELS = ("LOC", "ORG", "PER")


def test_strict_by_hand():
    truth = [
        [(0, 5, "PER"), (10, 15, "LOC")],
        [{"start": 3, "end": 8, "label": "ORG", "text": "Assay"}],
    ]
    predicted = [
        [(0, 5, "PER"), (11, 15, "LOC"), (20, 22, "PER")],  # exact, off by one, spurious
        [(3, 8, "LOC", 0.9)],  # right offsets, wrong label
    ]
    result = m.span_metrics(truth, predicted)
    assert (result.true_positives, result.support, result.predicted) == (1, 3, 4)
    assert result.labels == LABELS
    loc, org, per = result.per_label
    assert (loc.precision, loc.recall, loc.support, loc.predicted) == (0.0, 0.0, 1, 2)
    assert (org.precision, org.recall, org.support, org.predicted) == (0.0, 0.0, 1, 0)
    assert (per.precision, per.recall, per.f1) == (0.5, 1.0, pytest.approx(2 / 3))
    assert result.micro.precision == 0.25 and result.micro.recall == pytest.approx(1 / 3)
    assert result.micro.f1 == pytest.approx(2 / 7)
    assert result.macro.f1 == pytest.approx((2 / 3) / 3)
    assert result.weighted.recall == pytest.approx(1 / 3)  # each label has one true span
    assert result.min_iou is None and result.documents == 2
    json.dumps(result.to_dict(), allow_nan=False)


def test_repeated_predictions_are_false_positives_and_documents_stay_apart():
    result = m.span_metrics([[(0, 3, "A")], []], [[(0, 3, "A"), (0, 3, "A")], [(0, 3, "A")]])
    assert (result.true_positives, result.predicted) == (1, 3)
    assert result.micro.precision == pytest.approx(1 / 3) and result.micro.recall == 1.0
    twice = m.span_metrics([[(0, 3, "A"), (0, 3, "A")]], [[(0, 3, "A"), (0, 3, "A")]])
    assert twice.true_positives == 2 and twice.micro.f1 == 1.0


def test_partial_threshold_is_inclusive_and_needs_the_same_label():
    truth = [[(0, 4, "A")]]
    half = [[(0, 2, "A")]]  # IoU exactly 0.5
    assert m.span_metrics(truth, half, mode="partial", min_iou=0.5).true_positives == 1
    assert m.span_metrics(truth, half, mode="partial", min_iou=0.51).true_positives == 0
    assert m.span_metrics(truth, half).true_positives == 0  # strict
    assert m.span_metrics(truth, [[(0, 4, "B")]], mode="partial").true_positives == 0
    touching = [[(3, 30, "A")]]  # one position in common, IoU 1/30
    assert m.span_metrics(truth, touching, mode="partial", min_iou=0.0).true_positives == 1
    assert m.span_metrics(truth, [[(4, 9, "A")]], mode="partial", min_iou=0.0).true_positives == 0


def test_partial_matching_follows_scores_then_overlap():
    # p1 covers g0 best (IoU 0.9); p0 overlaps g0 (0.67) and, barely, g1 (0.11).
    truth = [[(0, 10, "A"), (10, 20, "A")]]
    by_overlap = m.span_metrics(truth, [[(2, 12, "A"), (0, 9, "A")]], mode="partial", min_iou=0.1)
    assert by_overlap.true_positives == 2  # p1-g0 first, then p0-g1
    scored = [[(2, 12, "A", 0.9), (0, 9, "A", 0.5)]]
    by_score = m.span_metrics(truth, scored, mode="partial", min_iou=0.1)
    assert by_score.true_positives == 1  # p0 first takes its best, g0; p1 is left over
    unscored_last = [[(2, 12, "A", -1.0), (0, 9, "A")]]  # any score ranks before none
    assert m.span_metrics(truth, unscored_last, mode="partial", min_iou=0.1).true_positives == 1


def reference(truth_docs, pred_docs, mode, min_iou):
    """True positives per label, by plain loops over every pair."""
    tp = Counter()
    for truth, predicted in zip(truth_docs, pred_docs, strict=True):
        pairs = []
        for p, (ps, pe, pl, *score) in enumerate(predicted):
            for t, (ts, te, tl) in enumerate(truth):
                if pl != tl:
                    continue
                if mode == "strict":
                    if (ps, pe) == (ts, te):
                        pairs.append((0.0, 0.0, p, t))
                    continue
                overlap = min(pe, te) - max(ps, ts)
                iou = overlap / (max(pe, te) - min(ps, ts)) if overlap > 0 else 0.0
                if overlap > 0 and iou >= min_iou:
                    pairs.append((-(score[0] if score else float("-inf")), -iou, p, t))
        used_p, used_t = set(), set()
        for _, _, p, t in sorted(pairs):
            if p not in used_p and t not in used_t:
                used_p.add(p)
                used_t.add(t)
                tp[truth[t][2]] += 1
    return tp


def random_documents(rng, documents=60):
    truth_docs, pred_docs = [], []
    for _ in range(documents):
        truth = []
        for _ in range(rng.randrange(0, 8)):
            start = rng.randrange(0, 80)
            truth.append((start, start + rng.randrange(1, 12), rng.choice(LABELS)))
        predicted = []
        for start, end, label in truth:
            if rng.random() < 0.8:
                start = max(0, start + rng.choice([0, 0, 0, -2, -1, 1, 3]))
                end = max(start + 1, end + rng.choice([0, 0, 0, -1, 1, 2]))
                label = label if rng.random() < 0.85 else rng.choice(LABELS)
                predicted.append((start, end, label, round(rng.random(), 1)))
        for _ in range(rng.randrange(0, 3)):
            start = rng.randrange(0, 80)
            predicted.append((start, start + rng.randrange(1, 6), rng.choice(LABELS), 0.5))
        rng.shuffle(predicted)
        truth_docs.append(truth)
        pred_docs.append(predicted)
    return truth_docs, pred_docs


@pytest.mark.parametrize(("mode", "min_iou"), [("strict", 0.5), ("partial", 0.5), ("partial", 0.0)])
def test_random_documents_match_the_plain_reference(mode, min_iou):
    rng = random.Random(f"{mode}{min_iou}")
    truth_docs, pred_docs = random_documents(rng)
    result = m.span_metrics(truth_docs, pred_docs, mode=mode, min_iou=min_iou)
    expected = reference(truth_docs, pred_docs, mode, min_iou)
    support = Counter(s[2] for doc in truth_docs for s in doc)
    predicted = Counter(s[2] for doc in pred_docs for s in doc)
    for row in result.per_label:
        assert row.support == support[row.label] and row.predicted == predicted[row.label]
        assert row.recall == pytest.approx(expected[row.label] / support[row.label])
        assert row.precision == pytest.approx(expected[row.label] / predicted[row.label])
    assert result.true_positives == sum(expected.values())


def test_partial_at_iou_one_is_strict():
    truth_docs, pred_docs = random_documents(random.Random(4))
    strict = m.span_metrics(truth_docs, pred_docs)
    partial = m.span_metrics(truth_docs, pred_docs, mode="partial", min_iou=1.0)
    assert partial.per_label == strict.per_label and partial.micro == strict.micro
    loose = m.span_metrics(truth_docs, pred_docs, mode="partial", min_iou=0.3)
    assert loose.true_positives > strict.true_positives


def test_no_spans_and_invalid_input():
    empty = m.span_metrics([[], None], [[], []])
    assert empty.labels == () and empty.macro is None and empty.micro.f1 == 0.0
    json.dumps(empty.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="end after"):
        m.span_metrics([[(3, 3, "A")]], [[]])
    with pytest.raises(ValueError, match="number of documents"):
        m.span_metrics([[]], [[], []])
    with pytest.raises(ValueError, match="mode"):
        m.span_metrics([[]], [[]], mode="lenient")
    with pytest.raises(ValueError, match="a span is"):
        m.span_metrics([[(1, 2)]], [[]])


@pytest.mark.parametrize(("mode", "min_iou"), [("strict", 0.5), ("partial", 0.3)])
def test_span_matches_are_the_pairs_the_metrics_count(mode, min_iou):
    rng = random.Random(f"pairs{mode}")
    truth_docs, pred_docs = random_documents(rng, documents=40)
    result = m.span_metrics(truth_docs, pred_docs, mode=mode, min_iou=min_iou)
    pairs = m.match_spans(truth_docs, pred_docs, mode=mode, min_iou=min_iou)
    truth = [(d, *s[:3]) for d, doc in enumerate(truth_docs) for s in doc]
    found = [(d, *s[:3]) for d, doc in enumerate(pred_docs) for s in doc]
    assert len(pairs.predicted) == len(found) and len(pairs.truth) == len(truth)
    matched = [(i, j) for i, j in enumerate(pairs.predicted.tolist()) if j >= 0]
    assert len(matched) == result.true_positives > 0
    for i, j in matched:
        assert pairs.truth[j] == i  # both ways
        (d, start, end, label), (d2, start2, end2, label2) = found[i], truth[j]
        assert d == d2 and label == label2
        overlap = min(end, end2) - max(start, start2)
        iou = overlap / ((end - start) + (end2 - start2) - overlap)
        assert pairs.iou[i] == pytest.approx(iou) and iou >= (1.0 if mode == "strict" else min_iou)
    tp = Counter(found[i][3] for i, _ in matched)
    for row in result.per_label:
        assert row.recall == pytest.approx(tp[row.label] / row.support if row.support else 0)
    assert np.isnan(pairs.iou[pairs.predicted < 0]).all()
