"""The response cache: one stored answer per (model, request), keyed by
`ChatRequest.cache_key(model.name)`. Reads and writes are in bulk (`get_many`, `put_many`)
so a run prefetches the answers it already has in one query per chunk instead of one per
call; an answer already stored is kept (the first answer wins, so a resumed run reads the
same answers it scored before).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core.db import utcnow
from assay.evaluation.chat import ChatResult
from assay.evaluation.models import ChatCacheEntry

TABLE = ChatCacheEntry.__table__
CHUNK = 500


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


def get_many(*, session: Session, keys: Iterable[str]) -> dict[str, ChatResult]:
    """The stored answers among `keys` (the missing ones are absent), marked `cached`."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, ChatResult] = {}
    columns = (
        TABLE.c.key,
        TABLE.c.text,
        TABLE.c.prompt_tokens,
        TABLE.c.completion_tokens,
        TABLE.c.finish_reason,
    )
    for chunk in _chunks(wanted):
        for key, text, prompt, completion, finish in session.execute(
            select(*columns).where(TABLE.c.key.in_(chunk))
        ):
            found[key] = ChatResult(
                text=text,
                prompt_tokens=prompt,
                completion_tokens=completion,
                finish_reason=finish,
                cached=True,
            )
    return found


def put_many(*, session: Session, entries: Iterable[tuple[str, str, ChatResult]]) -> int:
    """Store `(key, model name, result)` answers; keys already stored are left as they are.
    Returns how many rows were offered."""
    now = utcnow()
    rows = {
        key: {
            "key": key,
            "model": model[:400],
            "text": result.text,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "finish_reason": (result.finish_reason or None) and result.finish_reason[:32],
            "created_at": now,
        }
        for key, model, result in entries
    }
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    values = list(rows.values())
    for start in range(0, len(values), CHUNK):
        statement = dialects.insert(TABLE, dialect).on_conflict_do_nothing(index_elements=["key"])
        session.execute(statement, values[start : start + CHUNK])
    return len(values)
