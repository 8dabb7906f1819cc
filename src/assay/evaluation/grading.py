"""The grading service's logic for reinforcement learning: grade a batch of (conversation,
response, rubric) triples into per-criterion verdicts and a scalar reward.

Identical questions — same judge version, conversation, response and criterion text — are
judged once: within a batch, and across batches through a `VerdictCache` (in memory here; a
database-backed cache implements the same two methods). A `Cascade` lets a cheap judge answer
first and sends only its uncertain verdicts to a stronger one. Learned criterion weights,
fitted to human preference pairs, give a second reward next to the rubric's fixed points.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np
from scipy.optimize import minimize

from assay.core.errors import Invalid
from assay.evaluation.judges import (
    Conversation,
    Grader,
    Verdict,
    as_messages,
    bounded,
    grade_from_verdicts,
)
from assay.evaluation.rubrics import Criterion, Rubric


@dataclass(frozen=True)
class GradingItem:
    conversation: Conversation
    response: str
    rubric: Rubric


def verdict_key(
    judge_version: str, conversation: Conversation, response: str, criterion_text: str
) -> str:
    """Identical questions to the same judge version have the same key. The criterion's id
    and points are not part of it: the judge never sees them."""
    payload = [judge_version, list(as_messages(conversation)), response, criterion_text]
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class VerdictCache(Protocol):
    async def get_many(self, keys: Sequence[str]) -> dict[str, Verdict]: ...

    async def put_many(self, verdicts: Mapping[str, Verdict]) -> None: ...


class MemoryVerdictCache:
    def __init__(self) -> None:
        self._verdicts: dict[str, Verdict] = {}

    def __len__(self) -> int:
        return len(self._verdicts)

    async def get_many(self, keys: Sequence[str]) -> dict[str, Verdict]:
        return {k: self._verdicts[k] for k in keys if k in self._verdicts}

    async def put_many(self, verdicts: Mapping[str, Verdict]) -> None:
        self._verdicts.update(verdicts)


@dataclass
class Cascade:
    """A cheap judge answers `samples` times; the verdict is uncertain when a sample failed,
    the samples disagree, or one states a confidence under `min_confidence`. Uncertain
    verdicts go to the strong judge, whose answer stands (`escalated`)."""

    cheap: Grader
    strong: Grader
    samples: int = 2
    min_confidence: float = 0.7

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise Invalid("a cascade asks the cheap judge at least once", field="samples")
        if not 0 <= self.min_confidence <= 1:
            raise Invalid("min_confidence lies in [0, 1]", field="min_confidence")

    @property
    def version(self) -> str:
        return (
            f"cascade[{self.cheap.version}>{self.strong.version};"
            f"n={self.samples};c={self.min_confidence:g}]"
        )

    def uncertain(self, verdicts: Sequence[Verdict]) -> bool:
        return (
            any(v.met is None for v in verdicts)
            or len({v.met for v in verdicts}) > 1
            or any(
                v.confidence is not None and v.confidence < self.min_confidence for v in verdicts
            )
        )

    async def judge_criterion(
        self, conversation: Conversation, response: str, criterion: Criterion, *, sample: int = 0
    ) -> Verdict:
        cheap = await asyncio.gather(
            *(
                self.cheap.judge_criterion(
                    conversation, response, criterion, sample=sample * self.samples + k
                )
                for k in range(self.samples)
            )
        )
        calls = sum(v.calls for v in cheap)
        failures = sum(v.parse_failures for v in cheap)
        if not self.uncertain(cheap):
            return replace(
                cheap[0], judge_version=self.version, calls=calls, parse_failures=failures
            )
        strong = await self.strong.judge_criterion(conversation, response, criterion, sample=sample)
        return replace(
            strong,
            judge_version=self.version,
            calls=calls + strong.calls,
            parse_failures=failures + strong.parse_failures,
            escalated=True,
        )


# Learned criterion weights ---------------------------------------------------------------


@dataclass(frozen=True)
class PreferencePair:
    """A human compared two responses to the same prompt graded on the same rubric."""

    met_a: Mapping[str, float | bool]
    met_b: Mapping[str, float | bool]
    preferred: Literal["a", "b", "tie"]


@dataclass(frozen=True)
class CriterionWeights:
    criterion_ids: tuple[str, ...]
    weights: np.ndarray  # logit units: P(a preferred) = sigmoid(w · (met_a - met_b))
    pairs: int
    converged: bool

    def weight(self, criterion_id: str) -> float:
        return float(self.weights[self.criterion_ids.index(criterion_id)])

    def reward(self, rubric: Rubric, credit: Mapping[str, float | bool]) -> float | None:
        """The rubric score with learned weights in place of points: Σ w·credit / Σ positive
        w, clipped to [0, 1]; None when a criterion has no weight or none is positive."""
        if any(c.id not in self.criterion_ids for c in rubric.criteria):
            return None
        weights = {c.id: self.weight(c.id) for c in rubric.criteria}
        positive = sum(w for w in weights.values() if w > 0)
        if positive <= 0:
            return None
        earned = sum(weights[k] * float(credit[k]) for k in weights)
        return min(1.0, max(0.0, earned / positive))

    def compare(self, rubric: Rubric) -> list[dict[str, object]]:
        """Each criterion's fixed points next to its learned weight, both as shares of their
        total magnitude so the two scales read side by side."""
        points = sum(abs(c.points) for c in rubric.criteria)
        learned = {c.id: self.weight(c.id) for c in rubric.criteria if c.id in self.criterion_ids}
        total = sum(abs(w) for w in learned.values()) or 1.0
        return [
            {
                "criterion_id": c.id,
                "points": c.points,
                "points_share": c.points / points,
                "learned_weight": learned.get(c.id),
                "learned_share": learned[c.id] / total if c.id in learned else None,
            }
            for c in rubric.criteria
        ]


def fit_criterion_weights(
    pairs: Sequence[PreferencePair],
    *,
    criterion_ids: Sequence[str] | None = None,
    l2: float = 0.1,
) -> CriterionWeights:
    """Bradley-Terry with features: a response's strength is w · met, so P(a ≻ b) =
    sigmoid(w · (met_a - met_b)) — logistic regression on met-vector differences, ties as ½, an L2
    penalty keeping criteria that never differ at 0. (`assay.metrics.ratings.bradley_terry`
    fits one strength per item; here strengths are shared through the criteria.)"""
    if not pairs:
        raise Invalid("fitting weights needs preference pairs", field="pairs")
    ids = tuple(criterion_ids or sorted({k for p in pairs for k in (*p.met_a, *p.met_b)}))
    outcome = {"a": 1.0, "b": 0.0, "tie": 0.5}
    x = np.zeros((len(pairs), len(ids)))
    y = np.empty(len(pairs))
    for i, pair in enumerate(pairs):
        if pair.preferred not in outcome:
            raise Invalid("preferred is a, b or tie", field=f"pairs[{i}].preferred")
        for j, criterion_id in enumerate(ids):
            if criterion_id not in pair.met_a or criterion_id not in pair.met_b:
                raise Invalid(
                    f"no verdict for {criterion_id!r} in both responses", field=f"pairs[{i}]"
                )
            x[i, j] = float(pair.met_a[criterion_id]) - float(pair.met_b[criterion_id])
        y[i] = outcome[pair.preferred]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        # -[y log sigmoid(z) + (1 - y) log sigmoid(-z)] = y·log(1 + e^-z) + (1 - y)·log(1 + e^z)
        nll = float(np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))
        p = 0.5 * (1 + np.tanh(z / 2))  # sigmoid(z), stable for large |z|
        return nll + 0.5 * l2 * float(w @ w), x.T @ (p - y) + l2 * w

    fit = minimize(loss, np.zeros(len(ids)), jac=True, method="L-BFGS-B")
    return CriterionWeights(ids, np.asarray(fit.x), len(pairs), bool(fit.success))


# Batch grading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GradedItem:
    verdicts: tuple[Verdict, ...]
    reward: float | None  # the rubric score with its fixed points; None on a judge error
    learned_reward: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GradingBatch:
    judge_version: str
    items: tuple[GradedItem, ...]
    questions: int  # distinct (conversation, response, criterion) in the batch
    judged: int  # of those, sent to the judge (the rest came from the cache)
    cache_hits: int
    calls: int  # model calls made, retries and cascade samples included
    escalated: int


async def grade_batch(
    grader: Grader,
    items: Sequence[GradingItem],
    *,
    cache: VerdictCache | None = None,
    weights: CriterionWeights | None = None,
    concurrency: int = 32,
) -> GradingBatch:
    """Grade every triple: each distinct question judged once, the cache asked first, the
    judged verdicts (not errors) stored back. `concurrency` bounds questions in flight; a
    panel's or a cascade's question makes several calls at once (the provider layer's own
    limits still apply)."""
    version = grader.version
    slots: list[list[str]] = []
    questions: dict[str, tuple[Conversation, str, Criterion]] = {}
    for item in items:
        keys = []
        for criterion in item.rubric.criteria:
            key = verdict_key(version, item.conversation, item.response, criterion.text)
            questions.setdefault(key, (item.conversation, item.response, criterion))
            keys.append(key)
        slots.append(keys)
    cached = await cache.get_many(list(questions)) if cache is not None else {}
    todo = [k for k in questions if k not in cached]
    fresh = await bounded((grader.judge_criterion(*questions[k]) for k in todo), concurrency)
    judged = dict(zip(todo, fresh, strict=True))
    if cache is not None:
        await cache.put_many({k: v for k, v in judged.items() if v.met is not None})
    graded = []
    for item, keys in zip(items, slots, strict=True):
        verdicts = []
        for criterion, key in zip(item.rubric.criteria, keys, strict=True):
            if key in judged:
                verdicts.append(replace(judged[key], criterion_id=criterion.id))
            else:
                verdicts.append(
                    replace(cached[key], criterion_id=criterion.id, cached=True, calls=0)
                )
        grade = grade_from_verdicts(item.rubric, verdicts, version)
        learned = None
        if weights is not None and grade.score is not None:
            credit = {v.criterion_id: v.credit for v in verdicts}
            learned = weights.reward(item.rubric, credit)
        graded.append(GradedItem(tuple(verdicts), grade.score, learned, grade.error))
    return GradingBatch(
        version,
        tuple(graded),
        questions=len(questions),
        judged=len(todo),
        cache_hits=len(cached),
        calls=sum(v.calls for v in fresh),
        escalated=sum(v.escalated for v in fresh),
    )
