"""The quality pages in a real browser against a real `assay serve`: the manager's Quality tab
(labelers with their numbers, pause and re-qualify, evaluation tasks with retire and recycle,
the quality settings) and a labeler's dashboard with its charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.labeling.quality_stats_seed import Seeded, seed
from tests.web.conftest import screenshot

API = "/api/v1"


@pytest.fixture(scope="module")
def module_settings(module_settings):
    """A's two evaluation results (yesterday, long past the delay) make one group."""
    module_settings.quality_feedback_group_size = 2
    return module_settings


@pytest.fixture
def seeded(live_server, db, accounts) -> Iterator[Seeded]:
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield seed(client, API, db, accounts, yesterday)


def log_in(page, url: str, account, next_path: str) -> list[str]:
    """Log in through the form; returns the list collecting JS dialogs and errors (none due)."""
    problems: list[str] = []
    page.on("dialog", lambda dialog: (problems.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{url}/login?next={next_path}")
    page.get_by_label("Email").fill(account.user.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    return problems


def shot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0); document.getElementById('toasts')?.replaceChildren()")
    screenshot(page, name)


def test_manager_sees_labelers_and_acts_on_them(page, live_server, seeded):
    problems = log_in(page, live_server.url, seeded.manager, f"/projects/{seeded.project_id}")
    page.get_by_role("tab", name="Quality").click()
    labelers = page.get_by_role("table", name="Labelers")
    a_row = labelers.locator(f'tr[data-user="{seeded.a.user.id}"]')
    b_row = labelers.locator(f'tr[data-user="{seeded.b.user.id}"]')
    expect(a_row.locator('[data-col="submitted"]')).to_have_text("6")
    expect(a_row.locator('[data-col="throughput"]')).to_have_text("1.5")
    expect(a_row.locator('[data-col="time"]')).to_have_text("35 s")
    expect(a_row.locator('[data-col="accuracy"]')).to_have_text("75%2 evaluated")
    expect(a_row.locator('[data-col="review"]')).to_have_text("50%4 reviewed")
    expect(a_row.locator('[data-col="audit"]')).to_have_text("50%2 audited")
    expect(a_row.locator('[data-col="status"]')).to_contain_text("paused")
    expect(a_row.locator('[data-col="status"]')).to_contain_text("rolling accuracy 0.40")
    expect(b_row.locator('[data-col="submitted"]')).to_have_text("4")
    expect(b_row.locator('[data-col="throughput"]')).to_have_text("2")
    expect(b_row.locator('[data-col="time"]')).to_have_text("30 s")
    expect(b_row.locator('[data-col="review"]')).to_have_text("100%3 reviewed")
    expect(b_row.locator('[data-col="status"]')).to_have_text("active")
    expect(
        labelers.locator(f'tr[data-user="{seeded.c.user.id}"] [data-col="submitted"]')
    ).to_have_text("0")
    evaluation = page.get_by_role("table", name="Evaluation tasks")
    expect(evaluation.locator("tbody tr")).to_have_count(3)
    expect(evaluation.locator("tbody tr").first).to_contain_text(seeded.tasks["e2"])
    expect(evaluation.locator("tbody tr").first).to_contain_text("0%")
    shot(page, "quality-manager")

    # Pause B (with a reason), re-qualify A.
    page.get_by_role("button", name=f"Pause {seeded.b.user.email}").click()
    page.get_by_role("dialog").get_by_label("Reason").fill("too many rejected reviews")
    page.get_by_role("dialog").get_by_role("button", name="Pause").click()
    expect(b_row.locator('[data-col="status"]')).to_contain_text("too many rejected reviews")
    page.get_by_role("button", name=f"Re-qualify {seeded.a.user.email}").click()
    page.get_by_role("dialog").get_by_role("button", name="Re-qualify").click()
    expect(a_row.locator('[data-col="status"]')).to_have_text("active")

    # Retire an evaluation task, then serve it again.
    e1 = seeded.tasks["e1"]
    page.get_by_role("button", name=f"Retire {e1}").click()
    expect(evaluation.locator(f'tr[data-task="{e1}"]')).to_contain_text("retired")
    page.get_by_role("button", name=f"Recycle {e1}").click()
    expect(evaluation.locator(f'tr[data-task="{e1}"]')).to_contain_text("active")

    # Quality settings go through the project update.
    settings = page.get_by_role("form", name="Quality settings")
    settings.get_by_label("Evaluation rate (%)").fill("10")
    settings.get_by_label("Pause below accuracy (%)").fill("60")
    settings.get_by_role("button", name="Save quality settings").click()
    expect(page.get_by_role("status")).to_contain_text("Quality settings saved")
    settings.get_by_label("Labelers per task").fill("0")
    settings.get_by_role("button", name="Save quality settings").click()
    expect(settings.locator(".field-error")).to_contain_text("Labelers per task:")
    expect(settings.locator(".field-error")).not_to_contain_text("consensus.labelers")
    with httpx.Client(base_url=live_server.url + API, headers=seeded.manager.headers) as api:
        stored = api.get(f"/projects/{seeded.project_id}").json()["quality"]
        workers = {
            w["user_id"]: w for w in api.get(f"/projects/{seeded.project_id}/workers").json()
        }
    assert stored["evaluation_rate"] == 0.1 and stored["pause_below"] == 0.6
    assert stored["consensus"]["labelers"] == 1
    assert workers[seeded.b.user.id]["status"] == "paused"
    assert workers[seeded.a.user.id]["status"] == "active"
    assert problems == []


def chart_pixels(page, title: str) -> int:
    """Painted pixels on a chart's canvas: proves uPlot drew the series, not just the frame."""
    return page.evaluate(
        """(title) => {
            const figure = [...document.querySelectorAll("figure.chart")]
                .find((f) => f.querySelector("figcaption").textContent === title);
            const canvas = figure.querySelector("canvas");
            const { width, height } = canvas;
            const { data } = canvas.getContext("2d").getImageData(0, 0, width, height);
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
            return painted;
        }""",
        title,
    )


def test_labeler_dashboard_draws_charts(page, live_server, seeded):
    path = f"/dashboard/{seeded.project_id}"
    problems = log_in(page, live_server.url, seeded.a, path)
    expect(page.get_by_role("heading", name="Your quality dashboard")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="You are paused")).to_contain_text(
        "rolling accuracy 0.40 is below 0.60"
    )
    titles = ["Tasks per hour", "Time per task (median)", "Evaluation accuracy", "Review pass rate"]
    for title in titles:
        figure = page.get_by_role("group", name=title)
        expect(figure.locator("canvas").first).to_be_visible()
        assert int(figure.get_attribute("data-points")) == 1  # one day with work
        assert chart_pixels(page, title) > 500
    # Their own results only in groups, never one by one (quality_feedback).
    expect(page.get_by_role("table", name="Recent evaluation attempts")).to_have_count(0)
    expect(page.locator("[data-feedback=grouped]")).to_have_text(
        "Your evaluation results count here in groups of 2, at least 6 hours after you submit "
        "them, so no single task's result is shown."
    )
    figure = page.get_by_role("group", name="Evaluation accuracy")
    figure.get_by_text("Numbers").click()
    expect(figure.get_by_role("table")).to_contain_text("75%")
    shot(page, "quality-dashboard")

    # The Quality tab of the project shows a labeler the same, their own.
    page.goto(f"{live_server.url}/projects/{seeded.project_id}?tab=quality")
    expect(page.get_by_role("heading", name="Your quality")).to_be_visible()
    expect(page.get_by_role("table", name="Labelers")).to_have_count(0)

    # Someone else's dashboard is refused.
    page.goto(f"{live_server.url}{path}?user={seeded.b.user.id}")
    expect(page.get_by_role("alert")).to_contain_text("their own quality dashboard only")
    assert problems == []


def test_manager_opens_a_labelers_dashboard(page, live_server, seeded):
    problems = log_in(page, live_server.url, seeded.manager, f"/projects/{seeded.project_id}")
    page.get_by_role("tab", name="Quality").click()
    labelers = page.get_by_role("table", name="Labelers")
    labelers.locator(f'tr[data-user="{seeded.b.user.id}"] a').click()
    expect(page).to_have_url(
        f"{live_server.url}/dashboard/{seeded.project_id}?user={seeded.b.user.id}"
    )
    expect(page.get_by_role("heading", name="Quality dashboard: Labeler")).to_be_visible()
    attempts = page.get_by_role("table", name="Recent evaluation attempts")
    expect(attempts.locator("tbody tr")).to_have_count(1)
    expect(attempts.locator("tbody tr").first).to_contain_text("20 s")  # managers see times
    page.get_by_label("Period").select_option("7")
    expect(page).to_have_url(
        f"{live_server.url}/dashboard/{seeded.project_id}?user={seeded.b.user.id}&days=7"
    )
    expect(page.get_by_role("group", name="Tasks per hour")).to_have_attribute("data-points", "1")
    shot(page, "quality-manager-dashboard")
    assert problems == []
