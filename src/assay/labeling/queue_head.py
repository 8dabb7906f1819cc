"""The queue's head on PostgreSQL: where a claim starts reading.

A claim on PostgreSQL reads ix_tasks_free from the start of the stage, and that start
holds an index entry for every task claimed since the table was last vacuumed: a claimed
task leaves the index, but its old entry stays until VACUUM removes it (MVCC). The claim
stepped over them all — at 300 claims a second, 0.37 → 0.93 ms a claim within 45 s, and
PostgreSQL's CPU grew with it until autovacuum came round (profiled with auto_explain).

So each process keeps, per project and stage, the queue's head: the first free task in
index order, read with one statement at most every HEAD_SECONDS, and claims search from
there. A task can become free before the head (an expired lease freed, a skip, a new task
of higher priority, a submission entering the next stage); when this process did it, it
forgets the head at once (`forget_heads`: its sweeps, its own submissions, and any
transaction it commits through the engine); when another process did, the head is
re-read within HEAD_SECONDS. And a claim that finds nothing from the head searches the
whole stage before it answers that nothing is left. So priority order holds within a
process, and across processes within HEAD_SECONDS; nothing is ever left behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, event, select
from sqlalchemy.engine import Engine

from assay.core.prepared import Prepared
from assay.labeling import models

T = models.Task.__table__.c

HEAD_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class Head:
    batch_priority: int
    priority: int
    id: str
    read_at: float

    def params(self) -> dict[str, Any]:
        """The `h_*` parameters of a claim from this head."""
        return {
            "h_batch_priority": self.batch_priority,
            "h_priority": self.priority,
            "h_id": self.id,
        }


_heads: dict[tuple[str, str], Head] = {}

_HEAD = Prepared(
    select(T.batch_priority, T.priority, T.id)
    .where(
        T.project_id == bindparam("b_project"),
        T.stage == bindparam("b_stage"),
        T.lease_user_id.is_(None),
    )
    .order_by(T.batch_priority.desc(), T.priority.desc(), T.id)
    .limit(1)
)


def head(conn: Connection, project_id: str, stage: str) -> Head | None:
    """The stage's head as this process knows it, read again when older than HEAD_SECONDS;
    None when nothing in the stage is free at all."""
    key = (project_id, stage)
    known = _heads.get(key)
    now = time.monotonic()
    if known is not None and now - known.read_at <= HEAD_SECONDS:
        return known
    row = _HEAD.first(conn, {"b_project": project_id, "b_stage": stage})
    if row is None:
        _heads.pop(key, None)
        return None
    known = _heads[key] = Head(row.batch_priority, row.priority, row.id, now)
    return known


def forget_heads(project_id: str, stage: str) -> None:
    """Tasks may have become free before this stage's head: read it again."""
    _heads.pop((project_id, stage), None)


@event.listens_for(Engine, "commit")
def _forget_heads_on_commit(conn: Connection) -> None:
    # Task creation, skips, releases, reviews, priority changes… all commit through the
    # engine; the queue's own claims and submissions do not (autocommit statements).
    _heads.clear()
