"""Progress, context and review (issue 15 §3 items 4 and 5) in a real browser against a real
`assay serve`: "task N of M · batch · done today" and the file name in the workspace, the
previous task to look at again, work by stage with a throughput sparkline on the overview; in
review, who labeled the task, how long it took, the round and what changed against the
pre-labels, why there is nothing to review, and no Review buttons for labelers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import screenshot, unique
from tests.web.test_image import Seeder, drag, log_in, open_workspace

REVIEWED = {"stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]}
TAXONOMY = {
    "labels": [{"name": "car", "geometries": ["box"]}, {"name": "person", "geometries": ["box"]}]
}


def car(id_: str, x: float, **extra: Any) -> dict[str, Any]:
    box = {"id": id_, "type": "box", "label": "car", "x": x, "y": 230, "width": 200, "height": 100}
    return {**box, **extra}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def seeder(live_server, manager) -> Iterator[Seeder]:
    seeder = Seeder(live_server.url, manager)
    yield seeder
    seeder.http.close()


def batch_project(
    seeder: Seeder,
    members: list[tuple[Any, str]],
    count: int,
    *,
    batch: str = "Week 12",
    pipeline: dict[str, Any] | None = None,
    prelabels: dict[str, Any] | None = None,
) -> tuple[str, list[str]]:
    """A project with one finalized batch (named `batch`, unique in the workspace) of `count`
    image tasks."""
    body: dict[str, Any] = {
        "name": unique("Street scenes"),
        "task_type": "image",
        "taxonomy": TAXONOMY,
    }
    if pipeline:
        body["pipeline"] = pipeline
    project = seeder.ok(seeder.http.post("/projects", json=body))
    pid = project["id"]
    for account, role in members:
        seeder.ok(
            seeder.http.put(f"/projects/{pid}/members/{account.user.id}", json={"role": role})
        )
    batch = seeder.ok(seeder.http.post(f"/projects/{pid}/batches", json={"name": batch}))
    tasks = [
        seeder.image_task(**({"prelabels": prelabels} if prelabels else {})) for _ in range(count)
    ]
    created = seeder.ok(
        seeder.http.post(f"/projects/{pid}/tasks/bulk", json={"batch": batch["id"], "tasks": tasks})
    )
    seeder.ok(seeder.http.post(f"/batches/{batch['id']}/finalize"))
    return pid, [t["id"] for t in created["tasks"]]


def work(
    url: str, account, pid: str, stage: str, answer: dict[str, Any] | None, times: int
) -> None:
    """Lease and submit (label) or accept (review) `times` tasks through the API."""
    with httpx.Client(base_url=url + "/api/v1", headers=account.headers, timeout=30) as http:
        for _ in range(times):
            lease = http.post(f"/projects/{pid}/queue/next", params={"stage": stage}).json()
            token = {"lease_token": lease["lease_token"]}
            if stage == "review":
                done = http.post(
                    f"/tasks/{lease['task']['id']}/review", json={**token, "decision": "accept"}
                )
            else:
                done = http.post(
                    f"/tasks/{lease['task']['id']}/submit", json={**token, "response": answer}
                )
            assert done.status_code == 200, done.text


def test_the_workspace_says_where_the_task_is_and_opens_the_previous_one(
    page, live_server, seeder, accounts
):
    labeler = accounts.make("labeler")
    pid, ids = batch_project(seeder, [(labeler, "labeler")], 3)
    open_workspace(page, live_server.url, labeler, type("P", (), {"id": pid})())
    bar = page.locator(".lb-context")
    expect(bar).to_contain_text("task 1 of 3 · Week 12 · 0 done today")
    expect(bar.locator(".lb-file")).to_have_text("street.png")
    page.get_by_role("button", name="← Previous task").click()
    expect(page.get_by_text("You have not submitted a task in this project yet.")).to_be_visible()

    page.locator(".iw-stage").focus()
    page.keyboard.press("b")
    drag(page, (100, 220), (310, 370))
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator(".labeling")).to_have_attribute("data-task-id", ids[1])
    expect(bar).to_contain_text("task 2 of 3 · Week 12 · 1 done today")
    page.evaluate("document.getElementById('toasts')?.replaceChildren()")
    screenshot(page, "workspace-context")

    page.get_by_role("button", name="← Previous task").click()
    dialog = page.get_by_role("dialog", name="Your previous task")
    expect(dialog).to_contain_text("street.png")
    expect(dialog.get_by_role("list")).to_have_text("box car")
    expect(dialog.get_by_role("img")).to_be_visible()
    expect(dialog).to_contain_text("Read-only")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)


def test_the_overview_counts_tasks_by_stage_with_a_sparkline(
    page, live_server, seeder, accounts, manager
):
    labeler = accounts.make("labeler")
    reviewer = accounts.make("reviewer")
    pid, _ = batch_project(
        seeder,
        [(labeler, "labeler"), (reviewer, "reviewer")],
        4,
        batch="Week 13",
        pipeline=REVIEWED,
    )
    work(live_server.url, labeler, pid, "label", {"annotations": [car("c", 100)]}, 3)
    work(live_server.url, reviewer, pid, "review", None, 1)
    log_in(page, live_server.url, manager, f"/projects/{pid}")
    table = page.get_by_role("table", name="Tasks by stage")
    expect(table.locator('tr[data-stage="label"] td')).to_have_text(["label label", "1", "0"])
    expect(table.locator('tr[data-stage="review"] td')).to_have_text(["review review", "2", "0"])
    expect(table.locator('[data-status="completed"]')).to_have_text("1")
    throughput = page.get_by_role("group", name="Throughput")
    expect(throughput).to_contain_text("1 completed in the last 14 days · 1 today")
    expect(throughput.locator(".sparkline canvas")).to_have_count(1)
    page.evaluate("document.getElementById('toasts')?.replaceChildren()")
    screenshot(page, "manager-overview-stages")


def test_review_shows_labeler_time_round_and_diff_and_why_nothing_is_left(
    browser, page, live_server, seeder, accounts
):
    labeler = accounts.make("labeler")
    self_reviewer = accounts.make("reviewer")
    reviewer = accounts.make("reviewer")
    pid, _ = batch_project(
        seeder,
        [(labeler, "labeler"), (self_reviewer, "reviewer"), (reviewer, "reviewer")],
        2,
        batch="Week 14",
        pipeline=REVIEWED,
        prelabels={"annotations": [car("p1", 100)]},
    )
    # The labeler moved the pre-labeled car and added a person.
    person = {
        "id": "n1",
        "type": "box",
        "label": "person",
        "x": 440,
        "y": 110,
        "width": 50,
        "height": 195,
    }
    work(live_server.url, self_reviewer, pid, "label", {"annotations": [car("p1", 110), person]}, 2)

    # Who labeled both tasks cannot review them, and is told so.
    log_in(page, live_server.url, self_reviewer, f"/review/{pid}?stage=review")
    expect(page.get_by_role("heading", name="Nothing to review")).to_be_visible()
    expect(page.locator(".lb-empty p").first).to_have_text(
        "2 tasks await review, but you labeled them: someone else has to review them. "
        "You did 2 tasks here today."
    )

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        log_in(tab, live_server.url, reviewer, f"/review/{pid}?stage=review")
        facts = tab.locator(".lb-review-facts")
        expect(facts).to_contain_text(f"Labeled by Reviewer ({self_reviewer.user.email})")
        expect(facts).to_contain_text("Time spent:")
        expect(facts).to_contain_text("First round")
        diff = tab.locator(".review-diff")
        expect(diff.locator("summary")).to_have_text(
            "Compared with the pre-labels: 1 added, 0 removed, 1 changed"
        )
        expect(diff.locator(".diff-added")).to_have_text("+ added box person")
        expect(diff.locator(".diff-changed")).to_have_text("~ changed box car (x)")
        expect(tab.locator(".lb-context")).to_contain_text("task 1 of 2 · Week 14 · 0 done today")
        expect(tab.locator(".image-ws[data-ready] .iw-stage[data-view]")).to_be_visible()
        screenshot(tab, "workspace-review-context")
    finally:
        context.close()

    # No Review buttons for a labeler; a reviewer has them.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        log_in(tab, live_server.url, labeler, "/projects")
        card = tab.get_by_role("listitem").filter(has_text="Street scenes")
        expect(card.get_by_role("link", name="Start labeling · Street scenes")).to_be_visible()
        expect(card.get_by_role("link", name="Review · Street scenes")).to_have_count(0)
        tab.goto(f"{live_server.url}/projects/{pid}")
        expect(tab.get_by_role("link", name="Start labeling")).to_be_visible()
        expect(tab.get_by_role("link", name="Review (review)")).to_have_count(0)
    finally:
        context.close()
    page.goto(f"{live_server.url}/projects/{pid}")
    expect(page.get_by_role("link", name="Review (review)")).to_be_visible()
