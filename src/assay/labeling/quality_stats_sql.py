"""The SQL the workforce quality numbers are built from (`assay.labeling.quality_stats`):
a project's submissions, evaluation scores and review decisions as subqueries, and the one-pass
count / active hours / mean / median statement over submissions.

Every timestamp is naive UTC on both dialects; the one dialect difference, truncating a
timestamp to its hour or day, is `bucket`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.labeling import models

EVENTS = models.TaskEvent.__table__
TASKS = models.Task.__table__
ATTEMPTS = models.QualityAttempt.__table__
AUDITS = models.Audit.__table__
WORKERS = models.QualityWorker.__table__
MEMBERS = models.ProjectMember.__table__
USERS = core_models.User.__table__

REVIEW_ACTIONS = ("accept", "fix", "reject")
PASSING_REVIEWS = ("accept", "fix")
AUDIT_STAGE = "audit"


def bucket(column: Any, unit: str, dialect: str) -> Any:
    """The UTC hour or day of a timestamp as text ('YYYY-MM-DD HH' / 'YYYY-MM-DD').

    Timestamps are naive UTC on both dialects; SQLite stores them as ISO text, so a prefix is
    the truncation (and, unlike strftime, keeps an index-free scan cheap)."""
    # Constants inlined, not bound: PostgreSQL sees `to_char(at, $1)` in SELECT and
    # `to_char(at, $2)` in GROUP BY as different expressions.
    if dialect == "postgresql":
        pattern = "'YYYY-MM-DD HH24'" if unit == "hour" else "'YYYY-MM-DD'"
        return func.to_char(column, literal_column(pattern), type_=String)
    length = literal_column("13" if unit == "hour" else "10")
    return func.substr(column, literal_column("1"), length, type_=String)


def parse_bucket(text: str) -> dt.datetime:
    """The start of the hour or day `bucket` named."""
    fmt = "%Y-%m-%d %H" if len(text) > 10 else "%Y-%m-%d"
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)


def ratio(part: Any, whole: Any) -> Any:
    """part / whole as a float (NULL when whole is 0)."""
    return cast(part, Float) / func.nullif(whole, 0)


def count_if(condition: Any) -> Any:
    """How many rows of the group meet the condition (0, not NULL, for none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def submissions(project_id: str, since: dt.datetime | None, user_id: str | None) -> list[Any]:
    """The project's submit events (only production tasks have them: the queue records
    evaluation and training tasks' submits as quality attempts)."""
    conditions = [
        EVENTS.c.project_id == project_id,
        EVENTS.c.action == "submit",
        EVENTS.c.user_id.is_not(None),
    ]
    if since is not None:
        conditions.append(EVENTS.c.created_at >= since)
    if user_id is not None:
        conditions.append(EVENTS.c.user_id == user_id)
    return conditions


def work_rows(project_id: str, since: dt.datetime | None, user_id: str | None) -> Any:
    """Every submission in the project: (user_id, at, duration_ms), production and evaluation."""
    submits = select(
        EVENTS.c.user_id.label("user_id"),
        EVENTS.c.created_at.label("at"),
        EVENTS.c.duration_ms.label("duration_ms"),
    ).where(*submissions(project_id, since, user_id))
    attempts = select(
        ATTEMPTS.c.user_id.label("user_id"),
        ATTEMPTS.c.submitted_at.label("at"),
        ATTEMPTS.c.duration_ms.label("duration_ms"),
    ).where(*scored_evaluations(project_id, since, user_id))
    return union_all(submits, attempts).subquery("work")


def scored_evaluations(
    project_id: str, since: dt.datetime | None, user_id: str | None
) -> list[Any]:
    conditions = [
        ATTEMPTS.c.project_id == project_id,
        ATTEMPTS.c.kind == "evaluation",
        ATTEMPTS.c.submitted_at.is_not(None),
        ATTEMPTS.c.score.is_not(None),
    ]
    if since is not None:
        conditions.append(ATTEMPTS.c.submitted_at >= since)
    if user_id is not None:
        conditions.append(ATTEMPTS.c.user_id == user_id)
    return conditions


def review_decisions(project_id: str, since: dt.datetime | None, user_id: str | None) -> Any:
    """Review decisions with the labeler they judge: (labeler_id, action, at), from
    `ix_task_events_judged`.

    A decision judges the task's latest submission before it; the decision keeps that
    submission's author (`judged_user_id`, kept by triggers: migration 0012), NULL when no
    submission precedes it or the submission has no author."""
    statement = select(
        EVENTS.c.judged_user_id.label("labeler_id"),
        EVENTS.c.action.label("action"),
        EVENTS.c.created_at.label("at"),
    ).where(
        EVENTS.c.project_id == project_id,
        EVENTS.c.action.in_(REVIEW_ACTIONS),
        # An audit's fix is an event too (stage "audit"); audits are counted on their own.
        EVENTS.c.stage != AUDIT_STAGE,
    )
    if since is not None:
        statement = statement.where(EVENTS.c.created_at >= since)
    if user_id is not None:
        statement = statement.where(EVENTS.c.judged_user_id == user_id)
    return statement.subquery("reviews")


def work_figures(
    session: Session, work: Any, key: Any, *, overall: bool
) -> dict[Any, tuple[int, int, float | None, float | None]]:
    """(submitted, active hours, mean, median time) per `key`, and under None for all rows
    when `overall`: one pass over the work, medians by window functions on both dialects (the
    middle row, or the mean of the two middle rows; rows without a duration sort last)."""
    dialect = session.get_bind().dialect.name
    timed = work.c.duration_ms
    order = (case((timed.is_(None), 1), else_=0), timed)
    columns = [
        key.label("key"),
        bucket(work.c.at, "hour", dialect).label("hour"),
        timed.label("ms"),
        func.row_number().over(partition_by=key, order_by=order).label("rn"),
        func.count(timed).over(partition_by=key).label("n"),
    ]
    if overall:
        columns += [
            func.row_number().over(order_by=order).label("rn_all"),
            func.count(timed).over().label("n_all"),
        ]
    ranked = select(*columns).select_from(work).cte("ranked")

    def figures(group: Any, rn: Any, n: Any) -> Any:
        middle = and_(rn * 2 >= n, rn * 2 <= n + 2)
        return select(
            group,
            func.count(),
            func.count(func.distinct(ranked.c.hour)),
            func.avg(ranked.c.ms),
            func.avg(case((middle, ranked.c.ms))),
        ).select_from(ranked)

    statement: Any = figures(ranked.c.key, ranked.c.rn, ranked.c.n).group_by(ranked.c.key)
    if overall:
        everyone = figures(literal_column("NULL"), ranked.c.rn_all, ranked.c.n_all)
        statement = union_all(statement, everyone)
    return {row[0]: tuple(row[1:]) for row in session.execute(statement) if row[1]}
