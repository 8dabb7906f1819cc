"""Rubrics: a checklist of criteria, each with signed points and a category.

A response's rubric score is Σ points of the criteria it meets / Σ positive points, clipped
to [0, 1]. Negative points penalise (a criterion such as "recommends a dangerous dose" worth
-5); a rubric needs at least one positive criterion, or the score has no denominator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.core.errors import Invalid
from assay.metrics.bootstrap import Interval, bootstrap_means

DEFAULT_CATEGORY = "general"


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    text: str
    points: float
    category: str = DEFAULT_CATEGORY


@dataclass(frozen=True, slots=True)
class Rubric:
    criteria: tuple[Criterion, ...]

    @property
    def positive_points(self) -> float:
        return sum(c.points for c in self.criteria if c.points > 0)

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise Invalid(f"the rubric has no criterion {criterion_id!r}", field="criterion_id")

    def score(self, credit: Mapping[str, float | bool]) -> float:
        """The rubric score given each criterion's credit (True/False, or a fraction of a
        panel that found it met). Every criterion needs a credit: a missing verdict is not a
        "not met" (that would quietly lower scores when a judge call fails)."""
        missing = [c.id for c in self.criteria if c.id not in credit]
        if missing:
            raise Invalid(f"no verdict for criteria {missing}", field="credit")
        earned = sum(c.points * float(credit[c.id]) for c in self.criteria)
        return min(1.0, max(0.0, earned / self.positive_points))

    def score_by_category(self, credit: Mapping[str, float | bool]) -> dict[str, float | None]:
        """The score within each category (HealthBench's per-axis scores): the category's
        earned points over its positive points, clipped; None for a category of penalties
        only, which has no denominator."""
        out: dict[str, float | None] = {}
        for category in dict.fromkeys(c.category for c in self.criteria):
            part = Rubric(tuple(c for c in self.criteria if c.category == category))
            out[category] = part.score(credit) if part.positive_points > 0 else None
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "criteria": [
                {"id": c.id, "text": c.text, "points": c.points, "category": c.category}
                for c in self.criteria
            ]
        }


def parse_rubric(data: Mapping[str, Any] | Sequence[Any]) -> Rubric:
    """A rubric from its JSON form — `{"criteria": [{"id", "text", "points", "category"}]}`
    or the bare list. `id` defaults to `c1`, `c2`, … and `category` to "general". Errors name
    the field: `criteria[3].points`."""
    raw = data.get("criteria") if isinstance(data, Mapping) else data
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or not raw:
        raise Invalid("a rubric is a non-empty list of criteria", field="criteria")
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"criteria[{i}]"
        if not isinstance(item, Mapping):
            raise Invalid("a criterion is an object with text and points", field=where)
        criterion_id = item.get("id", f"c{i + 1}")
        if not isinstance(criterion_id, str) or not criterion_id.strip():
            raise Invalid("a criterion id is a non-empty string", field=f"{where}.id")
        if criterion_id in seen:
            raise Invalid(f"criterion id {criterion_id!r} repeats", field=f"{where}.id")
        seen.add(criterion_id)
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Invalid("a criterion needs its text", field=f"{where}.text")
        points = item.get("points")
        if (
            isinstance(points, bool)
            or not isinstance(points, (int, float))
            or not math.isfinite(points)
            or points == 0
        ):
            raise Invalid(
                "points are a finite non-zero number (negative points penalise)",
                field=f"{where}.points",
            )
        category = item.get("category", DEFAULT_CATEGORY)
        if not isinstance(category, str) or not category.strip():
            raise Invalid("a category is a non-empty string", field=f"{where}.category")
        criteria.append(Criterion(criterion_id, text.strip(), float(points), category.strip()))
    rubric = Rubric(tuple(criteria))
    if rubric.positive_points <= 0:
        raise Invalid(
            "a rubric needs at least one criterion with positive points", field="criteria"
        )
    return rubric


def bootstrap_by_tag(
    scores: Sequence[float],
    tags: Sequence[Sequence[str]],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Interval]:
    """The mean score of the items carrying each tag with its bootstrap interval (an item
    counts under each of its tags; `metrics.bootstrap`, all tags in one pass)."""
    if len(scores) != len(tags):
        raise Invalid("one list of tags per score", field="tags")
    rows = [(tag, i) for i, item_tags in enumerate(tags) for tag in dict.fromkeys(item_tags)]
    if not rows:
        return {}
    values = np.asarray(scores, dtype=float)[[i for _, i in rows]]
    found = bootstrap_means(
        values,
        groups=[tag for tag, _ in rows],
        clusters=[f"{tag}\x00{i}" for tag, i in rows],
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
    return dict(sorted(found.items()))
