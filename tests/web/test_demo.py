"""The demo workspace opens straight into a labelable project: log in through the printed
"Label now" link, accept the model's suggestion, answer the task question, submit."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

import assay.cli.main  # noqa: F401  (registers the commands before demo is imported)
from assay.cli.demo import DemoCredentials, seed_demo
from tests.web.conftest import screenshot

READY = ".image-ws[data-ready] .iw-stage[data-view]"


@pytest.fixture(scope="module")
def demo(module_settings, module_server) -> DemoCredentials:
    """The demo, seeded once into the module's server (seeding takes half a minute; it is
    tested itself in tests/cli/test_demo.py). Each test here works in its own part of it:
    the labeling project, the quality lab, the curation dataset."""
    return seed_demo(module_settings)


def test_demo_opens_into_its_labeling_project(page, live_server, demo):
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


def test_demo_quality_lab_shows_labelers_gold_and_a_dashboard_with_history(page, live_server, demo):
    assert demo.quality_project_id is not None
    page.goto(f"{live_server.url}/projects/{demo.quality_project_id}?tab=quality")
    page.get_by_label("Email").fill(demo.email)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("tab", name="Quality").click()
    carol = page.get_by_role("row").filter(has_text="carol@assay.local")
    expect(carol).to_contain_text("paused")
    expect(carol).to_contain_text("below this project's 60%")
    expect(page.get_by_role("row").filter(has_text="alice@assay.local")).to_contain_text("active")
    expect(page.get_by_text("8 tasks")).to_be_visible()  # the gold tasks, with pass rates
    screenshot(page, "demo-quality")
    with httpx.Client(
        base_url=live_server.url + "/api/v1",
        headers={"Authorization": f"Bearer {demo.api_key}"},
    ) as api:
        workers = api.get(f"/projects/{demo.quality_project_id}/workers").json()
    alice = next(w for w in workers if w["email"] == "alice@assay.local")
    page.goto(f"{live_server.url}/dashboard/{demo.quality_project_id}?user={alice['user_id']}")
    figure = page.get_by_role("group", name="Tasks per hour")
    expect(figure.locator("canvas").first).to_be_visible()
    assert int(figure.get_attribute("data-points")) >= 5  # a week of work, day by day
    screenshot(page, "demo-dashboard")


def test_demo_curation_dataset_opens_from_its_printed_link(page, live_server, demo):
    """The "Curate" link `make demo` prints (cli/demo.py) opens the explorer on the sample
    photographs: thumbnails with ground truth, the detectors' facets, a query that narrows."""
    assert demo.dataset_id is not None
    page.goto(f"{live_server.url}/datasets/{demo.dataset_id}")
    page.get_by_label("Email").fill(demo.email)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Log in").click()

    cells = page.locator(".item-cell")
    expect(cells.first.locator("img")).to_have_attribute("src", re.compile(r"/media/"))
    total = int(re.match(r"\d+", page.locator(".explore-count").inner_text()).group())
    assert total >= 100
    expect(
        page.locator('.facet-group[data-source="gt"]').get_by_role(
            "button", name=re.compile(r"^cat")
        )
    ).to_be_visible()
    query = page.get_by_role("combobox", name="Query")
    query.fill("annotations.cat > 0")
    query.press("Enter")
    expect(page.locator(".explore-count")).to_have_text("10 items match")
    expect(cells).to_have_count(10)
    screenshot(page, "demo-curation")
