"""Workforce quality numbers against values worked out by hand from the data in
`quality_stats_seed` (see its docstring for the timeline): per labeler, project totals, a time
window, evaluation tasks, a labeler's series by day and by hour, and what a labeler may see."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import event

from assay.core.errors import Invalid, NotFound
from assay.labeling import models
from assay.labeling.quality_feedback import Feedback
from assay.labeling.quality_stats import labeler_dashboard, project_quality
from assay.labeling.quality_stats_schemas import WorkStats
from tests.labeling.quality_stats_seed import Seeded, seed

DAY = dt.date(2025, 3, 10)
NOW = dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def seeded(client, db, accounts) -> Seeded:
    return seed(client, "/api/v1", db, accounts, DAY)


def numbers(stats) -> dict:
    return {key: getattr(stats, key) for key in WorkStats.model_fields}


A_ALL = {
    # submits 10:05 10:40 11:10 11:30 + evaluations 13:30 14:10: hours 10, 11, 13, 14
    "submitted": 6,
    "active_hours": 4,
    "throughput_per_hour": 1.5,
    # 10 20 30 40 50 90 s
    "median_time_ms": 35000.0,
    "mean_time_ms": 40000.0,
    "evaluated": 2,
    "evaluation_passed": 1,
    "evaluation_accuracy": 0.75,
    # accept t1, reject t2, accept t2 (rework), reject t5 (A's submission before it)
    "reviewed": 4,
    "review_passed": 2,
    "review_pass_rate": 0.5,
    "audited": 2,
    "audit_accepted": 1,
    "audit_fixed": 0,
    "audit_rejected": 1,
    "audit_accept_rate": 0.5,
}
B_ALL = {
    # 10:15 10:20 12:00 + evaluation 12:30: hours 10, 12; 20 30 30 60 s
    "submitted": 4,
    "active_hours": 2,
    "throughput_per_hour": 2.0,
    "median_time_ms": 30000.0,
    "mean_time_ms": 35000.0,
    "evaluated": 1,
    "evaluation_passed": 0,
    "evaluation_accuracy": 0.0,
    # fix t3, accept t4, accept t5
    "reviewed": 3,
    "review_passed": 3,
    "review_pass_rate": 1.0,
    "audited": 1,
    "audit_accepted": 0,
    "audit_fixed": 1,
    "audit_rejected": 0,
    "audit_accept_rate": 0.0,
}
NOTHING = {
    "submitted": 0,
    "active_hours": 0,
    "throughput_per_hour": None,
    "median_time_ms": None,
    "mean_time_ms": None,
    "evaluated": 0,
    "evaluation_passed": 0,
    "evaluation_accuracy": None,
    "reviewed": 0,
    "review_passed": 0,
    "review_pass_rate": None,
    "audited": 0,
    "audit_accepted": 0,
    "audit_fixed": 0,
    "audit_rejected": 0,
    "audit_accept_rate": None,
}


def test_project_overview_per_labeler_and_totals(seeded, db):
    with db.read() as session:
        overview = project_quality(session=session, project_id=seeded.project_id)
    by_email = {row.email: row for row in overview.labelers}
    # The reviewer did no labeling and is not listed; C is a labeler without work.
    assert [row.user_id for row in overview.labelers] == [
        seeded.a.user.id,
        seeded.b.user.id,
        seeded.c.user.id,
    ]
    a, b, c = (by_email[x.user.email] for x in (seeded.a, seeded.b, seeded.c))
    assert numbers(a) == A_ALL
    assert numbers(b) == B_ALL
    assert numbers(c) == NOTHING
    assert (a.status, a.reason, a.paused_at) == (
        "paused",
        "rolling accuracy 0.40 is below 0.60",
        seeded.at(14, 30),
    )
    assert (b.status, b.reason, c.status) == ("active", None, "active")
    assert {a.role, b.role, c.role} == {"labeler"}
    assert numbers(overview.totals) == {
        "submitted": 10,
        "active_hours": 5,  # 10 … 14
        "throughput_per_hour": 2.0,
        # 10 20 20 30 30 30 40 50 60 90 s
        "median_time_ms": 30000.0,
        "mean_time_ms": 38000.0,
        "evaluated": 3,
        "evaluation_passed": 1,
        "evaluation_accuracy": 0.5,
        "reviewed": 7,
        "review_passed": 5,
        "review_pass_rate": 5 / 7,
        "audited": 3,
        "audit_accepted": 1,
        "audit_fixed": 1,
        "audit_rejected": 1,
        "audit_accept_rate": 1 / 3,
    }


def test_a_review_is_charged_to_the_submission_before_it_not_to_labeled_by(seeded, db):
    # t5: A submits, R rejects, B submits, R accepts; labeled_by is B. Charging by labeled_by
    # would give B both decisions and A none.
    with db.read() as session:
        overview = project_quality(
            session=session, project_id=seeded.project_id, since=seeded.at(11, 30)
        )
    rows = {row.user_id: row for row in overview.labelers}
    assert (rows[seeded.a.user.id].reviewed, rows[seeded.a.user.id].review_passed) == (1, 0)
    assert (rows[seeded.b.user.id].reviewed, rows[seeded.b.user.id].review_passed) == (1, 1)


def test_since_limits_every_figure_to_the_window(seeded, db):
    with db.read() as session:
        overview = project_quality(
            session=session, project_id=seeded.project_id, since=seeded.at(12)
        )
    rows = {row.user_id: row for row in overview.labelers}
    a, b = rows[seeded.a.user.id], rows[seeded.b.user.id]
    # A: evaluations 13:30 and 14:10 only; the audit rejected at 12:05; no review after 12:00.
    assert (a.submitted, a.active_hours, a.throughput_per_hour) == (2, 2, 1.0)
    assert (a.median_time_ms, a.evaluation_accuracy) == (45000.0, 0.75)
    assert (a.reviewed, a.review_pass_rate) == (0, None)
    assert (a.audited, a.audit_rejected, a.audit_accept_rate) == (1, 1, 0.0)
    # B: the 12:00 submit and the 12:30 evaluation, the 12:20 accept, the 12:10 fix.
    assert (b.submitted, b.active_hours, b.throughput_per_hour) == (2, 1, 2.0)
    assert (b.median_time_ms, b.mean_time_ms) == (40000.0, 40000.0)
    assert (b.reviewed, b.review_pass_rate, b.audit_fixed) == (1, 1.0, 1)
    assert overview.totals.submitted == 4 and overview.totals.active_hours == 3
    assert seeded.c.user.id in rows  # a member without work stays listed
    with db.read() as session, pytest.raises(Invalid) as raised:
        project_quality(
            session=session, project_id=seeded.project_id, since=dt.datetime(2025, 1, 1)
        )
    assert raised.value.field == "since"


def test_evaluation_tasks_hardest_first_over_all_time(seeded, db):
    with db.read() as session:
        evaluation = project_quality(session=session, project_id=seeded.project_id).evaluation
    assert (evaluation.tasks, evaluation.retired, evaluation.attempts, evaluation.passes) == (
        3,
        1,
        3,
        1,
    )
    assert evaluation.pass_rate == 1 / 3 and evaluation.truncated is False
    e1, e2, e3 = (seeded.tasks[k] for k in ("e1", "e2", "e3"))
    assert [
        (i.task_id, i.attempts, i.passes, i.pass_rate, i.mean_score) for i in evaluation.items
    ] == [
        (e2, 2, 0, 0.0, 0.25),
        (e1, 1, 1, 1.0, 1.0),  # C's unsubmitted attempt does not count
        (e3, 0, 0, None, None),
    ]
    assert evaluation.items[2].retired_at == seeded.at(9)
    assert evaluation.items[0].retired_at is None


def test_dashboard_by_day(seeded, db):
    with db.read() as session:
        board = labeler_dashboard(
            session=session, project_id=seeded.project_id, user_id=seeded.a.user.id, now=NOW
        )
    assert board.bucket == "day" and board.days == 30
    assert len(board.series) == 31  # 8 February … 10 March
    assert board.series[0].start == dt.datetime(2025, 2, 8, tzinfo=dt.UTC)
    last = board.series[-1]
    assert last.start == dt.datetime(2025, 3, 10, tzinfo=dt.UTC)
    assert (last.submitted, last.active_hours, last.tasks_per_hour) == (6, 4, 1.5)
    assert (last.median_time_ms, last.evaluated, last.evaluation_accuracy) == (35000.0, 2, 0.75)
    assert (last.reviewed, last.review_pass_rate) == (4, 0.5)
    # A's work in the other project (on 9 March) is not here.
    assert all(p.submitted == 0 and p.reviewed == 0 for p in board.series[:-1])
    assert numbers(board.labeler) == A_ALL
    assert board.labeler.status == "paused"


def test_dashboard_by_hour(seeded, db):
    with db.read() as session:
        board = labeler_dashboard(
            session=session,
            project_id=seeded.project_id,
            user_id=seeded.a.user.id,
            days=1,
            now=NOW,
        )
    assert board.bucket == "hour" and len(board.series) == 25
    hours = {p.start.hour: p for p in board.series if p.start.date() == DAY}
    assert (hours[10].submitted, hours[10].tasks_per_hour, hours[10].median_time_ms) == (
        2,
        2.0,
        15000.0,
    )
    assert (hours[10].reviewed, hours[10].review_pass_rate) == (2, 0.5)
    assert (hours[11].submitted, hours[11].median_time_ms) == (2, 60000.0)
    assert (hours[11].reviewed, hours[11].review_pass_rate) == (2, 0.5)
    assert (hours[12].submitted, hours[12].reviewed) == (0, 0)
    assert (hours[13].submitted, hours[13].evaluated, hours[13].evaluation_accuracy) == (
        1,
        1,
        1.0,
    )
    assert (hours[14].evaluation_accuracy, hours[14].median_time_ms) == (0.5, 50000.0)
    assert sum(p.submitted for p in board.series) == 6


def test_recent_attempts_never_say_which_task_or_what_was_expected(seeded, db):
    with db.read() as session:
        precise = labeler_dashboard(
            session=session, project_id=seeded.project_id, user_id=seeded.a.user.id, now=NOW
        )
        own = labeler_dashboard(
            session=session,
            project_id=seeded.project_id,
            user_id=seeded.a.user.id,
            now=NOW,
            feedback=Feedback(delay=dt.timedelta(0), group_size=1),
        )
    assert [
        (x.score, x.passed, x.submitted_at, x.duration_ms) for x in precise.recent_attempts
    ] == [
        (0.5, False, seeded.at(14, 10), 50000.0),
        (1.0, True, seeded.at(13, 30), 40000.0),
    ]
    # The labeler's own view lists no attempt (quality_feedback: results in groups).
    assert own.recent_attempts == [] and own.precise_times is False
    text = json.dumps(own.model_dump(mode="json"))
    for secret in (seeded.tasks["e1"], seeded.tasks["e2"], "expected", '"labels"'):
        assert secret not in text


def test_dashboard_of_someone_without_work_and_errors(seeded, db):
    with db.read() as session:
        board = labeler_dashboard(
            session=session, project_id=seeded.project_id, user_id=seeded.c.user.id, now=NOW
        )
        assert numbers(board.labeler) == NOTHING
        assert board.recent_attempts == [] and all(p.submitted == 0 for p in board.series)
        with pytest.raises(NotFound):
            labeler_dashboard(session=session, project_id=seeded.project_id, user_id="nobody")
        with pytest.raises(Invalid):
            labeler_dashboard(
                session=session, project_id=seeded.project_id, user_id=seeded.c.user.id, days=0
            )


def test_statement_count_does_not_grow_with_labelers(seeded, db, accounts):
    def statements() -> int:
        seen: list[str] = []
        engine = db.engine

        def count(*args) -> None:
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            with db.read() as session:
                project_quality(session=session, project_id=seeded.project_id)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    before = statements()
    newcomers = [accounts.make("labeler").user.id for _ in range(5)]
    with db.write() as session:
        task = models.Task(project_id=seeded.project_id, type="categorization", params={})
        session.add(task)
        session.flush()
        for user_id in newcomers:
            session.add(
                models.TaskEvent(task_id=task.id, stage="label", user_id=user_id, action="submit")
            )
    assert statements() == before
    with db.read() as session:
        listed = {
            row.user_id
            for row in project_quality(session=session, project_id=seeded.project_id).labelers
        }
    assert listed >= set(newcomers)
