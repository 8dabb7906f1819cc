"""The grading service for RL loops: grade a batch of (conversation, response, rubric)
triples with a judge record, the verdicts cached in the database (`verdict_cache`) so a
repeated batch makes no model call. The judge calls are made outside any transaction.
"""

from __future__ import annotations

import asyncio
from typing import Any

from assay.core.db import Database
from assay.core.errors import Invalid
from assay.core.settings import Settings
from assay.evaluation import judge_records
from assay.evaluation.grading import GradingBatch, GradingItem, grade_batch
from assay.evaluation.models import Judge
from assay.evaluation.rubrics import parse_rubric
from assay.evaluation.verdict_cache import DatabaseVerdictCache


def _items(request: Any) -> list[GradingItem]:
    items = []
    for i, triple in enumerate(request.items):
        try:
            rubric = parse_rubric(triple.rubric)
        except Invalid as error:
            raise Invalid(error.message, field=f"items[{i}].rubric.{error.field}") from None
        conversation = triple.conversation
        if not isinstance(conversation, str):
            for k, message in enumerate(conversation):
                if not isinstance(message.get("role"), str) or "content" not in message:
                    raise Invalid(
                        "a message has a role and content",
                        field=f"items[{i}].conversation[{k}]",
                    )
            conversation = tuple(conversation)
        items.append(GradingItem(conversation, triple.response, rubric))
    return items


def grade_triples(
    *, db: Database, judge: Judge, request: Any, settings: Settings
) -> dict[str, Any]:
    """Grade a `GradingRequest` with the judge: the `GradingResult` as a dict."""
    if judge.grading_mode != "explicit":
        raise Invalid("the grading service grades criterion by criterion", field="judge_id")
    items = _items(request)
    with db.read() as session:
        built = judge_records.build_grader(session=session, judge=judge, settings=settings)
        weights = judge_records.judge_weights(judge)
    cascade = judge.kind == "cascade"

    async def run() -> GradingBatch:
        try:
            return await grade_batch(
                built.grader,
                items,
                cache=DatabaseVerdictCache(db),
                weights=weights,
                concurrency=request.concurrency,
            )
        finally:
            await built.aclose()

    batch = asyncio.run(run())

    def stage(verdict: Any) -> str:
        if not cascade:
            return "judge"
        return "strong" if verdict.escalated else "cheap"

    return {
        "judge_id": judge.id,
        "judge_version": batch.judge_version,
        "items": [
            {
                "reward": graded.reward,
                "learned_reward": graded.learned_reward,
                "error": graded.error,
                "verdicts": [
                    {
                        "criterion_id": v.criterion_id,
                        "met": v.met,
                        "credit": v.credit,
                        "confidence": v.confidence,
                        "explanation": v.explanation,
                        "judge_version": v.judge_version,
                        "cached": v.cached,
                        "stage": stage(v),
                        "error": v.error,
                    }
                    for v in graded.verdicts
                ],
            }
            for graded in batch.items
        ],
        "questions": batch.questions,
        "judged": batch.judged,
        "cache_hits": batch.cache_hits,
        "calls": batch.calls,
        "escalated": batch.escalated,
    }
