"""The data lead's pages in a real browser against a real `assay serve` (issue 15, §3 items 2,
3 and 10): exports from a batch and the project with progress and downloads; the task table
as a data manager (sort, selection with Shift ranges, bulk actions all or nothing, a task's
detail drawing each version of the answer and who did each step); gold made from any task with
an edited expected answer, shown in the Quality tab; and a labeler's note on the instructions
reaching the calibration report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import screenshot
from tests.web.test_image import HEIGHT, WIDTH, street_png

API = "/api/v1"
TAXONOMY = {"labels": [{"name": "car", "geometries": ["box"]}]}
REVIEWED = {"stages": [{"name": "label", "kind": "label"}, {"name": "qa", "kind": "review"}]}


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def api(live_server, manager) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + API, headers=manager.headers, timeout=30) as c:
        yield c


def as_user(live_server, account) -> httpx.Client:
    return httpx.Client(base_url=live_server.url + API, headers=account.headers, timeout=30)


def who(account) -> str:
    """How the pages name a person: their name, else their email."""
    return account.user.name or account.user.email


def log_in(page, url: str, account, path: str) -> None:
    page.goto(url + path)
    page.get_by_label("Email").fill(account.user.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()


def shot(page, name: str) -> None:
    page.evaluate("document.getElementById('toasts')?.replaceChildren()")
    screenshot(page, name)


def box(x: int, label: str = "car") -> dict[str, Any]:
    return {"type": "box", "label": label, "x": x, "y": 100, "width": 120, "height": 90}


def image_task(i: int, **extra: Any) -> dict[str, Any]:
    params = {
        "attachment": f"https://example.test/street-{i}.jpg",
        "image_width": WIDTH,
        "image_height": HEIGHT,
    }
    return {"params": params, "metadata": {"n": i}, **extra}


def project_with_batch(api, name: str, tasks: list[dict[str, Any]], **extra: Any):
    project = ok(
        api.post(
            "/projects", json={"name": name, "task_type": "image", "taxonomy": TAXONOMY, **extra}
        )
    )
    batch = ok(api.post(f"/projects/{project['id']}/batches", json={"name": f"{name} b1"}))
    created = ok(
        api.post(
            f"/projects/{project['id']}/tasks/bulk", json={"batch": batch["id"], "tasks": tasks}
        )
    )
    ok(api.post(f"/batches/{batch['id']}/finalize"))
    return project, batch, [t["id"] for t in created["tasks"]]


def join(api, project, account, role: str) -> None:
    ok(api.put(f"/projects/{project['id']}/members/{account.user.id}", json={"role": role}))


def label(client: httpx.Client, project, response: dict[str, Any], stage: str = "label"):
    lease = ok(client.post(f"/projects/{project['id']}/queue/next", params={"stage": stage}))
    body = {"lease_token": lease["lease_token"], "response": response}
    ok(client.post(f"/tasks/{lease['task']['id']}/submit", json=body))
    return lease["task"]["id"]


def test_export_a_batch_and_the_project_and_download_the_files(
    page, live_server, manager, api, accounts
):
    project, batch, ids = project_with_batch(
        api, "Exported streets", [image_task(i) for i in range(3)]
    )
    labeler = accounts.make("labeler")
    join(api, project, labeler, "labeler")
    with as_user(live_server, labeler) as client:
        done = [label(client, project, {"annotations": [box(10 + i)]}) for i in range(2)]

    log_in(page, live_server.url, manager, f"/projects/{project['id']}")
    page.evaluate("window.__same_page = true")
    page.get_by_role("button", name=f"Export {batch['name']}").click()
    dialog = page.get_by_role("dialog", name=f"Export batch “{batch['name']}”")
    dialog.get_by_label("Format").select_option("coco")
    dialog.get_by_role("button", name="Export").click()
    expect(page.get_by_role("tab", name="Exports")).to_have_attribute("aria-selected", "true")
    table = page.get_by_role("table", name="Exports")
    finished = table.locator("tr[data-status=succeeded]")
    expect(finished).to_have_count(1, timeout=30_000)  # polled: no reload
    expect(finished).to_contain_text("COCO")
    expect(finished).to_contain_text("2 tasks")
    expect(finished.locator("progress")).to_have_attribute("value", "100")
    link = finished.get_by_role("link", name="Download")
    coco = json.loads(page.request.get(link.evaluate("a => a.href")).body())
    assert len(coco["images"]) == 2
    assert len(coco["annotations"]) == 2

    # The header's Export: the whole project, every task, as JSONL.
    page.get_by_role("button", name="Export", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Export project “{project['name']}”")
    dialog.get_by_label("Format").select_option("jsonl")
    dialog.get_by_label("Tasks").select_option("all")
    dialog.get_by_role("button", name="Export").click()
    expect(table.locator("tr[data-status=succeeded]")).to_have_count(2, timeout=30_000)
    newest = table.locator("tbody tr").first
    expect(newest).to_contain_text("whole project (every task)")
    lines = page.request.get(newest.get_by_role("link", name="Download").evaluate("a => a.href"))
    exported = [json.loads(line) for line in lines.text().splitlines()]
    assert sorted(row["task_id"] for row in exported) == sorted(ids)
    assert {row["task_id"] for row in exported if row.get("response")} == set(done)
    assert page.evaluate("window.__same_page") is True
    shot(page, "manager-exports")


def test_the_task_table_sorts_selects_acts_in_bulk_and_shows_a_task(
    page, live_server, manager, api, accounts
):
    sha = ok(api.post("/blobs", files={"file": ("street.png", street_png(), "image/png")}))[
        "sha256"
    ]
    street = {
        "unique_id": "street",
        "priority": 9,
        "params": {"attachment": f"blob:{sha}", "image_width": WIDTH, "image_height": HEIGHT},
    }
    priorities = [0, 5, 1, 4, 2]
    project, _, ids = project_with_batch(
        api,
        "Managed streets",
        [street, *(image_task(i, priority=p) for i, p in enumerate(priorities))],
        pipeline=REVIEWED,
    )
    street_id, rest = ids[0], ids[1:]
    second = ok(api.post(f"/projects/{project['id']}/batches", json={"name": "second"}))
    labeler, reviewer = accounts.make("labeler"), accounts.make("reviewer")
    join(api, project, labeler, "labeler")
    join(api, project, reviewer, "reviewer")
    with as_user(live_server, labeler) as client:
        assert label(client, project, {"annotations": [box(100)]}) == street_id
        # A draft in progress on the next task (the highest priority left).
        lease = ok(client.post(f"/projects/{project['id']}/queue/next"))
        draft = {"lease_token": lease["lease_token"], "response": {"annotations": [box(30)]}}
        ok(client.put(f"/tasks/{lease['task']['id']}/draft", json=draft))
    with as_user(live_server, reviewer) as client:
        review = ok(client.post(f"/projects/{project['id']}/queue/next", params={"stage": "qa"}))
        fix = {"annotations": [box(100), box(400)]}
        ok(
            client.post(
                f"/tasks/{street_id}/review",
                json={"lease_token": review["lease_token"], "decision": "fix", "response": fix},
            )
        )

    log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=tasks")
    table = page.get_by_role("table", name="Tasks")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(6)

    # Column sort: by priority, high first, then low first (the server's keyset order).
    table.get_by_role("button", name="Priority").click()
    expect(table.locator("th[data-sort=priority]")).to_have_attribute("aria-sort", "descending")
    expect(rows.first).to_have_attribute("data-task", street_id)
    order = [street_id, *[rest[i] for i in sorted(range(5), key=lambda i: -priorities[i])]]
    expect(rows).to_have_count(6)
    assert [rows.nth(i).get_attribute("data-task") for i in range(6)] == order
    table.get_by_role("button", name="Priority").click()
    expect(table.locator("th[data-sort=priority]")).to_have_attribute("aria-sort", "ascending")
    expect(rows.first).to_have_attribute("data-task", rest[0])
    ascending = [rows.nth(i).get_attribute("data-task") for i in range(6)]
    assert ascending == order[::-1]

    # Selection: a click, then Shift+click selects the range; one request sets the priority.
    boxes = table.locator("input[data-select]")
    boxes.nth(1).click()
    boxes.nth(3).click(modifiers=["Shift"])
    toolbar = page.get_by_role("toolbar", name="Selected tasks")
    expect(toolbar).to_contain_text("3 selected")
    chosen = ascending[1:4]
    toolbar.get_by_role("button", name="Set priority…").click()
    dialog = page.get_by_role("dialog", name="Set the priority")
    dialog.get_by_label("Priority").fill("7")
    dialog.get_by_role("button", name="Set priority").click()
    expect(toolbar).to_be_hidden()
    for task_id in chosen:
        expect(table.locator(f"tr[data-task='{task_id}'] td.num")).to_have_text("7")
    assert {ok(api.get(f"/tasks/{t}"))["priority"] for t in chosen} == {7}

    # The whole page at once; cancel fails on the completed task, naming it, changing nothing.
    table.get_by_label("Select every task shown").check()
    expect(toolbar).to_contain_text("6 selected")
    shot(page, "manager-tasks-selection")
    toolbar.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog").get_by_role("button", name="Go ahead").click()
    expect(page.get_by_role("alert").filter(has_text="Nothing was changed")).to_contain_text(
        street_id
    )
    statuses = [ok(api.get(f"/tasks/{t}"))["status"] for t in ids]
    assert statuses.count("pending") == 5 and statuses.count("completed") == 1

    # Move two pending tasks to the staging batch, cancel them, then put them back.
    toolbar.get_by_role("button", name="Clear selection").click()
    pair = [t for t in ascending if t != street_id][:2]
    for task_id in pair:
        table.locator(f"input[data-select='{task_id}']").check()
    toolbar.get_by_role("button", name="Move to batch…").click()
    dialog = page.get_by_role("dialog", name="Move to another batch")
    dialog.get_by_label("Batch").select_option(second["id"])
    dialog.get_by_role("button", name="Move").click()
    expect(page.get_by_text("2 tasks moved to second")).to_be_visible()
    assert {ok(api.get(f"/tasks/{t}"))["batch_id"] for t in pair} == {second["id"]}
    for task_id in pair:
        table.locator(f"input[data-select='{task_id}']").check()
    toolbar.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog").get_by_role("button", name="Go ahead").click()
    expect(table.locator(f"tr[data-task='{pair[0]}']")).to_contain_text("canceled")
    for task_id in pair:
        table.locator(f"input[data-select='{task_id}']").check()
    toolbar.get_by_role("button", name="Re-queue").click()
    page.get_by_role("dialog").get_by_role("button", name="Go ahead").click()
    expect(table.locator(f"tr[data-task='{pair[0]}']")).to_contain_text("pending")
    assert {ok(api.get(f"/tasks/{t}"))["status"] for t in pair} == {"pending"}

    # The detail: the image drawn with each version, and who did each step for how long.
    table.get_by_role("button", name="street", exact=True).click()
    detail = page.get_by_role("dialog", name="Task street")
    versions = detail.get_by_role("radiogroup", name="Version shown")
    expect(versions.get_by_role("radio")).to_have_count(3)
    canvas = detail.locator("canvas.dm-canvas")
    expect(canvas).to_have_attribute("data-shapes", "2")  # the final response (the fix)
    final = canvas.evaluate("c => c.toDataURL()")
    versions.get_by_role("radio", name=f"Submission 1 · {who(labeler)}").click()
    expect(canvas).to_have_attribute("data-shapes", "1")
    assert canvas.evaluate("c => c.toDataURL()") != final
    versions.get_by_role("radio", name=f"Review fix · {who(reviewer)}").click()
    expect(canvas).to_have_attribute("data-shapes", "2")
    steps = detail.get_by_role("table", name="Steps")
    expect(steps.locator("tr[data-action=submit]")).to_contain_text(who(labeler))
    expect(steps.locator("tr[data-action=fix]")).to_contain_text(who(reviewer))
    expect(steps.locator("tr[data-action=submit] td.num")).to_contain_text(" s")
    shot(page, "manager-task-detail")
    page.keyboard.press("Escape")
    # A draft in progress is a version of its own.
    table.locator(f"tr[data-task='{lease['task']['id']}'] button.link").click()
    detail = page.get_by_role("dialog")
    expect(detail.get_by_role("radio", name=f"Draft · {who(labeler)}")).to_be_visible()


def test_gold_from_any_task_in_the_quality_tab_and_a_note_on_the_instructions(
    page, browser, live_server, manager, api, accounts
):
    sha = ok(api.post("/blobs", files={"file": ("street.png", street_png(), "image/png")}))[
        "sha256"
    ]
    street = {"params": {"attachment": f"blob:{sha}", "image_width": WIDTH, "image_height": HEIGHT}}
    project, _, ids = project_with_batch(api, "Gold streets", [street, image_task(2)])
    log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=tasks")
    page.get_by_role("table", name="Tasks").locator(f"tr[data-task='{ids[0]}'] button.link").click()
    page.get_by_role("dialog").get_by_role("button", name="Make gold…").click()
    editor = page.get_by_role("dialog", name="Make a gold or training task")
    answer = editor.get_by_label("Expected answer (JSON)")
    answer.fill(json.dumps({"annotations": [box(50, label="truck")]}))
    editor.get_by_role("button", name="Create").click()
    expect(editor.get_by_role("alert")).to_contain_text("truck")
    expect(answer).to_have_attribute("aria-invalid", "true")
    assert ok(api.get(f"/projects/{project['id']}/quality_tasks"))["items"] == []
    answer.fill(json.dumps({"annotations": [box(50), box(420)]}))
    editor.get_by_role("button", name="Create").click()
    expect(page.locator("#toasts")).to_contain_text("Evaluation task")
    expect(editor).to_have_count(0)
    (gold,) = ok(api.get(f"/projects/{project['id']}/quality_tasks"))["items"]
    assert gold["kind"] == "evaluation" and gold["expected_response"]["annotations"][0]["x"] == 50
    page.keyboard.press("Escape")

    # Bulk from the selection: make gold refuses tasks not yet done, naming the first;
    # the selection exports on its own.
    page.get_by_role("tab", name="Tasks").click()
    table = page.get_by_role("table", name="Tasks")
    table.get_by_label("Select every task shown").check()
    toolbar = page.get_by_role("toolbar", name="Selected tasks")
    toolbar.get_by_role("button", name="Make gold…").click()
    page.get_by_role("dialog", name="Make gold tasks").get_by_role(
        "button", name="Make gold"
    ).click()
    refusal = page.get_by_role("alert").filter(has_text="Nothing was changed")
    expect(refusal).to_contain_text(f"task {ids[1]} is not a completed real task")
    assert len(ok(api.get(f"/projects/{project['id']}/quality_tasks"))["items"]) == 1
    toolbar.get_by_role("button", name="Export…").click()
    chosen = page.get_by_role("dialog", name="Export 2 selected tasks")
    expect(chosen.get_by_label("Tasks")).to_have_value("all")
    chosen.get_by_label("Format").select_option("jsonl")
    chosen.get_by_role("button", name="Export").click()
    exported = page.get_by_role("table", name="Exports").locator("tr[data-status=succeeded]")
    expect(exported).to_contain_text("2 selected (every task)", timeout=30_000)
    lines = page.request.get(exported.get_by_role("link", name="Download").evaluate("a => a.href"))
    assert sorted(json.loads(line)["task_id"] for line in lines.text().splitlines()) == sorted(ids)

    # The Quality tab shows the gold content to managers.
    page.get_by_role("tab", name="Quality").click()
    page.get_by_role("button", name=f"Expected answer of {gold['id']}").click()
    shown = page.get_by_role("dialog")
    expect(shown.get_by_role("radio", name="Expected answer")).to_have_attribute(
        "aria-checked", "true"
    )
    expect(shown.locator(".dm-summary")).to_contain_text("car")
    expect(shown.locator("canvas.dm-canvas")).to_have_attribute("data-shapes", "2")
    shot(page, "quality-expected-answer")
    page.keyboard.press("Escape")

    # A labeler leaves a note on the instructions; it reaches the calibration report.
    cats = ok(
        api.post(
            "/projects",
            json={
                "name": "Calibrated cats",
                "task_type": "categorization",
                "taxonomy": {"labels": [{"name": "cat"}, {"name": "dog"}]},
                "instructions": "# Pets\nPick the animal.",
            },
        )
    )
    calibration = ok(
        api.post(f"/projects/{cats['id']}/batches", json={"name": "calib", "kind": "calibration"})
    )
    expected = {"annotations": [{"type": "category", "label": "cat"}]}
    ok(
        api.post(
            f"/projects/{cats['id']}/tasks/bulk",
            json={
                "batch": calibration["id"],
                "tasks": [{"params": {"text": "a cartoon cat"}, "expected_response": expected}],
            },
        )
    )
    ok(api.post(f"/batches/{calibration['id']}/finalize"))
    labeler = accounts.make("labeler")
    join(api, cats, labeler, "labeler")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        worker = context.new_page()
        log_in(worker, live_server.url, labeler, f"/label/{cats['id']}?stage=label")
        expect(worker.get_by_role("radio", name="cat")).to_be_visible()
        worker.keyboard.press("1")
        worker.locator("summary", has_text="Note on the instructions").click()
        worker.get_by_label("Note on the instructions").fill("Do cartoons count as cats?")
        screenshot(worker, "workspace-note")
        worker.get_by_role("button", name="Submit").click()
        expect(worker.get_by_role("heading", name="All done here")).to_be_visible()
    finally:
        context.close()
    page.goto(f"{live_server.url}/projects/{cats['id']}")
    page.get_by_role("button", name="Calibration report of calib").click()
    report = page.get_by_role("dialog", name="Calibration report: calib")
    expect(report).to_contain_text("Do cartoons count as cats?")
    expect(report).to_contain_text(labeler.user.email)
