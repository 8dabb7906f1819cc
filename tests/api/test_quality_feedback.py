"""The gold side channel: what a labeler reads of their own quality (`/me/quality`, their
dashboard as the page asks for it) is the same before and after submitting an evaluation task,
passed or failed; evaluation results reach it late and in groups, while the project's managers
see each one at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.test_quality import (
    gold_box,
    project_with,
    quality_tasks,
    real_tasks,
    submit,
    wrong_box,
)
from tests.api.test_queue import API, member, next_lease

# What every submission moves alike, real or evaluation: it is work, with its time.
WORK_FIGURES = (
    "submitted",
    "active_hours",
    "throughput_per_hour",
    "tasks_per_hour",
    "median_time_ms",
    "mean_time_ms",
)
PERIODS = (1, 7, 30, 90)  # the dashboard's period menu


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def readable(client, labeler, project_id: str) -> dict[str, Any]:
    """Everything the labeler can read about their own quality in the project."""
    found = {
        "standing": client.get(f"{API}/projects/{project_id}/me/quality", headers=labeler.headers)
    }
    for days in PERIODS:
        found[days] = client.get(
            f"{API}/projects/{project_id}/quality/labelers/{labeler.user.id}",
            params={"days": days},
            headers=labeler.headers,
        )
    for response in found.values():
        assert response.status_code == 200, response.text
    return {key: response.json() for key, response in found.items()}


def beyond_work(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures without the clock (the dashboard's window ends now) and without the work
    counts every submit moves, gold or not."""
    figures = copy.deepcopy(figures)
    for days in PERIODS:
        board = figures[days]
        for key in ("start", "end"):
            board.pop(key)
        for entry in (board["labeler"], *board["series"]):
            for key in WORK_FIGURES:
                entry.pop(key, None)
        # The series' buckets follow the clock; what they hold is compared in order.
        board["series"] = [p for p in board["series"] if p.pop("start") and any(p.values())]
    return figures


def submitted(figures: dict[str, Any]) -> list[int]:
    return [figures[days]["labeler"]["submitted"] for days in PERIODS]


def test_a_labeler_cannot_tell_a_gold_submit_or_its_result(client, settings, manager, accounts):
    settings.quality_feedback_group_size = 2
    project = project_with(client, manager, {"evaluation_rate": 1.0, "rolling_window": 10})
    pid = project["id"]
    gold = quality_tasks(client, manager, pid, "evaluation", 3)
    real_tasks(client, manager, pid, 2)
    labeler = member(client, manager, accounts, pid, "labeler")

    def work(answer: dict[str, Any]) -> str:
        lease = next_lease(client, labeler, pid)
        assert lease.status_code == 200, lease.text
        assert submit(client, labeler, lease.json(), answer).status_code == 200
        return lease.json()["task"]["id"]

    before = readable(client, labeler, pid)
    deltas = []
    for answer in (gold_box(), wrong_box()):  # a passed and a failed evaluation task
        assert work(answer) in gold
        after = readable(client, labeler, pid)
        assert beyond_work(after) == beyond_work(before)
        deltas.append([a - b for a, b in zip(submitted(after), submitted(before), strict=True)])
        before = after
    mine = before["standing"]
    assert (mine["evaluated"], mine["accuracy"]) == (0, None)
    assert (mine["feedback_delay_seconds"], mine["feedback_group_size"]) == (6 * 3600.0, 2)
    assert before[30]["recent_attempts"] == [] and before[30]["precise_times"] is False

    # The project's managers see each result at once, attempt by attempt.
    board = client.get(
        f"{API}/projects/{pid}/quality/labelers/{labeler.user.id}", headers=manager.headers
    ).json()
    assert [a["score"] for a in board["recent_attempts"]] == [0.0, 1.0]
    assert board["labeler"]["evaluated"] == 2 and board["feedback_group_size"] is None
    workers = client.get(f"{API}/projects/{pid}/workers", headers=manager.headers).json()
    assert [(w["evaluated"], w["accuracy"]) for w in workers] == [(2, 0.5)]
    rows = client.get(f"{API}/projects/{pid}/quality/overview", headers=manager.headers).json()
    assert rows["labelers"][0]["evaluation_accuracy"] == 0.5

    # Past the delay, the group of two counts: its mean, never one task's score.
    settings.quality_feedback_delay_seconds = 0
    released = readable(client, labeler, pid)
    assert (released["standing"]["evaluated"], released["standing"]["accuracy"]) == (2, 0.5)
    for days in PERIODS:
        labeler_figures = released[days]["labeler"]
        assert (labeler_figures["evaluated"], labeler_figures["evaluation_passed"]) == (2, 1)
        assert labeler_figures["evaluation_accuracy"] == 0.5
        assert [p["evaluated"] for p in released[days]["series"] if p["evaluated"]] == [2]
        assert released[days]["recent_attempts"] == []

    # A third result alone is no group: nothing moves, even with no delay; a real submit
    # moves the work counts exactly as the gold ones did.
    for answer, expected_gold in ((gold_box(), True), (gold_box(), False)):
        assert (work(answer) in gold) is expected_gold
        after = readable(client, labeler, pid)
        assert beyond_work(after) == beyond_work(released)
        deltas.append([a - b for a, b in zip(submitted(after), submitted(released), strict=True)])
        released = after
    assert deltas == [[1] * len(PERIODS)] * 4


def test_reviewers_and_managers_read_their_own_figures_exactly(client, settings, manager, accounts):
    project = project_with(client, manager, {"evaluation_rate": 1.0})
    pid = project["id"]
    quality_tasks(client, manager, pid, "evaluation", 1)
    reviewer = member(client, manager, accounts, pid, "reviewer")
    lease = next_lease(client, reviewer, pid).json()
    assert submit(client, reviewer, lease, gold_box()).status_code == 200
    mine = client.get(f"{API}/projects/{pid}/me/quality", headers=reviewer.headers).json()
    assert (mine["evaluated"], mine["accuracy"], mine["feedback_group_size"]) == (1, 1.0, None)
