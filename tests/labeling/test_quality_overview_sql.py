"""The project overview's fast path (`quality_overview_sql`: index walks, hours kept by
triggers) against a plain computation over every row of a seeded random project: the same
numbers for all time and for windows starting on and inside an hour, also after the history
is corrected (times moved, an author removed, a task deleted)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from assay.core import schemas, users
from assay.labeling import models
from assay.labeling.quality_overview_sql import _middle, _window
from assay.labeling.quality_stats import labeler_dashboard, project_quality
from assay.labeling.quality_stats_schemas import WorkStats

START = dt.datetime(2025, 5, 1, 8, 0, tzinfo=dt.UTC)
FLOATS = ("throughput_per_hour", "mean_time_ms", "evaluation_accuracy", "review_pass_rate")


def _person(session, email: str) -> str:
    return users.create_user(
        session=session, user_in=schemas.UserCreate(email=email, role="labeler")
    ).id


def seed_history(db, rng: random.Random) -> tuple[str, list[str]]:
    """A project with 8 labelers' submissions, reviews, consensus and audit events, evaluation
    and training attempts and audits at random times over three days; another project's work
    by the same people as noise."""
    with db.write() as session:
        labelers = [_person(session, f"worker{i}@overview.test") for i in range(8)]
        reviewer = _person(session, "reviewer@overview.test")
        projects = []
        for name in ("overview", "noise"):
            project = models.Project(name=name, task_type="categorization", created_by=reviewer)
            session.add(project)
            session.flush()
            projects.append(project.id)

        def at() -> dt.datetime:
            return START + dt.timedelta(minutes=rng.randrange(3 * 24 * 60), seconds=rng.random())

        def duration() -> float | None:
            return None if rng.random() < 0.1 else rng.uniform(500, 90_000)

        for project_id in projects:
            tasks = []
            for kind in ["production"] * 60 + ["evaluation"] * 5 + ["training"] * 2:
                task = models.Task(
                    project_id=project_id, type="categorization", kind=kind, params={}
                )
                session.add(task)
                tasks.append(task)
            session.flush()
            production = [t for t in tasks if t.kind == "production"]
            for _ in range(400):  # events in id order, times at random
                task = rng.choice(production)
                action = rng.choice(["submit"] * 5 + ["accept", "fix", "reject", "consensus"])
                user = rng.choice(labelers) if action == "submit" else reviewer
                if action == "consensus" or rng.random() < 0.03:
                    user = None
                stage = "audit" if action == "fix" and rng.random() < 0.3 else "label"
                session.add(
                    models.TaskEvent(
                        task_id=task.id,
                        stage=stage,
                        user_id=user,
                        action=action,
                        duration_ms=duration() if action == "submit" else None,
                        created_at=at(),
                    )
                )
                session.flush()
            for task in (t for t in tasks if t.kind != "production"):
                for user in rng.sample(labelers, 6):
                    scored = rng.random() < 0.8
                    score = rng.choice([0.0, 0.5, 1.0]) if scored else None
                    when = at()
                    session.add(
                        models.QualityAttempt(
                            project_id=project_id,
                            task_id=task.id,
                            user_id=user,
                            kind=task.kind,
                            score=score,
                            passed=None if score is None else score >= 0.8,
                            submitted_at=when if scored or rng.random() < 0.5 else None,
                            duration_ms=duration(),
                            created_at=when,
                        )
                    )
            for task in rng.sample(production, 15):
                decided = rng.random() < 0.8
                session.add(
                    models.Audit(
                        project_id=project_id,
                        task_id=task.id,
                        labeler_id=rng.choice(labelers),
                        auditor_id=reviewer,
                        status=rng.choice(["accepted", "fixed", "rejected"])
                        if decided
                        else "pending",
                        decided_at=at() if decided else None,
                    )
                )
    return projects[0], labelers


def reference(session, project_id: str, since: dt.datetime | None) -> dict[Any, dict]:
    """Every figure of the overview, by hand from all the project's rows."""
    after = since or dt.datetime.min.replace(tzinfo=dt.UTC)
    events = session.scalars(
        select(models.TaskEvent)
        .join(models.Task, models.Task.id == models.TaskEvent.task_id)
        .where(models.Task.project_id == project_id)
        .order_by(models.TaskEvent.id)
    ).all()
    attempts = session.scalars(
        select(models.QualityAttempt).where(
            models.QualityAttempt.project_id == project_id,
            models.QualityAttempt.kind == "evaluation",
            models.QualityAttempt.score.is_not(None),
            models.QualityAttempt.submitted_at.is_not(None),
        )
    ).all()
    audits = session.scalars(
        select(models.Audit).where(models.Audit.project_id == project_id)
    ).all()
    work: dict[Any, list] = defaultdict(list)
    for e in events:
        if e.action == "submit" and e.user_id is not None and e.created_at >= after:
            for owner in (e.user_id, None):
                work[owner].append((e.created_at, e.duration_ms))
    scores: dict[Any, list] = defaultdict(list)
    for a in attempts:
        if a.submitted_at >= after:
            for owner in (a.user_id, None):
                work[owner].append((a.submitted_at, a.duration_ms))
                scores[owner].append((a.score, a.passed))
    reviews: dict[Any, list] = defaultdict(list)
    latest: dict[str, Any] = {}
    for e in events:
        if e.action == "submit":
            latest[e.task_id] = e
        elif e.action in ("accept", "fix", "reject") and e.stage != "audit":
            judged = latest.get(e.task_id)
            if judged is not None and judged.user_id is not None and e.created_at >= after:
                for owner in (judged.user_id, None):
                    reviews[owner].append(e.action in ("accept", "fix"))
    audited: dict[Any, list] = defaultdict(list)
    for a in audits:
        if a.status != "pending" and a.labeler_id and a.decided_at >= after:
            for owner in (a.labeler_id, None):
                audited[owner].append(a.status)
    figures = {}
    for owner in {*work, *reviews, *audited}:
        rows = work.get(owner, [])
        times = [ms for _, ms in rows if ms is not None]
        hours = len({moment.strftime("%Y-%m-%d %H") for moment, _ in rows})
        marks = scores.get(owner, [])
        verdicts = reviews.get(owner, [])
        statuses = audited.get(owner, [])
        figures[owner] = {
            "submitted": len(rows),
            "active_hours": hours,
            "throughput_per_hour": len(rows) / hours if hours else None,
            "median_time_ms": statistics.median(times) if times else None,
            "mean_time_ms": statistics.fmean(times) if times else None,
            "evaluated": len(marks),
            "evaluation_passed": sum(1 for _, passed in marks if passed),
            "evaluation_accuracy": statistics.fmean(s for s, _ in marks) if marks else None,
            "reviewed": len(verdicts),
            "review_passed": sum(verdicts),
            "review_pass_rate": sum(verdicts) / len(verdicts) if verdicts else None,
            "audited": len(statuses),
            "audit_accepted": statuses.count("accepted"),
            "audit_fixed": statuses.count("fixed"),
            "audit_rejected": statuses.count("rejected"),
            "audit_accept_rate": statuses.count("accepted") / len(statuses) if statuses else None,
        }
    return figures


def numbers(stats: WorkStats) -> dict:
    """The figures, floats that are sums in another order compared to 1e-12."""
    found = {key: getattr(stats, key) for key in WorkStats.model_fields}
    for key in FLOATS:
        if found[key] is not None:
            found[key] = pytest.approx(found[key], rel=1e-12)
    return found


def assert_matches(db, project_id: str, labelers: list[str]) -> None:
    windows = (None, START + dt.timedelta(days=1, minutes=37), START + dt.timedelta(days=2))
    for since in windows:
        with db.read() as session:
            overview = project_quality(session=session, project_id=project_id, since=since)
            expected = reference(session, project_id, since)
        rows = {row.user_id: row for row in overview.labelers}
        assert set(rows) == {owner for owner in expected if owner is not None}
        for owner, figures in expected.items():
            found = overview.totals if owner is None else rows[owner]
            assert figures == numbers(found), (since, owner)
    # One labeler's own figures (the dashboard's path) agree with the overview's.
    now = START + dt.timedelta(days=4)
    with db.read() as session:
        board = labeler_dashboard(
            session=session, project_id=project_id, user_id=labelers[0], days=30, now=now
        )
        expected = reference(session, project_id, now - dt.timedelta(days=30))[labelers[0]]
    assert expected == numbers(board.labeler)


def test_the_overview_equals_a_plain_computation_over_every_row(db):
    project_id, labelers = seed_history(db, random.Random(15))
    assert_matches(db, project_id, labelers)


def test_kept_hours_follow_corrections_of_the_history(db, accounts):
    project_id, labelers = seed_history(db, random.Random(16))
    events = models.TaskEvent
    with db.write() as session:
        first, second, third, fourth = session.scalars(
            select(events.id)
            .where(events.project_id == project_id, events.action == "submit")
            .order_by(events.id)
            .limit(4)
        ).all()
        # A time corrected, and one found wrong (the kept counts and sums follow).
        session.execute(update(events).where(events.id == third).values(duration_ms=123_456.0))
        session.execute(update(events).where(events.id == fourth).values(duration_ms=None))
        # Moved to a new hour, and given to someone else.
        session.execute(
            update(events)
            .where(events.id == first)
            .values(created_at=START + dt.timedelta(days=5, minutes=3), user_id=labelers[7])
        )
        session.execute(delete(events).where(events.id == second))
        doomed = session.scalar(
            select(events.task_id).where(events.project_id == project_id, events.id > second)
        )
        session.execute(delete(models.Task).where(models.Task.id == doomed))
        attempt = session.scalar(
            select(models.QualityAttempt).where(
                models.QualityAttempt.project_id == project_id,
                models.QualityAttempt.score.is_not(None),
                models.QualityAttempt.submitted_at.is_not(None),
            )
        )
        attempt.submitted_at = START + dt.timedelta(days=6)
    assert_matches(db, project_id, labelers)


def test_a_median_is_found_in_the_window_of_submissions_read():
    """PostgreSQL's medians (`_window_medians`) read every attempt's time and only the
    submissions' rows from `_window`: the median of the two merged is the same as over
    every row, with more attempts than submissions, none, ties and either parity."""
    rng = random.Random(5)
    for case in range(2000):
        values = [1.0, 2.0, 2.0, 3.0] if case % 3 == 0 else [rng.uniform(0, 100)]
        submitted = sorted(rng.choice(values) for _ in range(rng.randrange(0, 40)))
        attempts = sorted(rng.choice(values) for _ in range(rng.randrange(0, 40)))
        timed = len(submitted) + len(attempts)
        if not timed:
            continue
        first, rows = _window(timed, len(attempts))
        assert first >= 0 and rows <= len(attempts) + 2
        window = submitted[first : first + rows] if rows > 0 else []
        got = _middle(window, attempts, first, timed)
        assert got == statistics.median(submitted + attempts), (submitted, attempts)
