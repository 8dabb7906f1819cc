"""Broken media cannot be labeled silently (issue 15 §3.1), in a real browser against a real
`assay serve`: the upload page refuses a file that is not an image in an image project; a
task whose image does not load shows an error state over the canvas that the tool hints do not
overwrite, submit stays blocked (button and Ctrl+Enter), and "Report broken task" skips it
with the reason recorded and the task tagged `broken` for its managers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web import test_context
from tests.web.conftest import screenshot
from tests.web.test_image import log_in
from tests.web.test_manager import png

manager = test_context.manager  # the same fixtures
seeder = test_context.seeder


@pytest.fixture
def labeler(accounts):
    return accounts.make("labeler")


def test_upload_page_refuses_a_file_that_is_not_an_image(page, live_server, seeder, manager):
    project = seeder.ok(
        seeder.http.post(
            "/projects",
            json={
                "name": "Street",
                "task_type": "image",
                "taxonomy": {"labels": [{"name": "car"}]},
            },
        )
    )
    log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=data")
    expect(page.locator(".dropzone")).to_be_visible()
    page.locator("input[type=file]").set_input_files(
        [
            {"name": "street.png", "mimeType": "image/png", "buffer": png(4, 3, 60)},
            {"name": "notes.png", "mimeType": "image/png", "buffer": b"meeting notes\n"},
        ]
    )
    expect(page.get_by_text("Done: 1 task created, 1 file(s) failed.")).to_be_visible()
    row = page.locator(".file-list li", has_text="notes.png")
    expect(row).to_contain_text("not added: this file is text/plain, not an image")
    tasks = seeder.ok(seeder.http.get("/tasks", params={"project_id": project["id"]}))["items"]
    assert [t["metadata"]["filename"] for t in tasks] == ["street.png"]


def test_an_image_that_does_not_load_blocks_submit_and_can_be_reported(
    browser, page, live_server, seeder, labeler, manager
):
    missing = f"{live_server.url}/static/no-such-image.png"
    project = seeder.project(
        [{"params": {"attachment": missing}}, seeder.image_task()], [(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{project.id}?stage=label")
    alert = page.locator(".iw-broken")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("The image could not be loaded.")
    expect(page.locator(".labeling")).to_have_attribute("data-broken", "true")
    # Tool hints go on under it, and never replace the error state.
    page.locator(".iw-stage").focus()
    page.keyboard.press("b")
    page.keyboard.press("p")
    expect(alert).to_be_visible()
    submit = page.get_by_role("button", name="Submit", exact=True)
    expect(submit).to_be_disabled()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".lb-alert")).to_contain_text("Submitting is blocked")
    assert seeder.ok(seeder.http.get(f"/tasks/{project.tasks[0]}"))["status"] == "pending"
    screenshot(page, "workspace-image-broken")

    alert.get_by_role("button", name="Report broken task").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("The media is broken")).to_be_checked()
    dialog.get_by_label("Note (optional)").fill("404 from the CDN")
    dialog.get_by_role("button", name="Report and skip").click()
    # The next task is a real image: no error state, submit enabled.
    expect(page.locator(".image-ws[data-ready] .iw-stage[data-view]")).to_be_visible()
    expect(page.locator(".labeling")).to_have_attribute("data-task-id", project.tasks[1])
    expect(page.locator(".iw-broken")).to_have_count(0)
    expect(submit).to_be_enabled()

    task = seeder.ok(seeder.http.get(f"/tasks/{project.tasks[0]}"))
    assert task["tags"] == ["broken"]
    # The manager's task table marks it.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        log_in(tab, live_server.url, manager, f"/projects/{project.id}?tab=tasks")
        row = tab.locator(f'tr[data-task="{project.tasks[0]}"]')
        expect(row).to_contain_text("reported broken")
        other = tab.locator(f'tr[data-task="{project.tasks[1]}"]')
        expect(other).to_be_visible()
        expect(other).not_to_contain_text("reported broken")
    finally:
        context.close()
    history = seeder.ok(seeder.http.get(f"/tasks/{project.tasks[0]}/history"))["items"]
    assert [(e["action"], e["reason"]) for e in history] == [
        ("skip", "The media is broken (does not load, blank, or the wrong file): 404 from the CDN")
    ]


def test_a_video_frame_that_does_not_load_blocks_submit(page, live_server, seeder, labeler):
    missing = f"{live_server.url}/static/no-such-frame.png"
    params = {"frames": [missing, missing], "image_width": 320, "image_height": 240}
    project = seeder.project(
        [{"params": params}],
        [(labeler, "labeler")],
        task_type="video",
        taxonomy={"labels": [{"name": "car", "geometries": ["box"]}]},
    )
    log_in(page, live_server.url, labeler, f"/label/{project.id}?stage=label")
    alert = page.locator(".video-ws .iw-broken")
    expect(alert).to_contain_text("could not be loaded")
    expect(page.get_by_role("button", name="Submit", exact=True)).to_be_disabled()
    expect(alert.get_by_role("button", name="Report broken task")).to_be_visible()
