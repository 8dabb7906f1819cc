"""Workforce quality numbers: a project's overview per labeler and one labeler's dashboard.

Read-only; every number is aggregated in SQL: a handful of statements per request, none per
labeler. A project's overview reads its task events by `project_id` through covering indexes
and the kept hour counts (`quality_overview_sql`); one labeler's dashboard groups their
submissions, found through `ix_task_events_user` (`quality_stats_sql`).

Definitions (the schemas repeat them for API readers):
- *submitted*: production submissions (`task_events.action = 'submit'`) plus scored
  evaluation attempts: a labeler cannot tell the two apart, so both are their work.
- *throughput*: submitted / active hours, an active hour being a clock hour (UTC) with at
  least one submission: the pace while working, without the nights and breaks a plain
  window would count.
- *time per task*: lease to submit (`duration_ms`), median and mean.
- *review pass rate*: accept and fix decisions over all decisions, each decision charged to
  the labeler of the task's latest submission before it (not `tasks.labeled_by`, which only
  remembers the last labeler: with consensus or rework, earlier labelers would be charged
  for someone else's work).
- *audit accept rate*: accepted audits over decided ones (a fix means the work needed one).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core import models as core_models
from assay.core.db import utcnow
from assay.core.errors import Invalid, NotFound
from assay.labeling.quality_feedback import Feedback, apply_to_dashboard, released_groups
from assay.labeling.quality_overview_sql import project_work
from assay.labeling.quality_stats_schemas import (
    EvaluationSummary,
    EvaluationTaskStats,
    LabelerDashboard,
    LabelerQuality,
    ProjectQuality,
    RecentAttempt,
    SeriesPoint,
    WorkStats,
)
from assay.labeling.quality_stats_sql import (
    ATTEMPTS,
    AUDITS,
    MEMBERS,
    PASSING_REVIEWS,
    TASKS,
    USERS,
    WORKERS,
    bucket,
    count_if,
    parse_bucket,
    ratio,
    review_decisions,
    scored_evaluations,
    work_figures,
    work_rows,
)

DECIDED_AUDITS = ("accepted", "fixed", "rejected")
EVALUATION_TASKS_LISTED = 500
RECENT_ATTEMPTS = 20
# Dashboards over this many days or fewer are bucketed by hour, longer ones by day.
HOURLY_UP_TO_DAYS = 2
MAX_DASHBOARD_DAYS = 366
_IN_CHUNK = 500


# --- per-labeler aggregation -------------------------------------------------------------


def _stats_by_labeler(
    session: Session,
    project_id: str,
    since: dt.datetime | None,
    user_id: str | None = None,
) -> tuple[dict[str, WorkStats], WorkStats]:
    """WorkStats per labeler and for the whole project (`quality_overview_sql`), or for one
    labeler (`user_id`): grouped statements, none per labeler.

    Project totals are sums of the labelers' counts, except active hours and the median
    time, which are taken over all rows."""
    stats: dict[str, WorkStats] = defaultdict(WorkStats)
    totals = WorkStats()
    if user_id is None:
        figures = project_work(session, project_id, since)
    else:
        work = work_rows(project_id, since, user_id)
        figures = work_figures(session, work, work.c.user_id, overall=False)
    reviews = review_decisions(project_id, since, user_id)
    for owner, (submitted, hours, mean, median) in figures.items():
        entry = totals if owner is None else stats[owner]
        entry.submitted, entry.active_hours = submitted, hours
        entry.mean_time_ms, entry.median_time_ms = mean, median
        entry.throughput_per_hour = submitted / hours if hours else None

    score_sum = 0.0
    for owner, count, passed, total_score in session.execute(
        select(
            ATTEMPTS.c.user_id,
            func.count(),
            count_if(ATTEMPTS.c.passed.is_(True)),
            func.sum(ATTEMPTS.c.score),
        )
        .where(*scored_evaluations(project_id, since, user_id))
        .group_by(ATTEMPTS.c.user_id)
    ):
        entry = stats[owner]
        entry.evaluated, entry.evaluation_passed = count, passed
        entry.evaluation_accuracy = total_score / count
        totals.evaluated += count
        totals.evaluation_passed += passed
        score_sum += total_score
    if totals.evaluated:
        totals.evaluation_accuracy = score_sum / totals.evaluated

    for owner, count, passed in session.execute(
        select(
            reviews.c.labeler_id,
            func.count(),
            count_if(reviews.c.action.in_(PASSING_REVIEWS)),
        )
        .select_from(reviews)
        .group_by(reviews.c.labeler_id)
    ):
        if owner is None:
            continue
        entry = stats[owner]
        entry.reviewed, entry.review_passed = count, passed
        totals.reviewed += count
        totals.review_passed += passed

    audits = select(AUDITS.c.labeler_id, AUDITS.c.status, func.count()).where(
        AUDITS.c.project_id == project_id,
        AUDITS.c.status.in_(DECIDED_AUDITS),
        AUDITS.c.labeler_id.is_not(None),
    )
    if since is not None:
        audits = audits.where(AUDITS.c.decided_at >= since)
    if user_id is not None:
        audits = audits.where(AUDITS.c.labeler_id == user_id)
    for owner, status, count in session.execute(
        audits.group_by(AUDITS.c.labeler_id, AUDITS.c.status)
    ):
        for entry in (stats[owner], totals):
            setattr(entry, f"audit_{status}", getattr(entry, f"audit_{status}") + count)
            entry.audited += count
    for entry in (*stats.values(), totals):
        if entry.reviewed:
            entry.review_pass_rate = entry.review_passed / entry.reviewed
        if entry.audited:
            entry.audit_accept_rate = entry.audit_accepted / entry.audited
    return stats, totals


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _labelers(
    session: Session, project_id: str, user_ids: list[str], stats: dict[str, WorkStats]
) -> list[LabelerQuality]:
    """Who the numbers belong to: name, role in the project and standing (active, paused)."""
    people = []
    for chunk in _chunks(user_ids):
        people.extend(
            session.execute(
                select(
                    USERS.c.id,
                    USERS.c.email,
                    USERS.c.name,
                    MEMBERS.c.role,
                    WORKERS.c.status,
                    WORKERS.c.reason,
                    WORKERS.c.paused_at,
                    WORKERS.c.training_passed_at,
                )
                .select_from(
                    USERS.outerjoin(
                        MEMBERS,
                        and_(MEMBERS.c.user_id == USERS.c.id, MEMBERS.c.project_id == project_id),
                    ).outerjoin(
                        WORKERS,
                        and_(WORKERS.c.user_id == USERS.c.id, WORKERS.c.project_id == project_id),
                    )
                )
                .where(USERS.c.id.in_(chunk))
            )
        )
    result = []
    for person in people:
        result.append(
            LabelerQuality(
                **stats.get(person.id, WorkStats()).model_dump(),
                user_id=person.id,
                email=person.email,
                name=person.name,
                role=person.role,
                status=person.status or "active",
                reason=person.reason,
                paused_at=person.paused_at,
                training_passed_at=person.training_passed_at,
            )
        )
    result.sort(key=lambda item: (-item.submitted, item.email))
    return result


def _evaluation_summary(session: Session, project_id: str) -> EvaluationSummary:
    """Every evaluation task's attempts and pass rate over all time, hardest first."""
    scored = (
        select(
            ATTEMPTS.c.task_id,
            func.count().label("attempts"),
            count_if(ATTEMPTS.c.passed.is_(True)).label("passes"),
            func.avg(ATTEMPTS.c.score).label("mean_score"),
        )
        .where(*scored_evaluations(project_id, None, None))
        .group_by(ATTEMPTS.c.task_id)
        .subquery("scored")
    )
    attempts = func.coalesce(scored.c.attempts, 0)
    passes = func.coalesce(scored.c.passes, 0)
    # The totals over every evaluation task ride along as window aggregates, taken before
    # the LIMIT: one pass over the attempts instead of two.
    evaluation_tasks = (
        select(
            TASKS.c.id,
            TASKS.c.type,
            TASKS.c.retired_at,
            TASKS.c.created_at,
            attempts.label("attempts"),
            passes.label("passes"),
            scored.c.mean_score,
            func.count().over().label("all_tasks"),
            func.sum(case((TASKS.c.retired_at.is_not(None), 1), else_=0))
            .over()
            .label("all_retired"),
            func.sum(attempts).over().label("all_attempts"),
            func.sum(passes).over().label("all_passes"),
        )
        .select_from(TASKS.outerjoin(scored, scored.c.task_id == TASKS.c.id))
        .where(TASKS.c.project_id == project_id, TASKS.c.kind == "evaluation")
    )
    rows = session.execute(
        evaluation_tasks.order_by(
            case((attempts == 0, 1), else_=0), ratio(passes, attempts), TASKS.c.id
        ).limit(EVALUATION_TASKS_LISTED + 1)
    ).all()
    totals = (
        (rows[0].all_tasks, rows[0].all_retired, rows[0].all_attempts, rows[0].all_passes)
        if rows
        else (0, 0, 0, 0)
    )
    items = [
        EvaluationTaskStats(
            task_id=row.id,
            type=row.type,
            retired_at=row.retired_at,
            created_at=row.created_at,
            attempts=row.attempts,
            passes=row.passes,
            pass_rate=row.passes / row.attempts if row.attempts else None,
            mean_score=row.mean_score,
        )
        for row in rows[:EVALUATION_TASKS_LISTED]
    ]
    tasks, retired, attempt_count, pass_count = totals
    return EvaluationSummary(
        tasks=tasks,
        retired=retired,
        attempts=attempt_count,
        passes=pass_count,
        pass_rate=pass_count / attempt_count if attempt_count else None,
        items=items,
        truncated=len(rows) > EVALUATION_TASKS_LISTED,
    )


def project_quality(
    *, session: Session, project_id: str, since: dt.datetime | None = None
) -> ProjectQuality:
    """Per labeler and for the whole project: work, pace, accuracy, review and audit results.

    Labelers are the project's members with the labeler role plus anyone who did work in
    the window (members of other roles who labeled, former members)."""
    if since is not None and since.tzinfo is None:
        raise Invalid("since needs a time zone (e.g. 2025-01-31T00:00:00Z)", field="since")
    dialects.for_reports(session.connection())
    stats, totals = _stats_by_labeler(session, project_id, since)
    members = session.scalars(
        select(MEMBERS.c.user_id).where(
            MEMBERS.c.project_id == project_id, MEMBERS.c.role == "labeler"
        )
    ).all()
    user_ids = sorted({*members, *stats})
    return ProjectQuality(
        project_id=project_id,
        since=since,
        generated_at=utcnow(),
        totals=totals,
        labelers=_labelers(session, project_id, user_ids, stats),
        evaluation=_evaluation_summary(session, project_id),
    )


# --- one labeler over time ---------------------------------------------------------------


def _series(
    session: Session, project_id: str, user_id: str, start: dt.datetime, unit: str
) -> dict[str, SeriesPoint]:
    dialect = session.get_bind().dialect.name
    points: dict[str, SeriesPoint] = {}

    def point(key: str) -> SeriesPoint:
        if key not in points:
            points[key] = SeriesPoint(start=parse_bucket(key))
        return points[key]

    work = work_rows(project_id, start, user_id)
    by_bucket = bucket(work.c.at, unit, dialect)
    for key, (submitted, hours, _, median) in work_figures(
        session, work, by_bucket, overall=False
    ).items():
        entry = point(key)
        entry.submitted, entry.active_hours, entry.median_time_ms = submitted, hours, median
        entry.tasks_per_hour = submitted / hours if hours else None

    by_bucket = bucket(ATTEMPTS.c.submitted_at, unit, dialect).label("bucket")
    for row in session.execute(
        select(by_bucket, func.count(), func.avg(ATTEMPTS.c.score))
        .where(*scored_evaluations(project_id, start, user_id))
        .group_by(by_bucket)
    ):
        entry = point(row[0])
        entry.evaluated, entry.evaluation_accuracy = row[1], row[2]

    reviews = review_decisions(project_id, start, user_id)
    by_bucket = bucket(reviews.c.at, unit, dialect).label("bucket")
    for row in session.execute(
        select(by_bucket, func.count(), count_if(reviews.c.action.in_(PASSING_REVIEWS)))
        .select_from(reviews)
        .group_by(by_bucket)
    ):
        entry = point(row[0])
        entry.reviewed = row[1]
        entry.review_pass_rate = row[2] / row[1] if row[1] else None
    return points


def _bucket_starts(start: dt.datetime, end: dt.datetime, unit: str) -> list[dt.datetime]:
    step = dt.timedelta(hours=1) if unit == "hour" else dt.timedelta(days=1)
    first = start.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        first = first.replace(hour=0)
    starts = []
    while first <= end:
        starts.append(first)
        first += step
    return starts


def labeler_dashboard(
    *,
    session: Session,
    project_id: str,
    user_id: str,
    days: int = 30,
    feedback: Feedback | None = None,
    now: dt.datetime | None = None,
) -> LabelerDashboard:
    """One labeler's last `days`: a series per day (per hour up to two days) of submissions,
    pace, time per task, evaluation accuracy and review pass rate, and their latest scored
    evaluation attempts — never which tasks those were, nor the expected answers.

    With `feedback` (the labeler reading their own dashboard) the evaluation figures are those
    of their released groups (`quality_feedback`) and no attempt is listed one by one, so no
    score can be matched to the task it was given for; without it, every figure is exact."""
    if not 1 <= days <= MAX_DASHBOARD_DAYS:
        raise Invalid(f"days must be between 1 and {MAX_DASHBOARD_DAYS}", field="days")
    if session.get(core_models.User, user_id) is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    end = now or utcnow()
    start = end - dt.timedelta(days=days)
    unit = "hour" if days <= HOURLY_UP_TO_DAYS else "day"
    stats, _ = _stats_by_labeler(session, project_id, start, user_id)
    labeler = _labelers(session, project_id, [user_id], stats)[0]
    points = _series(session, project_id, user_id, start, unit)
    series = []
    for bucket_start in _bucket_starts(start, end, unit):
        key = bucket_start.strftime("%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d")
        series.append(points.get(key) or SeriesPoint(start=bucket_start))
    attempts = []
    if feedback is None:
        recent = session.execute(
            select(
                ATTEMPTS.c.score, ATTEMPTS.c.passed, ATTEMPTS.c.submitted_at, ATTEMPTS.c.duration_ms
            )
            .where(*scored_evaluations(project_id, None, user_id))
            .order_by(ATTEMPTS.c.submitted_at.desc(), ATTEMPTS.c.id.desc())
            .limit(RECENT_ATTEMPTS)
        ).all()
        attempts = [RecentAttempt.model_validate(row, from_attributes=True) for row in recent]
    else:
        groups = released_groups(
            session.connection(), project_id=project_id, user_id=user_id, feedback=feedback, now=end
        )
        inside = [group for group in groups if group.at >= start]
        apply_to_dashboard(labeler, series, inside, unit)
    return LabelerDashboard(
        project_id=project_id,
        labeler=labeler,
        days=days,
        bucket=unit,
        start=start,
        end=end,
        series=series,
        recent_attempts=attempts,
        precise_times=feedback is None,
        feedback_delay_seconds=None if feedback is None else feedback.delay.total_seconds(),
        feedback_group_size=None if feedback is None else feedback.group_size,
    )
