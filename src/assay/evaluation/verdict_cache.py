"""The grading service's verdict cache in the database: `grading.VerdictCache` over
`eval_verdict_cache`, keyed by `grading.verdict_key` (judge version, conversation, response,
criterion text). A repeated batch finds every verdict here and makes no model call; the
first verdict stored for a key is kept, so a question has one answer per judge version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select

from assay.core import dialects
from assay.core.db import Database, utcnow
from assay.evaluation.judges import Verdict
from assay.evaluation.models import CachedVerdict

TABLE = CachedVerdict.__table__
CHUNK = 500


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DatabaseVerdictCache:
    """Reads and writes in bulk, one short transaction each, off the event loop."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _get(self, keys: Sequence[str]) -> dict[str, Verdict]:
        columns = (
            TABLE.c.key,
            TABLE.c.judge_version,
            TABLE.c.met,
            TABLE.c.credit,
            TABLE.c.confidence,
            TABLE.c.explanation,
            TABLE.c.escalated,
        )
        found: dict[str, Verdict] = {}
        with self.db.read() as session:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                for (
                    key,
                    version,
                    met,
                    credit,
                    confidence,
                    explanation,
                    escalated,
                ) in session.execute(select(*columns).where(TABLE.c.key.in_(chunk))):
                    found[key] = Verdict(
                        "",
                        bool(met),
                        version,
                        explanation,
                        credit=credit,
                        confidence=confidence,
                        escalated=bool(escalated),
                        cached=True,
                    )
        return found

    def _put(self, verdicts: Mapping[str, Verdict]) -> None:
        now = utcnow()
        rows = [
            {
                "key": key,
                "judge_version": v.judge_version,
                "met": bool(v.met),
                "credit": v.credit,
                "confidence": v.confidence,
                "explanation": v.explanation,
                "escalated": v.escalated,
                "created_at": now,
            }
            for key, v in verdicts.items()
            if v.met is not None
        ]
        if not rows:
            return
        with self.db.write() as session:
            dialect = session.get_bind().dialect.name
            for chunk in _chunks(rows):
                statement = dialects.insert(TABLE, dialect).on_conflict_do_nothing(
                    index_elements=["key"]
                )
                session.execute(statement, list(chunk))

    async def get_many(self, keys: Sequence[str]) -> dict[str, Verdict]:
        return await asyncio.to_thread(self._get, keys)

    async def put_many(self, verdicts: Mapping[str, Verdict]) -> None:
        await asyncio.to_thread(self._put, verdicts)
