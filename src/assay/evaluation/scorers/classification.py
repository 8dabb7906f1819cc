"""Classification over a run: the response's label against the item's, through
`assay.metrics.classification` (the same figures the curation pillar reports, equal to
scikit-learn's). The value is accuracy or a macro / micro / weighted F1; every figure,
per-class rows included, is in the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay.core.errors import Invalid
from assay.evaluation.scorers.registry import CorpusScore, scorer
from assay.evaluation.scorers.text import normalize, targets_of
from assay.metrics.classification import classification_metrics

_AVERAGES = ("accuracy", "macro", "micro", "weighted")


@scorer("classification", kind="corpus")
def classification(
    responses: Sequence[str],
    targets: Sequence[Any],
    *,
    average: str = "macro",
    labels: list[str] | None = None,
    case: bool = True,
) -> CorpusScore:
    """Accuracy or F1 (`average`: accuracy, macro, micro, weighted) of the responses' labels
    (normalised: stripped, and lower-cased with `case`) against the items' labels."""
    if average not in _AVERAGES:
        raise Invalid(f"average must be one of {', '.join(_AVERAGES)}", field="options.average")
    truth = []
    for target in targets:
        accepted = targets_of(target)
        if len(accepted) != 1:
            raise Invalid("a classification item has exactly one label", field="target")
        truth.append(normalize(accepted[0], case=case))
    predicted = [normalize(r, case=case) for r in responses]
    classes = None
    if labels is not None and not all(isinstance(label, str) for label in labels):
        raise Invalid("labels must be a list of strings", field="options.labels")
    if labels is not None:
        classes = [normalize(label, case=case) for label in labels]
        outside = sorted({p for p in predicted if p not in classes})
        if outside:
            # A label the set does not have is a wrong answer, not an error: a class of its
            # own, which the macro average then includes (as scikit-learn's without labels=).
            classes = classes + outside
    found = classification_metrics(truth, predicted, classes=classes, top_k=())
    averages = getattr(found, average) if average != "accuracy" else None
    value = found.accuracy if average == "accuracy" else (averages.f1 if averages else None)
    return CorpusScore(value, found.to_dict(), f"{average} over {found.pairs} items")
