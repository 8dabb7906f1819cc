"""The project overview's work and review figures at scale (`quality_stats.project_quality`).

The same numbers as `quality_stats_sql.work_figures` gives one labeler,
read for a whole project without sorting its submissions (bench/quality_stats.py: 1,000,000
tasks, 100,000 submissions):

- counts, mean times and active hours: rows of `quality_work_hours` (submissions, timed ones
  and their sum per labeler and hour, kept by triggers: migrations 0007, 0011), plus, for a
  window starting inside an hour, the rest of that hour counted from the history;
- exact medians: for each labeler the middle row(s) of their times in order, an index walk
  (`ix_task_events_work` merged with their evaluation attempts' times) that stops there; the
  project's through `ix_task_events_pace`. PostgreSQL sorts rather than merges there, so on
  it every evaluation attempt's time is read and only a window of the submissions' order
  around the middle (`_window_medians`);
- reviews are `quality_stats_sql.review_decisions`: each decision keeps the labeler it
  judges (migration 0012), so they are one range of `ix_task_events_judged`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from assay.core.db import UTCDateTime
from assay.labeling import models
from assay.labeling.quality_stats_sql import (
    ATTEMPTS,
    EVENTS,
    scored_evaluations,
    submissions,
)

HOURS = models.WorkHour.__table__
# Labelers per median statement (SQLite allows 500 terms in a compound SELECT).
MEDIANS_PER_STATEMENT = 200
_PROJECT = ""  # the whole project's row among the labelers' medians

Figures = tuple[int, int, float | None, float | None]


def _hour(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H")


def _counts_between(
    session: Session, project_id: str, start: dt.datetime, end: dt.datetime
) -> dict[str, list[Any]]:
    """[submitted, timed, total ms] per labeler in [start, end), submissions and evaluation
    attempts: the part of an hour a window starts in."""
    counts: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0.0])
    sources = (
        (EVENTS.c, [*submissions(project_id, start, None), EVENTS.c.created_at < end]),
        (ATTEMPTS.c, [*scored_evaluations(project_id, start, None), ATTEMPTS.c.submitted_at < end]),
    )
    for table, conditions in sources:
        statement = (
            select(
                table.user_id,
                func.count(),
                func.count(table.duration_ms),
                func.sum(table.duration_ms),
            )
            .where(*conditions)
            .group_by(table.user_id)
        )
        for user_id, rows, timed, total in session.execute(statement):
            entry = counts[user_id]
            entry[0] += rows
            entry[1] += timed
            entry[2] += total or 0.0
    return counts


def _attempt_times(
    session: Session, project_id: str, since: dt.datetime | None
) -> dict[str, list[float | None]]:
    """Every scored evaluation attempt's time per labeler (None if untimed), in order."""
    times: dict[str, list[float | None]] = defaultdict(list)
    rows = session.execute(
        select(ATTEMPTS.c.user_id, ATTEMPTS.c.duration_ms)
        .where(*scored_evaluations(project_id, since, None))
        .order_by(ATTEMPTS.c.user_id, ATTEMPTS.c.duration_ms)
    ).all()  # fetched at once: row by row costs more than the query
    for user_id, ms in rows:
        times[user_id].append(ms)
    return times


def _kept_counts(
    session: Session, project_id: str, since: dt.datetime | None
) -> tuple[dict[str, list[Any]], dict[Any, int]]:
    """[submitted, timed, total ms] and clock hours with a submission per labeler (and the
    project's hours under None): rows of `quality_work_hours`, plus, for a window starting
    inside an hour, the rest of that hour counted from the history."""
    kept = [HOURS.c.project_id == project_id]
    partly: dict[str, list[Any]] = {}
    if since is not None:
        start = since.astimezone(dt.UTC)
        first_whole = start.replace(minute=0, second=0, microsecond=0)
        if first_whole < start:
            first_whole += dt.timedelta(hours=1)
            partly = _counts_between(session, project_id, start, first_whole)
        kept.append(HOURS.c.hour >= _hour(first_whole))
    counts: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0.0])
    hours: dict[Any, int] = {}
    for user_id, active, rows, timed, total in session.execute(
        select(
            HOURS.c.user_id,
            func.count(),
            func.sum(HOURS.c.submissions),
            func.sum(HOURS.c.timed),
            func.sum(HOURS.c.total_ms),
        )
        .where(*kept)
        .group_by(HOURS.c.user_id)
    ):
        counts[user_id] = [rows, timed, total]
        hours[user_id] = active
    # Grouped rather than count(DISTINCT): read in ix_quality_work_hours_hour's order.
    project_hours = select(HOURS.c.hour).where(*kept).group_by(HOURS.c.hour).subquery()
    hours[None] = session.scalar(select(func.count()).select_from(project_hours))
    for user_id, (rows, timed, total) in partly.items():
        entry = counts[user_id]
        entry[0] += rows
        entry[1] += timed
        entry[2] += total
        hours[user_id] = hours.get(user_id, 0) + 1
    hours[None] += 1 if partly else 0
    return counts, hours


# On SQLite, which walks such an ORDER BY as a merge of the two index scans that stops at
# the middle: one labeler's (or the project's) median time is one term, the mean of the
# middle row(s) of their timed submissions and scored evaluation attempts in time order
# (the conditions of `submissions` and `scored_evaluations`), in SQL text because a request
# builds one such term per labeler and constructing them as expressions cost more than
# running them.
_MIDDLE = """
SELECT CAST(:user_{i} AS VARCHAR(24)) AS user_id, (
    SELECT avg(ms) FROM (
        SELECT ms FROM (
            SELECT duration_ms AS ms FROM task_events
            WHERE project_id = :project_id AND action = 'submit' AND user_id IS NOT NULL
                AND duration_ms IS NOT NULL {events}
            UNION ALL
            SELECT duration_ms AS ms FROM quality_attempts
            WHERE project_id = :project_id AND kind = 'evaluation' AND score IS NOT NULL
                AND submitted_at IS NOT NULL AND duration_ms IS NOT NULL {attempts}
        ) times ORDER BY ms LIMIT :take_{i} OFFSET :skip_{i}
    ) middle
) AS median
"""


def _median_statement(
    project_id: str, since: dt.datetime | None, wanted: list[tuple[str, int]]
) -> Any:
    terms, params = [], {"project_id": project_id}
    for i, (user_id, timed) in enumerate(wanted):
        events, attempts = "", ""
        if user_id != _PROJECT:
            events = attempts = f"AND user_id = :user_{i}"
        if since is not None:
            events += " AND created_at >= :since"
            attempts += " AND submitted_at >= :since"
        terms.append(_MIDDLE.format(i=i, events=events, attempts=attempts))
        params.update(
            {f"user_{i}": user_id, f"take_{i}": 2 - timed % 2, f"skip_{i}": (timed - 1) // 2}
        )
    statement = text(" UNION ALL ".join(terms))
    if since is not None:
        statement = statement.bindparams(bindparam("since", type_=UTCDateTime))
        params["since"] = since
    return statement, params


# On PostgreSQL, which sorts each labeler's times for that, the middle of their times:
# every evaluation attempt's time is read (`_attempt_times`, a few per labeler), the
# submissions' only in a window of their index order (`ix_task_events_work`, and
# `ix_task_events_pace` for the project) — an index walk that stops there, no sort. With A
# the attempts' times, row p of the merged order has between p - |A| and p submissions
# before it, so the submissions from row max(0, p - |A|) to p + 1, merged with A, hold it
# (_middle). In SQL text: a request builds one such term per labeler.
_WINDOW = """
SELECT CAST(:user_{i} AS VARCHAR(24)) AS user_id, ms FROM (
    SELECT duration_ms AS ms FROM task_events
    WHERE project_id = :project_id AND action = 'submit' AND user_id IS NOT NULL
        AND duration_ms IS NOT NULL {events}
    ORDER BY duration_ms LIMIT :take_{i} OFFSET :skip_{i}
) window_{i}
"""


def _window(timed: int, attempts: int) -> tuple[int, int]:
    """(first row, row count) of the submissions' times to read for the median of `timed`
    times of which `attempts` are evaluation attempts."""
    middle = (timed - 1) // 2
    first = max(0, middle - attempts)
    return first, min(middle + 2 - timed % 2, timed - attempts) - first


def _middle(window: list[float], attempts: list[float], first: int, timed: int) -> float:
    """The median of `timed` times, submissions' S and `attempts`, from `window`: S's rows
    from `first` on (`_window`). Row p of the merged order is row p - first of window and
    attempts merged."""
    merged = sorted(window + attempts)
    middle, take = (timed - 1) // 2 - first, 2 - timed % 2
    return sum(merged[middle : middle + take]) / take


def _window_statement(
    project_id: str, since: dt.datetime | None, wanted: list[tuple[str, int, int]]
) -> Any:
    terms, params = [], {"project_id": project_id}
    for i, (user_id, first, count) in enumerate(wanted):
        events = "" if user_id == _PROJECT else f"AND user_id = :user_{i}"
        if since is not None:
            events += " AND created_at >= :since"
        terms.append(_WINDOW.format(i=i, events=events))
        params.update({f"user_{i}": user_id, f"take_{i}": count, f"skip_{i}": first})
    statement = text(" UNION ALL ".join(terms))
    if since is not None:
        statement = statement.bindparams(bindparam("since", type_=UTCDateTime))
        params["since"] = since
    return statement, params


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), MEDIANS_PER_STATEMENT):
        yield items[start : start + MEDIANS_PER_STATEMENT]


def _medians(
    session: Session, project_id: str, since: dt.datetime | None, timed: dict[str, int]
) -> dict[Any, float]:
    wanted = [(user_id, count) for user_id, count in timed.items() if count]
    total = sum(count for _, count in wanted)
    if total:
        wanted.append((_PROJECT, total))
    medians: dict[Any, float] = {}
    for chunk in _chunks(wanted):
        statement, params = _median_statement(project_id, since, chunk)
        for user_id, median in session.execute(statement, params):
            medians[user_id or None] = median
    return medians


def _window_medians(
    session: Session,
    project_id: str,
    since: dt.datetime | None,
    timed: dict[str, int],
    attempts: dict[str, list[float | None]],
) -> dict[Any, float]:
    sorted_attempts = {
        user_id: [ms for ms in times if ms is not None] for user_id, times in attempts.items()
    }
    sorted_attempts[_PROJECT] = sorted(ms for times in sorted_attempts.values() for ms in times)
    timed = {**timed, _PROJECT: sum(timed.values())}
    wanted, windows = [], {}
    for user_id, count in timed.items():
        if not count:
            continue
        first, rows = _window(count, len(sorted_attempts.get(user_id, ())))
        windows[user_id] = (first, count)
        if rows > 0:
            wanted.append((user_id, first, rows))
    read: dict[str, list[float]] = defaultdict(list)
    for chunk in _chunks(wanted):
        statement, params = _window_statement(project_id, since, chunk)
        for user_id, ms in session.execute(statement, params).all():
            read[user_id].append(ms)
    return {
        user_id or None: _middle(read[user_id], sorted_attempts.get(user_id, []), first, count)
        for user_id, (first, count) in windows.items()
    }


def project_work(
    session: Session, project_id: str, since: dt.datetime | None
) -> dict[Any, Figures]:
    """(submitted, active hours, mean, median time) per labeler and, under None, for the whole
    project: what `work_figures(..., overall=True)` gives over `work_rows`."""
    counts, hours = _kept_counts(session, project_id, since)
    if not counts:
        return {}
    timed_rows = {user_id: entry[1] for user_id, entry in counts.items()}
    if session.get_bind().dialect.name == "sqlite":
        medians = _medians(session, project_id, since, timed_rows)
    else:
        attempts = _attempt_times(session, project_id, since)
        medians = _window_medians(session, project_id, since, timed_rows, attempts)
    figures: dict[Any, Figures] = {}
    for user_id, (rows, timed, total) in counts.items():
        figures[user_id] = (
            rows,
            hours.get(user_id, 0),
            total / timed if timed else None,
            medians.get(user_id),
        )
    rows = sum(entry[0] for entry in counts.values())
    timed = sum(entry[1] for entry in counts.values())
    total = sum(entry[2] for entry in counts.values())
    figures[None] = (rows, hours[None], total / timed if timed else None, medians.get(None))
    return figures
