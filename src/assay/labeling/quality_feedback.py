"""What a labeler is shown of their own evaluation (gold) results: late, and in groups.

A labeler who compares their figures before and after a submit must learn neither whether the
task was an evaluation task nor how it scored. So their scored evaluation attempts in a
project are cut, in the order submitted, into consecutive groups of `group_size`; a group is
*released* once its last attempt is older than `delay`, measured from a clock that moves in
steps of an hour (of the delay, when that is shorter). Only released groups reach the
labeler's own accuracy figures — counts, passes, mean scores, by period — and a group is
dated by the hour of its last attempt, so whatever they read changes by whole groups, at
moments no single submit of theirs decides.

The rest of their numbers treat an evaluation attempt exactly as real work (it is counted as
a submission, with its time, at once): a real submit and a gold one move them alike. The
project's managers and reviewers read the exact figures at once (`quality_stats`), and an
automatic pause still happens on the submit that triggers it (docs/quality.md says why).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from assay.core.settings import Settings
from assay.labeling import models
from assay.labeling.quality_stats_schemas import LabelerQuality, SeriesPoint

A = models.QualityAttempt.__table__.c
HOUR = dt.timedelta(hours=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Feedback:
    """How late and in how large groups a labeler sees their own evaluation results."""

    delay: dt.timedelta
    group_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Feedback:
        return cls(
            delay=dt.timedelta(seconds=settings.quality_feedback_delay_seconds),
            group_size=settings.quality_feedback_group_size,
        )

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """Attempts submitted before this are old enough: now - delay, rounded down to the
        clock's step (an hour, or the delay when shorter)."""
        edge = now - self.delay
        step = min(HOUR, self.delay)
        if not step:
            return edge
        return _EPOCH + (edge - _EPOCH) // step * step


@dataclass(frozen=True, slots=True)
class Group:
    """`group_size` consecutive scored attempts, dated by the hour of the last one."""

    at: dt.datetime
    scores: tuple[float, ...]
    passed: int


_SCORED = (
    select(A.score, A.passed, A.submitted_at)
    .where(
        A.project_id == bindparam("b_project"),
        A.user_id == bindparam("uid"),
        A.kind == "evaluation",
        A.score.is_not(None),
        A.submitted_at.is_not(None),
        A.submitted_at >= bindparam("since"),
    )
    .order_by(A.submitted_at, A.id)
)


def released_groups(
    conn: Connection,
    *,
    project_id: str,
    user_id: str,
    feedback: Feedback,
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> list[Group]:
    """The labeler's released groups, oldest first; groups are formed from `since` on (a
    re-qualification starts them afresh)."""
    cutoff = feedback.cutoff(now)
    rows = conn.execute(
        _SCORED, {"b_project": project_id, "uid": user_id, "since": since or _EPOCH}
    ).all()
    size = feedback.group_size
    groups = []
    for start in range(0, len(rows) - size + 1, size):
        members = rows[start : start + size]
        last = members[-1].submitted_at
        if last >= cutoff:
            break
        groups.append(
            Group(
                at=last.replace(minute=0, second=0, microsecond=0),
                scores=tuple(row.score for row in members),
                passed=sum(1 for row in members if row.passed),
            )
        )
    return groups


def accuracy_of(groups: Sequence[Group]) -> tuple[float | None, int, int]:
    """(mean score, attempts, passes) over the groups."""
    scores = [score for group in groups for score in group.scores]
    passed = sum(group.passed for group in groups)
    return (sum(scores) / len(scores) if scores else None), len(scores), passed


def recent_window(groups: Sequence[Group], rolling_window: int) -> list[Group]:
    """The latest groups that fit the project's rolling window (at least one group)."""
    if not groups:
        return []
    size = len(groups[0].scores)
    return list(groups[-max(1, rolling_window // size) :])


def apply_to_dashboard(
    labeler: LabelerQuality,
    series: Sequence[SeriesPoint],
    groups: Sequence[Group],
    unit: str,
) -> None:
    """Replace the exact evaluation figures of a labeler's own dashboard by the released
    groups' (those dated within its window)."""
    accuracy, count, passed = accuracy_of(groups)
    labeler.evaluated, labeler.evaluation_passed = count, passed
    labeler.evaluation_accuracy = accuracy
    step = HOUR if unit == "hour" else dt.timedelta(days=1)
    for point in series:
        inside = [group for group in groups if point.start <= group.at < point.start + step]
        point.evaluation_accuracy, point.evaluated, _ = accuracy_of(inside)
