"""Classification metrics of a model against ground truth: single-label and multi-label.

Single-label inputs are two parallel arrays, one entry per item: its ground-truth label and
the model's predicted label (strings, ints, …). Either may be absent (`missing`, None by
default; NaN in float arrays):

- ground truth without a prediction is *missed*: a false negative of its class, and an error;
- a prediction without ground truth is *spurious*: a false positive of its class, and an error;
- an entry with neither is dropped.

The confusion matrix has rows for the ground truth and columns for the prediction in
`classes` order, plus a last row for "no ground truth" (the spurious predictions) and a last
column for "no prediction" (the missed items); its corner is always 0. Recall divides by the
whole row (missed included), precision by the whole column (spurious included), accuracy by
every pair kept. This is what scikit-learn computes when the absence is a label of its own
left out of `labels=`; without absences everything equals scikit-learn's figures.

Undefined values: precision, recall and F1 with a zero denominator are `zero_division`
(0.0 by default: scikit-learn's default result, without its warning), as are the weighted
averages when no item has ground truth; anything else with nothing to measure (accuracy of no
pairs, a macro average over no class, an undefined kappa, top-k without ground truth) is
None, so results serialise to JSON without NaN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.metrics.factorize import factorize

_TOP_K_CHUNK = 1 << 22  # score cells compared at once: bounds top-k's temporary memory


@dataclass(frozen=True, slots=True)
class Averages:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class ClassScores:
    """One class's row: `support` items have it as ground truth, `predicted` were given it."""

    label: Any
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True, slots=True)
class ClassificationMetrics:
    classes: tuple[Any, ...]
    pairs: int  # items evaluated: ground truth, prediction or both
    missed: int  # ground truth without a prediction
    spurious: int  # prediction without ground truth
    accuracy: float | None
    per_class: tuple[ClassScores, ...]
    micro: Averages
    macro: Averages | None
    weighted: Averages
    confusion: tuple[tuple[int, ...], ...]  # (K + 1) x (K + 1), see the module's docstring
    top_k_accuracy: dict[int, float | None]  # {k: accuracy}; empty without scores
    cohen_kappa: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class MultilabelMetrics:
    classes: tuple[Any, ...]
    items: int
    subset_accuracy: float | None  # items whose predicted set is exactly the true set
    hamming_loss: float | None  # wrong (item, class) cells / all cells
    per_class: tuple[ClassScores, ...]
    micro: Averages
    macro: Averages | None
    weighted: Averages
    samples: Averages | None  # per-item precision, recall, F1, averaged over items

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- labels to codes ---


def _present(values: np.ndarray, missing: Any) -> np.ndarray | None:
    """Which entries hold a label, or None when all do."""
    absent = None
    if missing is not None:
        absent = values == missing
    if values.dtype.kind == "O":
        nones = np.equal(values, None)
        absent = nones if absent is None else absent | nones
    elif values.dtype.kind == "f":
        nans = np.isnan(values)
        absent = nans if absent is None else absent | nans
    if absent is None or not absent.any():
        return None
    return ~absent


def _native(values: np.ndarray) -> np.ndarray:
    """Object arrays of only strings or only ints as str / int64 arrays (fast to factorise)."""
    if values.dtype.kind != "O" or not len(values):
        return values
    kinds = set(map(type, values.tolist()))
    if kinds <= {str}:
        return values.astype(str)
    if all(issubclass(k, int | np.integer) and not issubclass(k, bool) for k in kinds):
        return values.astype(np.int64)
    return values


def _concatenate(parts: Sequence[np.ndarray]) -> np.ndarray:
    """One array of all parts; strings and numbers side by side stay distinct (object)."""
    kinds = {"i" if p.dtype.kind in "iu" else p.dtype.kind for p in parts if len(p)}
    if len(kinds) > 1:
        parts = [p.astype(object) for p in parts]
    return np.concatenate(parts)


def _encode(parts: Sequence[np.ndarray], classes: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """The class list and each part's codes into it.

    Without `classes` they are the sorted distinct labels (first-seen order for labels that
    do not sort together); with them, their order, and a label outside them is an error.
    """
    values = _concatenate(parts)
    if classes is None:
        uniques, codes = factorize(values)
    else:
        fixed = _native(np.asarray(classes, dtype=None).reshape(-1))
        uniques, codes = factorize(_concatenate([fixed, values]))
        k = len(fixed)
        if len(np.unique(codes[:k])) != k:
            raise ValueError("classes must be distinct")
        position = np.full(len(uniques), -1, np.intp)
        position[codes[:k]] = np.arange(k)
        codes = position[codes[k:]]
        if (codes < 0).any():
            outside = np.asarray(values)[codes < 0][:5].tolist()
            raise ValueError(f"labels not among the classes: {outside}")
        uniques = fixed
    bounds = np.cumsum([len(p) for p in parts])[:-1]
    return uniques, np.split(codes.astype(np.intp, copy=False), bounds)


def _labels(values: Any, missing: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    present = _present(array, missing)
    return _native(array if present is None else array[present]), present


# --- single-label ---


def _divide(numerator: np.ndarray, denominator: np.ndarray, zero_division: float) -> np.ndarray:
    numerator = np.asarray(numerator, float)
    denominator = np.asarray(denominator, float)
    out = np.full(np.broadcast(numerator, denominator).shape, float(zero_division))
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _prf(
    tp: np.ndarray, support: np.ndarray, predicted: np.ndarray, zero_division: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 as scikit-learn: F1 = 2·tp / (support + predicted)."""
    return (
        _divide(tp, predicted, zero_division),
        _divide(tp, support, zero_division),
        _divide(2 * tp, support + predicted, zero_division),
    )


def score_table(
    labels: np.ndarray,
    tp: np.ndarray,
    support: np.ndarray,
    predicted: np.ndarray,
    zero_division: float = 0.0,
) -> tuple[tuple[ClassScores, ...], Averages, Averages | None, Averages]:
    """Per-class rows from counts, then micro, macro and support-weighted averages."""
    per_class = _prf(tp, support, predicted, zero_division)
    micro = Averages(
        *(float(v) for v in _prf(tp.sum(), support.sum(), predicted.sum(), zero_division))
    )
    macro = Averages(*(float(v.mean()) for v in per_class)) if len(tp) else None
    total = support.sum()
    weighted = Averages(
        *(float(v @ support / total) if total else float(zero_division) for v in per_class)
    )
    columns = (labels.tolist(), *(v.tolist() for v in per_class), support.tolist())
    rows = tuple(ClassScores(*row) for row in zip(*columns, predicted.tolist(), strict=True))
    return rows, micro, macro, weighted


def _paired_codes(
    y_true: Any, y_pred: Any, classes: Any, missing: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The classes, and each item's true and predicted class index (K where absent)."""
    true_values, true_present = _labels(y_true, missing, "y_true")
    pred_values, pred_present = _labels(y_pred, missing, "y_pred")
    n = len(true_present) if true_present is not None else len(true_values)
    if n != (len(pred_present) if pred_present is not None else len(pred_values)):
        raise ValueError("y_true and y_pred must have the same length")
    uniques, (true_codes, pred_codes) = _encode([true_values, pred_values], classes)
    k = len(uniques)
    if true_present is not None:
        true_codes = _scatter(true_codes, true_present, k)
    if pred_present is not None:
        pred_codes = _scatter(pred_codes, pred_present, k)
    return uniques, true_codes, pred_codes


def _confusion(true_codes: np.ndarray, pred_codes: np.ndarray, k: int) -> np.ndarray:
    cells = np.bincount(true_codes * (k + 1) + pred_codes, minlength=(k + 1) ** 2)
    matrix = cells.reshape(k + 1, k + 1)
    matrix[k, k] = 0  # neither ground truth nor prediction: nothing to evaluate
    return matrix


def confusion_matrix(
    y_true: Any, y_pred: Any, *, classes: Any = None, missing: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """(K + 1) x (K + 1) counts, rows ground truth, columns prediction, and the K classes.

    Row K counts predictions without ground truth, column K ground truth without prediction.
    """
    uniques, true_codes, pred_codes = _paired_codes(y_true, y_pred, classes, missing)
    return _confusion(true_codes, pred_codes, len(uniques)), uniques


def _scatter(codes: np.ndarray, present: np.ndarray, absent: int) -> np.ndarray:
    out = np.full(len(present), absent, np.intp)
    out[present] = codes
    return out


def cohen_kappa(confusion: np.ndarray, *, weights: str | None = None) -> float | None:
    """Cohen's kappa of a square confusion matrix, as scikit-learn; None where undefined."""
    confusion = np.asarray(confusion, float)
    total = confusion.sum()
    if not total:
        return None
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / total
    index = np.arange(len(confusion))
    if weights is None:
        distance = (index[:, None] != index[None, :]).astype(float)
    elif weights == "linear":
        distance = np.abs(index[:, None] - index[None, :]).astype(float)
    elif weights == "quadratic":
        distance = (index[:, None] - index[None, :]).astype(float) ** 2
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    denominator = np.sum(distance * expected)
    if not denominator:
        return None
    return float(1 - np.sum(distance * confusion) / denominator)


def classes_ahead(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """How many classes rank before each row's true class: it is in the top k when < k.

    Ties as scikit-learn's top_k_accuracy_score, which ranks by a stable descending sort in
    which, among equal scores, the class of larger index comes first: the classes ahead of c
    score higher, or equal with a larger index. Counted, not sorted: O(n·K).
    """
    n, width = scores.shape
    columns = np.arange(width)
    ahead = np.empty(n, np.intp)
    step = max(1, _TOP_K_CHUNK // max(width, 1))
    for start in range(0, n, step):
        block = scores[start : start + step]
        own = truth[start : start + step]
        mine = block[np.arange(len(block)), own][:, None]
        before = block > mine
        before |= (block == mine) & (columns > own[:, None])
        ahead[start : start + step] = np.count_nonzero(before, axis=1)
    return ahead


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    *,
    classes: Any = None,
    missing: Any = None,
    scores: Any = None,
    top_k: Iterable[int] = (1, 5),
    kappa_weights: str | None = None,
    zero_division: float = 0.0,
) -> ClassificationMetrics:
    """Accuracy, per-class and averaged precision/recall/F1, confusion, top-k and kappa.

    `scores` (n, K) are per-item class scores whose columns follow `classes` (required with
    them); top-k accuracy is over the items with ground truth, an item without a prediction
    counting as a miss at every k (its scores row is not read). Kappa treats "no label" as a
    category of its own; weighted kappa (`kappa_weights` "linear" or "quadratic", over the
    class order) is undefined (None) when a label is missing.
    """
    uniques, true_codes, pred_codes = _paired_codes(y_true, y_pred, classes, missing)
    k = len(uniques)
    top = {}
    if scores is not None:
        if classes is None:
            raise ValueError("scores need classes: the order of their columns")
        top = _top_k_accuracy(scores, true_codes, pred_codes, k, top_k)
    return classification_from_confusion(
        _confusion(true_codes, pred_codes, k),
        uniques,
        zero_division=zero_division,
        kappa_weights=kappa_weights,
        top_k=top,
    )


def _top_k_accuracy(
    scores: Any, true_codes: np.ndarray, pred_codes: np.ndarray, k: int, ks: Iterable[int]
) -> dict[int, float | None]:
    ks = [int(v) for v in ks]
    if any(v < 1 for v in ks):
        raise ValueError("top_k values must be at least 1")
    scores = np.asarray(scores, float)
    if scores.shape != (len(true_codes), k):
        raise ValueError(f"scores must have shape (n, K) = ({len(true_codes)}, {k})")
    rows = np.flatnonzero(true_codes < k)
    if not len(rows):
        return dict.fromkeys(ks)
    scored_rows = rows[pred_codes[rows] < k]
    # Rows are copied only when some are left out: (n, K) floats can be large.
    scored = scores if len(scored_rows) == len(scores) else scores[scored_rows]
    if np.isnan(scored).any():
        raise ValueError("scores must not be NaN where a prediction is given")
    ahead = classes_ahead(scored, true_codes[scored_rows])
    return {v: float(np.count_nonzero(ahead < v) / len(rows)) for v in ks}


def classification_from_confusion(
    confusion: Any,
    classes: Any,
    *,
    zero_division: float = 0.0,
    kappa_weights: str | None = None,
    top_k: dict[int, float | None] | None = None,
) -> ClassificationMetrics:
    """Every figure of `classification_metrics` from a (K + 1) x (K + 1) confusion matrix.

    Confusion matrices add up, so per-slice or per-shard counts can be merged first.
    """
    confusion = np.asarray(confusion, np.int64)
    uniques = np.asarray(classes, dtype=None).reshape(-1)
    k = len(uniques)
    if confusion.shape != (k + 1, k + 1):
        raise ValueError(f"confusion must be (K + 1) x (K + 1) = ({k + 1}, {k + 1})")
    tp = np.diagonal(confusion)[:k]
    support = confusion[:k].sum(axis=1)
    predicted = confusion[:, :k].sum(axis=0)
    rows, micro, macro, weighted = score_table(uniques, tp, support, predicted, zero_division)
    pairs = int(confusion.sum())
    missed, spurious = int(confusion[:k, k].sum()), int(confusion[k, :k].sum())
    if kappa_weights is not None and (missed or spurious):
        kappa = None
    else:
        kappa = cohen_kappa(confusion, weights=kappa_weights)
    return ClassificationMetrics(
        classes=tuple(uniques.tolist()),
        pairs=pairs,
        missed=missed,
        spurious=spurious,
        accuracy=float(tp.sum() / pairs) if pairs else None,
        per_class=rows,
        micro=micro,
        macro=macro,
        weighted=weighted,
        confusion=tuple(map(tuple, confusion.tolist())),
        top_k_accuracy=dict(top_k or {}),
        cohen_kappa=kappa,
    )


# --- multi-label ---


def _label_sets(sets: Any, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Flattened labels of a sequence of label collections (None is empty), their items."""
    sets = [() if s is None else s for s in sets]
    if any(isinstance(s, str | bytes) for s in sets):
        raise ValueError(f"{name} must hold collections of labels, not strings")
    lengths = np.fromiter(map(len, sets), np.intp, len(sets))
    values = np.empty(int(lengths.sum()), object)  # object: 1 and "1" stay apart
    values[:] = [label for s in sets for label in s]
    return _native(values), np.repeat(np.arange(len(sets)), lengths), len(sets)


def multilabel_metrics(
    y_true: Any, y_pred: Any, *, classes: Any = None, zero_division: float = 0.0
) -> MultilabelMetrics:
    """Multi-label (multi-category) scores: each item has a set of true and predicted labels.

    Inputs are sequences of label collections (lists, sets; None counts as empty, repeats
    count once), or (n, K) 0/1 indicator arrays whose columns follow `classes`. An item
    without a prediction is an empty predicted set: each of its true labels is missed (a
    false negative); an item without ground truth makes each predicted label spurious. Per-class,
    micro, macro, weighted and per-item ("samples") precision/recall/F1 as scikit-learn's
    multilabel averages; an item with an empty predicted (true) set has precision (recall)
    `zero_division` in the samples average, as there.
    """
    indicator = [isinstance(y, np.ndarray) and y.ndim == 2 for y in (y_true, y_pred)]
    if indicator[0] != indicator[1]:
        raise ValueError("give both as indicator arrays or both as label collections")
    if indicator[0]:
        true_matrix, pred_matrix = np.asarray(y_true) != 0, np.asarray(y_pred) != 0
        if classes is None or true_matrix.shape != pred_matrix.shape:
            raise ValueError("indicator arrays need classes and the same (n, K) shape")
        uniques = np.asarray(classes).reshape(-1)
        n, k = true_matrix.shape
        if k != len(uniques):
            raise ValueError("indicator arrays need one column per class")
        true_items, true_codes = np.nonzero(true_matrix)
        pred_items, pred_codes = np.nonzero(pred_matrix)
    else:
        true_values, true_items, n = _label_sets(y_true, "y_true")
        pred_values, pred_items, n_pred = _label_sets(y_pred, "y_pred")
        if n != n_pred:
            raise ValueError("y_true and y_pred must have the same length")
        uniques, (true_codes, pred_codes) = _encode([true_values, pred_values], classes)
        k = len(uniques)
    true_keys = np.unique(true_items * k + true_codes)
    pred_keys = np.unique(pred_items * k + pred_codes)
    both = np.intersect1d(true_keys, pred_keys, assume_unique=True)

    def per(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.bincount(keys % k, minlength=k), np.bincount(keys // k, minlength=n)

    (tp, tp_items), (support, true_items_count) = per(both), per(true_keys)
    predicted, pred_items_count = per(pred_keys)
    rows, micro, macro, weighted = score_table(uniques, tp, support, predicted, zero_division)
    samples = None
    if n:
        item_scores = _prf(tp_items, true_items_count, pred_items_count, zero_division)
        samples = Averages(*(float(v.mean()) for v in item_scores))
    exact = (tp_items == true_items_count) & (tp_items == pred_items_count)
    wrong = true_items_count.sum() + pred_items_count.sum() - 2 * tp_items.sum()
    return MultilabelMetrics(
        classes=tuple(uniques.tolist()),
        items=n,
        subset_accuracy=float(exact.mean()) if n else None,
        hamming_loss=float(wrong / (n * k)) if n * k else None,
        per_class=rows,
        micro=micro,
        macro=macro,
        weighted=weighted,
        samples=samples,
    )
