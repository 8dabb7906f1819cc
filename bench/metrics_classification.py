"""Model-evaluation metrics at scale: assay.metrics against scikit-learn, on the same data.

    python bench/metrics_classification.py [--pairs 1000000] [--classes 20] [--images 100]
                                           [--size 512] [--runs 3] [--seed 0]

Times (medians of --runs, inputs built beforehand) the whole single-label report (accuracy,
per-class and micro/macro/weighted precision/recall/F1, confusion matrix, Cohen's kappa) on
--pairs items with string and with integer labels; top-5 accuracy from (pairs, classes)
scores; multi-label scores of pairs/10 items; and semantic segmentation of --images masks of
--size² pixels with 5 % ignored. scikit-learn does the same work with the calls a user would
make (one per figure); each pair of results is checked equal before timing is reported.
The last line is `metrics_classification: ...` with every pair of times.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

import numpy as np  # noqa: E402

from assay.metrics.classification import classification_metrics, multilabel_metrics  # noqa: E402
from assay.metrics.segmentation import segmentation_metrics  # noqa: E402


def timed(runs: int, work):
    """Median seconds of `runs` calls, and the last result."""
    seconds, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def sklearn_report(sk, y_true, y_pred):
    labels = np.union1d(y_true, y_pred)
    out = {"accuracy": sk.accuracy_score(y_true, y_pred)}
    out["per_class"] = sk.precision_recall_fscore_support(y_true, y_pred, labels=labels)
    for average in ("micro", "macro", "weighted"):
        out[average] = sk.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average
        )[:3]
    out["confusion"] = sk.confusion_matrix(y_true, y_pred, labels=labels)
    out["kappa"] = sk.cohen_kappa_score(y_true, y_pred)
    return out


def check_report(ours, theirs):
    assert abs(ours.accuracy - theirs["accuracy"]) < 1e-12
    f1 = np.array([row.f1 for row in ours.per_class])
    assert np.allclose(f1, theirs["per_class"][2], atol=1e-12, rtol=0)
    assert abs(ours.macro.f1 - theirs["macro"][2]) < 1e-12
    assert (np.array(ours.confusion)[:-1, :-1] == theirs["confusion"]).all()
    assert abs(ours.cohen_kappa - theirs["kappa"]) < 1e-12


def sklearn_segmentation(sk, masks, predictions, classes):
    truth = np.concatenate([m.reshape(-1) for m in masks])
    predicted = np.concatenate([p.reshape(-1) for p in predictions])
    kept = truth != 255
    truth, predicted = truth[kept], predicted[kept]
    labels = np.arange(classes)
    confusion = sk.confusion_matrix(truth, predicted, labels=labels)
    iou = sk.jaccard_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return confusion, iou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        import sklearn
        import sklearn.metrics as sk
        from sklearn.preprocessing import MultiLabelBinarizer
    except ImportError as error:
        sys.exit(f"scikit-learn is needed for the side-by-side ({error}): pip install scikit-learn")
    print(
        f"machine: {platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}"
    )
    rng = np.random.default_rng(args.seed)
    n, k = args.pairs, args.classes
    truth = rng.integers(0, k, n)
    guess = np.where(rng.random(n) < 0.7, truth, rng.integers(0, k, n))
    names = np.array([f"class_{i:03d}" for i in range(k)])
    rows = {}

    for kind, (y_true, y_pred) in {
        "string labels": (names[truth], names[guess]),
        "int labels": (truth, guess),
    }.items():
        ours_s, ours = timed(args.runs, lambda a=y_true, b=y_pred: classification_metrics(a, b))
        theirs_s, theirs = timed(args.runs, lambda a=y_true, b=y_pred: sklearn_report(sk, a, b))
        check_report(ours, theirs)
        rows[f"report {kind}"] = (ours_s, theirs_s)

    scores = rng.random((n, k))
    ours_s, ours = timed(
        args.runs,
        lambda: classification_metrics(truth, guess, classes=range(k), scores=scores, top_k=[5]),
    )
    theirs_s, theirs = timed(
        args.runs, lambda: sk.top_k_accuracy_score(truth, scores, k=5, labels=range(k))
    )
    assert abs(ours.top_k_accuracy[5] - theirs) < 1e-12
    rows["top-5"] = (ours_s, theirs_s)

    items = n // 10
    true_sets = [names[np.flatnonzero(row)].tolist() for row in rng.random((items, k)) < 0.1]
    pred_sets = [names[np.flatnonzero(row)].tolist() for row in rng.random((items, k)) < 0.1]

    def sklearn_multilabel():
        binarizer = MultiLabelBinarizer(classes=names.tolist())
        a, b = binarizer.fit_transform(true_sets), binarizer.transform(pred_sets)
        return [
            sk.precision_recall_fscore_support(a, b, average=average, zero_division=0)[:3]
            for average in (None, "micro", "macro", "weighted", "samples")
        ]

    ours_s, ours = timed(args.runs, lambda: multilabel_metrics(true_sets, pred_sets))
    theirs_s, theirs = timed(args.runs, sklearn_multilabel)
    assert abs(ours.samples.f1 - theirs[4][2]) < 1e-12
    rows["multi-label"] = (ours_s, theirs_s)

    shape = (args.size, args.size)
    masks = [rng.integers(0, k, shape, dtype=np.uint8) for _ in range(args.images)]
    for mask in masks:
        mask[rng.random(shape) < 0.05] = 255
    predictions = [
        np.where(
            rng.random(shape) < 0.7, np.where(m == 255, 0, m), rng.integers(0, k, shape)
        ).astype(np.uint8)
        for m in masks
    ]
    ours_s, ours = timed(args.runs, lambda: segmentation_metrics(masks, predictions, num_classes=k))
    theirs_s, (confusion, iou) = timed(1, lambda: sklearn_segmentation(sk, masks, predictions, k))
    assert (np.array(ours.confusion) == confusion).all()
    assert np.allclose([row.iou for row in ours.per_class], iou, atol=1e-12, rtol=0)
    rows["segmentation"] = (ours_s, theirs_s)

    print(
        f"data: {n:,} pairs of {k} classes, {items:,} multi-label items, "
        f"{args.images} masks of {args.size}x{args.size}"
    )
    for name, (ours_s, theirs_s) in rows.items():
        print(
            f"{name:>22}: ours {ours_s:7.3f} s  scikit-learn {theirs_s:7.3f} s  "
            f"({theirs_s / ours_s:5.1f}x)"
        )
    summary = "; ".join(
        f"{name} ours {a:.3f} s vs sklearn {b:.3f} s" for name, (a, b) in rows.items()
    )
    print(f"metrics_classification: {summary}")


if __name__ == "__main__":
    main()
