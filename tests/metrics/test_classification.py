from __future__ import annotations

import json

import numpy as np
import pytest

from assay.metrics import classification as c

sk = pytest.importorskip("sklearn.metrics")
preprocessing = pytest.importorskip("sklearn.preprocessing")

TOL = 1e-12
NAMES = np.array(["airplane", "bird", "car", "cat", "deer", "dog", "frog"])
ABSENT = "<none>"  # scikit-learn's stand-in for a missing label: a label left out of labels=


def noisy_labels(rng, n, k, accuracy=0.6):
    truth = rng.integers(0, k, n)
    guess = rng.integers(0, k, n)
    return truth, np.where(rng.random(n) < accuracy, truth, guess)


def assert_matches_sklearn(result, y_true, y_pred, labels, zero_division=0.0, names=None):
    """Per-class and averaged scores of `result` against scikit-learn's on the same labels."""
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=zero_division
    )
    assert [r.label for r in result.per_class] == list(names or labels)
    np.testing.assert_allclose([r.precision for r in result.per_class], precision, atol=TOL)
    np.testing.assert_allclose([r.recall for r in result.per_class], recall, atol=TOL)
    np.testing.assert_allclose([r.f1 for r in result.per_class], f1, atol=TOL)
    assert [r.support for r in result.per_class] == support.tolist()
    for average in ("micro", "macro", "weighted"):
        expected = sk.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=zero_division
        )[:3]
        ours = getattr(result, average)
        assert (ours.precision, ours.recall, ours.f1) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("as_strings", [False, True])
def test_multiclass_matches_sklearn(as_strings):
    rng = np.random.default_rng(1 + as_strings)
    truth, guess = noisy_labels(rng, 5000, len(NAMES))
    guess[guess == 3] = 4  # a class never predicted: precision 0 by zero_division
    y_true, y_pred = (NAMES[truth], NAMES[guess]) if as_strings else (truth, guess)
    result = c.classification_metrics(y_true, y_pred)
    labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    assert list(result.classes) == labels
    assert result.accuracy == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=TOL)
    assert result.missed == result.spurious == 0
    assert_matches_sklearn(result, y_true, y_pred, labels)
    matrix = np.array(result.confusion)
    assert (matrix[:-1, :-1] == sk.confusion_matrix(y_true, y_pred, labels=labels)).all()
    assert not matrix[-1].any() and not matrix[:, -1].any()
    assert result.cohen_kappa == pytest.approx(sk.cohen_kappa_score(y_true, y_pred), abs=TOL)


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_matches_sklearn(weights):
    rng = np.random.default_rng(5)
    truth, guess = noisy_labels(rng, 2000, 5, accuracy=0.4)
    result = c.classification_metrics(truth, guess, kappa_weights=weights)
    expected = sk.cohen_kappa_score(truth, guess, weights=weights)
    assert result.cohen_kappa == pytest.approx(expected, abs=TOL)
    assert result.cohen_kappa != pytest.approx(c.classification_metrics(truth, guess).cohen_kappa)


def test_missed_and_spurious_match_sklearn_with_absence_as_an_excluded_label():
    rng = np.random.default_rng(7)
    truth, guess = noisy_labels(rng, 4000, len(NAMES))
    y_true, y_pred = NAMES[truth].astype(object), NAMES[guess].astype(object)
    no_prediction = rng.random(len(y_true)) < 0.1
    no_truth = ~no_prediction & (rng.random(len(y_true)) < 0.1)
    y_pred[no_prediction] = None
    y_true[no_truth] = None
    result = c.classification_metrics(y_true, y_pred)
    assert result.missed == no_prediction.sum() and result.spurious == no_truth.sum()
    assert result.pairs == len(y_true)

    labels = NAMES.tolist()
    sk_true = np.where(no_truth, ABSENT, y_true.astype(str))
    sk_pred = np.where(no_prediction, ABSENT, y_pred.astype(str))
    assert_matches_sklearn(result, sk_true, sk_pred, labels)
    assert result.micro.precision != pytest.approx(result.micro.recall)  # absences differ
    assert result.accuracy == pytest.approx(sk.accuracy_score(sk_true, sk_pred), abs=TOL)
    full = sk.confusion_matrix(sk_true, sk_pred, labels=[*labels, ABSENT])
    assert (np.array(result.confusion) == full).all()
    assert result.cohen_kappa == pytest.approx(sk.cohen_kappa_score(sk_true, sk_pred), abs=TOL)


def test_missed_and_spurious_by_hand():
    # cat→cat ✓, cat→(none) missed, dog→cat ✗, (none)→dog spurious, (none)→(none) dropped
    y_true = ["cat", "cat", "dog", None, None]
    y_pred = ["cat", None, "cat", "dog", None]
    result = c.classification_metrics(y_true, y_pred)
    assert result.classes == ("cat", "dog")
    assert result.pairs == 4 and result.missed == 1 and result.spurious == 1
    assert result.confusion == ((1, 0, 1), (1, 0, 0), (0, 1, 0))
    assert result.accuracy == 0.25
    cat, dog = result.per_class
    assert (cat.precision, cat.recall, cat.support, cat.predicted) == (0.5, 0.5, 2, 2)
    assert (dog.precision, dog.recall, dog.support, dog.predicted) == (0.0, 0.0, 1, 1)
    assert result.micro.precision == pytest.approx(1 / 3)  # 1 right of 3 predictions
    assert result.micro.recall == pytest.approx(1 / 3)  # 1 right of 3 ground truths


def test_a_custom_missing_value_and_nan():
    ints = c.classification_metrics([1, 2, -1, 2], [1, -1, 2, 2], missing=-1)
    assert (ints.classes, ints.missed, ints.spurious, ints.accuracy) == ((1, 2), 1, 1, 0.5)
    floats = c.classification_metrics([1.0, 2.0, np.nan, 2.0], [1.0, np.nan, 2.0, 2.0])
    assert floats.confusion == ints.confusion


def test_fixed_class_order_keeps_unseen_classes_and_rejects_unknown_labels():
    result = c.classification_metrics(["b", "a", "b"], ["b", "b", "b"], classes=["c", "b", "a"])
    assert result.classes == ("c", "b", "a")
    assert result.confusion == ((0, 0, 0, 0), (0, 2, 0, 0), (0, 1, 0, 0), (0, 0, 0, 0))
    assert result.per_class[0].precision == 0.0  # nothing predicted, no warning
    assert_matches_sklearn(result, ["b", "a", "b"], ["b", "b", "b"], ["c", "b", "a"])
    with pytest.raises(ValueError, match="not among the classes"):
        c.classification_metrics(["a", "z"], ["a", "a"], classes=["a", "b"])
    with pytest.raises(ValueError, match="distinct"):
        c.classification_metrics(["a"], ["a"], classes=["a", "a"])


def test_zero_division_one_matches_sklearn():
    rng = np.random.default_rng(11)
    truth, guess = noisy_labels(rng, 300, 4)
    guess[guess == 2] = 1
    labels = [0, 1, 2, 3, 4]  # 4 never occurs: every ratio of it is undefined
    result = c.classification_metrics(truth, guess, classes=labels, zero_division=1.0)
    assert_matches_sklearn(result, truth, guess, labels, zero_division=1.0)
    assert result.per_class[4].f1 == 1.0


def test_ints_and_strings_stay_distinct_labels():
    result = c.classification_metrics(np.array([1, "1"], dtype=object), [1, 1])
    assert len(result.classes) == 2 and result.accuracy == 0.5


@pytest.mark.parametrize("k", [1, 2, 3, 5, 6])
def test_top_k_matches_sklearn_with_ties(k):
    rng = np.random.default_rng(k)
    n, width = 3000, 6
    truth = rng.integers(0, width, n)
    scores = np.round(rng.random((n, width)), 1)  # coarse scores: many ties
    scores[:50] = 0.5  # whole rows tied
    predicted = scores.argmax(axis=1)
    result = c.classification_metrics(
        truth, predicted, classes=range(width), scores=scores, top_k=[k]
    )
    if k < width:
        expected = sk.top_k_accuracy_score(truth, scores, k=k, labels=range(width))
    else:  # scikit-learn warns that every class is in the top k
        expected = 1.0
    assert result.top_k_accuracy == {k: pytest.approx(expected, abs=TOL)}


def test_classes_ahead_equals_a_stable_sort():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, (500, 7)).astype(float)
    truth = rng.integers(0, 7, 500)
    ranking = np.argsort(scores, axis=1, kind="mergesort")[:, ::-1]
    expected = np.argmax(ranking == truth[:, None], axis=1)
    assert (c.classes_ahead(scores, truth) == expected).all()


def test_top_k_counts_items_without_prediction_as_misses_and_skips_spurious():
    scores = np.array([[0.9, 0.1], [0.9, 0.1], [np.nan, np.nan], [0.2, 0.8]])
    result = c.classification_metrics(
        ["a", "a", "a", None],
        ["a", "a", None, "b"],
        classes=["a", "b"],
        scores=scores,
        top_k=(1, 2),
    )
    assert result.top_k_accuracy == {1: 2 / 3, 2: 2 / 3}
    with pytest.raises(ValueError, match="classes"):
        c.classification_metrics(["a"], ["a"], scores=[[1.0]])
    with pytest.raises(ValueError, match="shape"):
        c.classification_metrics(["a"], ["a"], classes=["a", "b"], scores=[[1.0]])


def test_confusions_add_up():
    rng = np.random.default_rng(13)
    truth, guess = noisy_labels(rng, 1000, 5)
    whole, classes = c.confusion_matrix(truth, guess, classes=range(5))
    first, _ = c.confusion_matrix(truth[:400], guess[:400], classes=range(5))
    rest, _ = c.confusion_matrix(truth[400:], guess[400:], classes=range(5))
    assert (first + rest == whole).all()
    merged = c.classification_from_confusion(first + rest, classes)
    assert merged == c.classification_metrics(truth, guess, classes=range(5))


def test_undefined_values_are_none_and_serialise_without_nan():
    empty = c.classification_metrics([], [], classes=["a"])
    assert empty.accuracy is None and empty.cohen_kappa is None and empty.pairs == 0
    one_class = c.classification_metrics(["a", "a"], ["a", "a"])
    assert one_class.cohen_kappa is None  # sklearn: nan, with a warning
    weighted_with_missing = c.classification_metrics(
        [1, 2, None], [1, None, 2], kappa_weights="linear"
    )
    assert weighted_with_missing.cohen_kappa is None
    for result in (empty, one_class, weighted_with_missing):
        json.dumps(result.to_dict(), allow_nan=False)
    assert c.classification_metrics([], []).macro is None


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same length"):
        c.classification_metrics([1, 2], [1])
    with pytest.raises(ValueError, match="same length"):
        c.classification_metrics([1, None], [1])


# --- multi-label ---


def random_label_sets(rng, n, names, p=0.3):
    sets = [[name for name in names if rng.random() < p] for _ in range(n)]
    for i in rng.choice(n, n // 10, replace=False):  # some items without any: None or []
        sets[i] = None if i % 2 else []
    return sets


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_multilabel_matches_sklearn(zero_division):
    rng = np.random.default_rng(17)
    names = NAMES[:5].tolist()
    y_true = random_label_sets(rng, 800, names)
    y_pred = random_label_sets(rng, 800, names, p=0.25)
    y_pred[0] = ["car", "car", "bird"]  # a repeat counts once
    result = c.multilabel_metrics(y_true, y_pred, zero_division=zero_division)
    binarizer = preprocessing.MultiLabelBinarizer(classes=names)
    true_matrix = binarizer.fit_transform([s or [] for s in y_true])
    pred_matrix = binarizer.transform([s or [] for s in y_pred])
    assert_matches_sklearn(result, true_matrix, pred_matrix, range(5), zero_division, names)
    expected = sk.precision_recall_fscore_support(
        true_matrix, pred_matrix, average="samples", zero_division=zero_division
    )[:3]
    samples = result.samples
    assert (samples.precision, samples.recall, samples.f1) == pytest.approx(expected, abs=TOL)
    assert result.subset_accuracy == pytest.approx(sk.accuracy_score(true_matrix, pred_matrix))
    assert result.hamming_loss == pytest.approx(sk.hamming_loss(true_matrix, pred_matrix))
    assert result.classes == tuple(names) and result.items == 800


def test_multilabel_indicator_arrays_equal_label_lists():
    rng = np.random.default_rng(19)
    true_matrix = rng.random((200, 4)) < 0.3
    pred_matrix = rng.random((200, 4)) < 0.3
    names = ["w", "x", "y", "z"]
    as_lists = c.multilabel_metrics(
        [[names[j] for j in np.flatnonzero(row)] for row in true_matrix],
        [[names[j] for j in np.flatnonzero(row)] for row in pred_matrix],
        classes=names,
    )
    as_arrays = c.multilabel_metrics(true_matrix, pred_matrix.astype(int), classes=names)
    assert as_lists == as_arrays


def test_multilabel_by_hand():
    result = c.multilabel_metrics([["a", "b"], ["b"], [], None], [["a"], ["b", "c"], ["a"], []])
    a, b, cc = result.per_class
    assert (a.precision, a.recall, a.support, a.predicted) == (0.5, 1.0, 1, 2)
    assert (b.precision, b.recall) == (1.0, 0.5)
    assert (cc.precision, cc.recall, cc.support) == (0.0, 0.0, 0)
    assert result.subset_accuracy == 0.25  # only the last item: nothing and nothing
    assert result.hamming_loss == 3 / 12  # b missed in 1, c and a spurious in 2 and 3
    assert result.micro.precision == 0.5 and result.micro.recall == pytest.approx(2 / 3)
    json.dumps(result.to_dict(), allow_nan=False)


def test_multilabel_edge_cases():
    assert c.multilabel_metrics([[1, "1"]], [[1]]).classes == (1, "1")
    nothing = c.multilabel_metrics([[], None], [[], []])
    assert nothing.subset_accuracy == 1.0 and nothing.hamming_loss is None
    assert nothing.macro is None and nothing.classes == ()
    json.dumps(c.multilabel_metrics([], []).to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="not strings"):
        c.multilabel_metrics(["ab"], [["a"]])
    with pytest.raises(ValueError, match="both"):
        c.multilabel_metrics([["a"]], np.ones((1, 1)), classes=["a"])
    with pytest.raises(ValueError, match="same length"):
        c.multilabel_metrics([["a"]], [])
