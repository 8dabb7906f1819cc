"""A labeler's own evaluation results, late and in groups (`quality_feedback`), on the data of
`quality_stats_seed`: A's scored evaluation attempts are 1.0 (passed) at 13:30 and 0.5 (failed)
at 14:10 on day D; B's one is 0.0 at 12:30; A also has one in another project."""

from __future__ import annotations

import datetime as dt

import pytest

from assay.labeling import models
from assay.labeling.quality_admin import standing
from assay.labeling.quality_feedback import Feedback, Group, released_groups
from assay.labeling.quality_stats import labeler_dashboard
from tests.labeling.quality_stats_seed import Seeded, seed

DAY = dt.date(2025, 3, 10)
SIX_HOURS = dt.timedelta(hours=6)


@pytest.fixture
def seeded(client, db, accounts) -> Seeded:
    return seed(client, "/api/v1", db, accounts, DAY)


def test_the_cutoff_moves_on_an_hourly_clock_or_the_delays_when_shorter():
    at = dt.datetime(2025, 3, 10, 20, 59, 59, tzinfo=dt.UTC)
    assert Feedback(SIX_HOURS, 5).cutoff(at) == dt.datetime(2025, 3, 10, 14, tzinfo=dt.UTC)
    half = Feedback(dt.timedelta(minutes=30), 5)
    assert half.cutoff(at) == dt.datetime(2025, 3, 10, 20, 0, tzinfo=dt.UTC)
    assert Feedback(dt.timedelta(0), 5).cutoff(at) == at


def test_a_group_is_released_once_its_last_attempt_is_old_enough(seeded, db):
    def groups(feedback: Feedback, hour: int, minute: int = 0) -> list[Group]:
        with db.read() as session:
            return released_groups(
                session.connection(),
                project_id=seeded.project_id,
                user_id=seeded.a.user.id,
                feedback=feedback,
                now=seeded.at(hour, minute),
            )

    pairs = Feedback(SIX_HOURS, 2)
    # 14:10 + 6 h is 20:10, and the clock moves by the hour: released at 21:00.
    assert groups(pairs, 20, 10) == groups(pairs, 20, 59) == []
    assert groups(pairs, 21) == [Group(at=seeded.at(14), scores=(1.0, 0.5), passed=1)]
    # Groups of one, no delay: each attempt; groups of three: A has only two.
    assert [g.scores for g in groups(Feedback(dt.timedelta(0), 1), 14, 11)] == [(1.0,), (0.5,)]
    assert groups(Feedback(dt.timedelta(0), 3), 23) == []


def test_the_labelers_own_dashboard_and_standing_count_released_groups_only(seeded, db):
    now = seeded.at(15)
    with db.read() as session:
        by_hour = labeler_dashboard(
            session=session,
            project_id=seeded.project_id,
            user_id=seeded.a.user.id,
            days=1,
            now=now,
            feedback=Feedback(dt.timedelta(0), 2),
        )
        late = labeler_dashboard(
            session=session,
            project_id=seeded.project_id,
            user_id=seeded.a.user.id,
            now=now,
            feedback=Feedback(SIX_HOURS, 2),
        )
        project = session.get(models.Project, seeded.project_id)
        last_group = standing(
            session=session,
            project=project,
            user_id=seeded.a.user.id,
            feedback=Feedback(dt.timedelta(0), 1),
            now=now,
        )
    labeler = by_hour.labeler
    assert (labeler.evaluated, labeler.evaluation_passed, labeler.evaluation_accuracy) == (
        2,
        1,
        0.75,
    )
    hours = {p.start.hour: p for p in by_hour.series if p.start.date() == DAY}
    # The group is dated by its last attempt's hour: both results show at 14:00, none at 13:00.
    assert (hours[13].evaluated, hours[13].evaluation_accuracy) == (0, None)
    assert (hours[14].evaluated, hours[14].evaluation_accuracy) == (2, 0.75)
    # Work counts every attempt at once, as a real submission.
    assert (hours[13].submitted, hours[14].submitted, labeler.submitted) == (1, 1, 6)
    assert (by_hour.feedback_delay_seconds, by_hour.feedback_group_size) == (0.0, 2)
    assert (late.labeler.evaluated, late.labeler.evaluation_accuracy) == (0, None)
    assert all(p.evaluated == 0 for p in late.series)
    # The rolling window (20) holds the latest groups: here two groups of one.
    assert (last_group["evaluated"], last_group["accuracy"]) == (2, 0.75)
