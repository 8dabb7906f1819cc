"""How well a judge's met / not-met verdicts agree with humans', per category.

HealthBench's meta-evaluation scores a grader by the *balanced* (macro) F1 over the two
classes, met and not met, so a judge cannot look good by saying "met" to a rubric whose
criteria are mostly met. Beside it: Cohen's κ, accuracy, and the judge's bias in both
directions — how often it says "met" when the humans say "not met" (`false_met_rate`,
credit it should not give: what reward hacking exploits) and the reverse.

Every category is counted in one `np.bincount` over (category, judge, human); an F1 with
nothing to measure (a class neither side used) is 0.0 as in scikit-learn, while κ with
chance agreement 1 and a rate with an empty denominator are None.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from assay.metrics.factorize import factorize


@dataclass(frozen=True, slots=True)
class Agreement:
    pairs: int
    # Counts of (judge, human): met_met = both say met, met_not = judge met, human not met…
    met_met: int
    met_not: int
    not_met: int
    not_not: int
    accuracy: float
    balanced_f1: float  # mean of the met class's F1 and the not-met class's F1
    f1_met: float
    f1_not_met: float
    cohen_kappa: float | None
    false_met_rate: float | None  # P(judge met | human not met)
    false_not_met_rate: float | None  # P(judge not met | human met)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _verdicts(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if array.dtype.kind == "b" or not len(array):
        return array.astype(bool)
    if array.dtype.kind in "iu" and np.isin(array, (0, 1)).all():
        return array.astype(bool)
    raise ValueError(f"{name} must be booleans (met) or 0 / 1")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> list[float | None]:
    return [float(a / b) if b else None for a, b in zip(numerator, denominator, strict=True)]


def _f1(tp: np.ndarray, support: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    denominator = (support + predicted).astype(float)
    out = np.zeros(len(tp))
    np.divide(2.0 * tp, denominator, out=out, where=denominator > 0)
    return out


def _agreements(counts: np.ndarray) -> list[Agreement]:
    """One Agreement per row of counts (G, 2, 2) indexed [judge met, human met]."""
    met_met = counts[:, 1, 1]
    met_not = counts[:, 1, 0]
    not_met = counts[:, 0, 1]
    not_not = counts[:, 0, 0]
    total = met_met + met_not + not_met + not_not
    judge_met = met_met + met_not
    human_met = met_met + not_met
    f1_met = _f1(met_met, human_met, judge_met)
    f1_not = _f1(not_not, total - human_met, total - judge_met)
    observed = (met_met + not_not) / np.maximum(total, 1)
    # Chance agreement: both say met, or both say not met, independently.
    expected = (judge_met * human_met + (total - judge_met) * (total - human_met)) / np.maximum(
        total, 1
    ) ** 2
    rows = []
    for g in range(len(counts)):
        kappa = None
        if total[g] and expected[g] < 1:
            kappa = float((observed[g] - expected[g]) / (1 - expected[g]))
        rows.append(
            Agreement(
                pairs=int(total[g]),
                met_met=int(met_met[g]),
                met_not=int(met_not[g]),
                not_met=int(not_met[g]),
                not_not=int(not_not[g]),
                accuracy=float(observed[g]),
                balanced_f1=float((f1_met[g] + f1_not[g]) / 2),
                f1_met=float(f1_met[g]),
                f1_not_met=float(f1_not[g]),
                cohen_kappa=kappa,
                false_met_rate=_ratio(met_not[g : g + 1], (total - human_met)[g : g + 1])[0],
                false_not_met_rate=_ratio(not_met[g : g + 1], human_met[g : g + 1])[0],
            )
        )
    return rows


def judge_agreement(judge: Any, human: Any) -> Agreement | None:
    """Agreement of paired verdicts (True = met); None without pairs."""
    found = judge_agreement_by_category(judge, human, np.zeros(len(np.asarray(judge)), int))
    return found.get(0)


def judge_agreement_by_category(judge: Any, human: Any, categories: Any) -> dict[Any, Agreement]:
    """{category: Agreement} of paired verdicts, one entry per pair in each array."""
    judge = _verdicts(judge, "judge")
    human = _verdicts(human, "human")
    categories = np.asarray(categories).reshape(-1)
    if not (len(judge) == len(human) == len(categories)):
        raise ValueError("judge, human and categories must have the same length")
    if not len(judge):
        return {}
    names, codes = factorize(categories)
    cells = codes * 4 + judge.astype(np.intp) * 2 + human.astype(np.intp)
    counts = np.bincount(cells, minlength=len(names) * 4).reshape(len(names), 2, 2)
    return dict(zip(names.tolist(), _agreements(counts), strict=True))
