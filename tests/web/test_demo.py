"""The demo workspace opens straight into a labelable project: log in through the printed
"Label now" link, accept the model's suggestion, answer the task question, submit."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

import assay.cli.main  # noqa: F401  (registers the commands before demo is imported)
from assay.cli.demo import seed_demo
from tests.web.conftest import screenshot

READY = ".image-ws[data-ready] .iw-stage[data-view]"


def test_demo_opens_into_its_labeling_project(page, live_server, settings):
    demo = seed_demo(settings)
    assert demo.project_id is not None
    page.goto(f"{live_server.url}/label/{demo.project_id}")
    page.get_by_label("Email").fill(demo.email)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Log in").click()

    expect(page.locator(READY)).to_be_visible()
    expect(page.get_by_text("Everyday objects").first).to_be_visible()
    screenshot(page, "demo-labeling")
    page.locator(".iw-stage").focus()
    page.keyboard.press("Shift+A")  # accept every suggestion
    page.get_by_label("scene").select_option("indoor")
    first_view = page.locator(".iw-stage").get_attribute("data-view")
    page.get_by_role("button", name="Submit", exact=True).click()
    # The next photograph is on screen, without a page reload.
    expect(page.locator(READY)).to_be_visible()
    expect(page.locator(".toast.error")).to_have_count(0)

    with httpx.Client(
        base_url=live_server.url + "/api/v1",
        headers={"Authorization": f"Bearer {demo.api_key}"},
    ) as api:
        reviewed = api.get("/tasks", params={"project": demo.project_id, "stage": "review"})
        assert reviewed.status_code == 200, reviewed.text
        (task,) = reviewed.json()["items"]
        history = api.get(f"/tasks/{task['id']}/history").json()
    submitted = [e for e in history["items"] if e["action"] == "submit"]
    assert len(submitted) == 1
    annotations = submitted[0]["response"]["annotations"]
    assert [(a["type"], a["label"]) for a in annotations] == [("box", "person")]
    assert submitted[0]["response"]["global_attributes"]["scene"] == "indoor"
    assert first_view is not None
