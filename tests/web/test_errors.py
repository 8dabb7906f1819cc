"""Errors in human words: a required attribute is checked before any submit (named in words,
its control focused, nothing sent); server errors shown to labelers and managers carry no
JSON path or API route; rates read as percents everywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import screenshot
from tests.web.test_labeling import Seeder, log_in, shown_task

# What a message for people must not contain: a JSON path or an API route.
JSON_PATH = re.compile(
    r"\b(?:response|taxonomy|quality|tasks)(?:\[\d+\])?\.\w|/api/v1|/v1/|\[\d+\]"
)


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def labeler(accounts):
    return accounts.make("labeler")


@pytest.fixture
def seeder(live_server, manager) -> Iterator[Seeder]:
    with httpx.Client(base_url=live_server.url + "/api/v1", headers=manager.headers) as http:
        yield Seeder(http)


def submits(page) -> list[str]:
    sent: list[str] = []
    page.on(
        "request", lambda r: sent.append(r.url) if r.url.endswith("/submit?next=true") else None
    )
    return sent


def test_a_missing_required_attribute_is_named_and_focused_and_nothing_is_sent(
    page, live_server, seeder, labeler
):
    taxonomy = {
        "labels": [{"name": "cat"}, {"name": "dog"}],
        "global_attributes": [
            {"name": "lighting", "type": "choice", "choices": ["day", "night"], "default": "day"},
            {"name": "scene", "type": "choice", "choices": ["indoor", "outdoor"], "required": True},
        ],
    }
    pid, ids = seeder.project(
        "categorization",
        taxonomy,
        [{"text": "a cat on a mat"}],
        members=[(labeler, "labeler")],
    )
    sent = submits(page)
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    shown_task(page)
    page.keyboard.press("1")
    expect(page.get_by_role("radio", name="cat")).to_be_checked()
    page.keyboard.press("Enter")

    alert = page.locator(".lb-alert")
    expect(alert).to_have_text("Scene (task attribute) is required.")
    scene = page.locator('[data-attribute="scene"] select')
    expect(scene).to_be_focused()
    expect(scene).to_have_attribute("aria-invalid", "true")
    assert sent == []  # refused in the browser: no request
    screenshot(page, "labeling-required-attribute")

    scene.select_option("outdoor")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    assert len(sent) == 1
    answer = seeder.task(ids[0])["response"]
    assert answer["global_attributes"] == {"lighting": "day", "scene": "outdoor"}


def test_a_refused_submit_names_the_field_in_words(page, live_server, seeder, labeler):
    """The server's refusal (here: a required attribute the browser did not know of, added
    to the taxonomy after the page loaded) reads in words, without its JSON path."""
    taxonomy = {"labels": [{"name": "cat"}, {"name": "dog"}]}
    pid, _ = seeder.project(
        "categorization", taxonomy, [{"text": "a dog"}], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    shown_task(page)
    required = {"name": "breed_group", "type": "text", "required": True}
    seeder.ok(
        seeder.http.patch(
            f"/projects/{pid}", json={"taxonomy": {**taxonomy, "global_attributes": [required]}}
        )
    )
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    alert = page.locator(".lb-alert")
    expect(alert).to_contain_text("Breed group (task attribute) is required")
    assert not JSON_PATH.search(alert.inner_text()), alert.inner_text()


def test_a_managers_refused_taxonomy_save_shows_no_json_path(page, live_server, manager, seeder):
    taxonomy = {
        "labels": [
            {
                "name": "car",
                "attributes": [{"name": "pose", "type": "choice", "choices": ["parked", "moving"]}],
            }
        ]
    }
    pid, _ = seeder.project("categorization", taxonomy, [{"text": "x"}], members=[])
    page.goto(f"{live_server.url}/login?next=/projects/{pid}?tab=taxonomy")
    page.get_by_label("Email").fill(manager.user.email)
    page.get_by_label("Password").fill(manager.password)
    page.get_by_role("button", name="Log in").click()
    json_view = page.get_by_label("Taxonomy JSON")
    expect(json_view).to_be_visible()

    # A client-side problem, named in words at its field.
    page.get_by_label("Label 1 attribute 1 choices").fill("parked\nparked")
    problem = page.locator("p.field-error").first
    expect(problem).to_contain_text("attribute 1 “pose” of label 1 “car”")
    assert not JSON_PATH.search(problem.inner_text()), problem.inner_text()
    page.get_by_label("Label 1 attribute 1 choices").fill("parked\nmoving")

    # The server's refusal on save: in words too, its control marked.
    bad = json.loads(json_view.input_value())
    bad["labels"][0]["attributes"][0]["default"] = "flying"
    json_view.fill(json.dumps(bad, indent=2))
    page.get_by_role("button", name="Save taxonomy").click()
    error = page.get_by_role("alert").filter(has_text="not a choice")
    expect(error).to_contain_text("Default of attribute 1 “pose” of label 1 “car”")
    assert not JSON_PATH.search(error.inner_text()), error.inner_text()
    for summary in page.locator(".tx-summary li").all_inner_texts():
        assert not JSON_PATH.search(summary), summary


def test_rates_read_as_percents(page, live_server, manager, seeder):
    pid, _ = seeder.project(
        "categorization", {"labels": [{"name": "a"}, {"name": "b"}]}, [{"text": "x"}], members=[]
    )
    quality = {"pass_threshold": 0.85, "pause_below": 0.6, "audit_rate": 0.05}
    seeder.ok(seeder.http.patch(f"/projects/{pid}", json={"quality": quality}))
    page.goto(f"{live_server.url}/login?next=/projects/{pid}?tab=quality")
    page.get_by_label("Email").fill(manager.user.email)
    page.get_by_label("Password").fill(manager.password)
    page.get_by_role("button", name="Log in").click()
    settings = page.get_by_role("form", name="Quality settings")
    expect(settings.get_by_label("Evaluation pass score (%)")).to_have_value("85")
    expect(settings.get_by_label("Pause below accuracy (%)")).to_have_value("60")
    expect(settings.get_by_label("Audit rate (%)")).to_have_value("5")
    expect(settings.get_by_label("Agreement threshold (%)")).to_be_visible()
    for label in settings.locator(".field").all_inner_texts():
        assert "0\u20131" not in label, label  # no score on a 0 to 1 scale left
    settings.get_by_label("Evaluation pass score (%)").fill("90")
    settings.get_by_label("Pause below accuracy (%)").fill("")
    settings.get_by_role("button", name="Save quality settings").click()
    expect(page.get_by_text("Quality settings saved")).to_be_visible()
    saved = seeder.ok(seeder.http.get(f"/projects/{pid}"))["quality"]
    assert saved["pass_threshold"] == 0.9 and saved["pause_below"] is None
    assert saved["audit_rate"] == 0.05
