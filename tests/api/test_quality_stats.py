"""The quality overview and labeler dashboards over HTTP: who may read what, and that a labeler
reading their own dashboard gets no more than their own numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.labeling.quality_stats_seed import Seeded, seed

API = "/api/v1"


@pytest.fixture
def seeded(client, db, accounts) -> Seeded:
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()
    return seed(client, API, db, accounts, yesterday)


def overview(client, seeded: Seeded, who, **params):
    return client.get(
        f"{API}/projects/{seeded.project_id}/quality/overview", params=params, headers=who.headers
    )


def dashboard(client, seeded: Seeded, who, user_id: str, **params):
    return client.get(
        f"{API}/projects/{seeded.project_id}/quality/labelers/{user_id}",
        params=params,
        headers=who.headers,
    )


def test_managers_and_reviewers_read_the_overview_labelers_do_not(client, seeded, accounts):
    for who in (seeded.manager, seeded.reviewer, accounts.make("admin")):
        response = overview(client, seeded, who)
        assert response.status_code == 200, response.text
        rows = {row["user_id"]: row for row in response.json()["labelers"]}
        assert rows[seeded.a.user.id]["submitted"] == 6
        assert rows[seeded.a.user.id]["status"] == "paused"
        assert rows[seeded.b.user.id]["review_pass_rate"] == 1.0
    denied = overview(client, seeded, seeded.a)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    # Someone outside the project does not learn that it exists.
    assert overview(client, seeded, accounts.make("labeler")).status_code == 404


def test_overview_window(client, seeded):
    body = overview(client, seeded, seeded.manager, since=seeded.at(12).isoformat()).json()
    rows = {row["user_id"]: row for row in body["labelers"]}
    assert rows[seeded.a.user.id]["submitted"] == 2 and body["totals"]["submitted"] == 4
    naive = overview(client, seeded, seeded.manager, since="2025-01-01T00:00:00")
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "since"


def test_a_labeler_reads_their_own_dashboard_only(client, settings, seeded, accounts):
    settings.quality_feedback_group_size = 2  # A's two results (yesterday) make one group
    own = dashboard(client, seeded, seeded.a, seeded.a.user.id)
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["labeler"]["submitted"] == 6 and body["labeler"]["evaluation_accuracy"] == 0.75
    assert body["bucket"] == "day" and sum(p["submitted"] for p in body["series"]) == 6
    # Their own view has evaluation results in groups only, none listed one by one
    # (tests/api/test_quality_feedback.py).
    assert body["precise_times"] is False and body["recent_attempts"] == []
    assert body["feedback_group_size"] == 2
    for secret in ("e1", "e2", "e3"):
        assert seeded.tasks[secret] not in own.text
    assert "expected" not in own.text

    other = dashboard(client, seeded, seeded.a, seeded.b.user.id)
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    assert dashboard(client, seeded, seeded.c, seeded.a.user.id).status_code == 403
    outsider = accounts.make("labeler")
    assert dashboard(client, seeded, outsider, outsider.user.id).status_code == 404


def test_managers_and_reviewers_read_anyones_dashboard(client, seeded):
    for who in (seeded.manager, seeded.reviewer):
        response = dashboard(client, seeded, who, seeded.b.user.id, days=2)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["bucket"] == "hour" and body["precise_times"] is True
        assert body["labeler"]["submitted"] == 4
        assert [a["score"] for a in body["recent_attempts"]] == [0.0]
        assert body["recent_attempts"][0]["duration_ms"] == 20000.0
    missing = dashboard(client, seeded, seeded.manager, "nobody")
    assert missing.status_code == 404
    too_long = dashboard(client, seeded, seeded.manager, seeded.b.user.id, days=0)
    assert too_long.status_code == 422
