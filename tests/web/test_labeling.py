"""The labeling runner and the categorization, span, text and LLM workspaces in a real browser
against a real `assay serve`: keyboard and mouse labeling, next task without a reload, drafts
across reloads, review rejection back to the labeler, inert task text."""

from __future__ import annotations

import itertools
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.polling import wait_for
from tests.web.conftest import screenshot

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


_names = itertools.count(1)  # project names are unique; tests share one server


@dataclass
class Seeder:
    """Seeds projects and tasks through the public API, as a manager would."""

    http: httpx.Client

    def project(
        self,
        task_type: str,
        taxonomy: dict[str, Any],
        tasks: list[dict[str, Any]],
        *,
        members: list[tuple[Any, str]],
        pipeline: dict[str, Any] | None = None,
        instructions: str | None = None,
        name: str | None = None,
    ) -> tuple[str, list[str]]:
        body: dict[str, Any] = {
            "name": name or f"{task_type} project {next(_names)}",
            "task_type": task_type,
            "taxonomy": taxonomy,
        }
        if pipeline:
            body["pipeline"] = pipeline
        if instructions is not None:
            body["instructions"] = instructions
        project = self.ok(self.http.post("/projects", json=body))
        for account, role in members:
            self.ok(
                self.http.put(
                    f"/projects/{project['id']}/members/{account.user.id}", json={"role": role}
                )
            )
        created = self.ok(
            self.http.post(
                f"/projects/{project['id']}/tasks/bulk",
                json={"tasks": [t if "params" in t else {"params": t} for t in tasks]},
            )
        )
        return project["id"], [ref["id"] for ref in created["tasks"]]

    def blob(self, data: bytes, name: str) -> str:
        return self.ok(self.http.post("/blobs", files={"file": (name, data, "image/png")}))[
            "sha256"
        ]

    def task(self, task_id: str) -> dict[str, Any]:
        return self.ok(self.http.get(f"/tasks/{task_id}"))

    @staticmethod
    def ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()


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


def log_in(page, url: str, account, path: str) -> None:
    page.goto(url + path)
    page.get_by_label("Email").fill(account.user.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".labeling")).to_be_visible()


def shown_task(page) -> str:
    root = page.locator(".labeling[data-task-id]")
    expect(root).to_be_visible()
    return root.get_attribute("data-task-id")


def wait_next(page, previous: str) -> str:
    expect(page.locator(".labeling")).not_to_have_attribute("data-task-id", previous)
    return page.locator(".labeling").get_attribute("data-task-id") or ""


# --- categorization ----------------------------------------------------------------------


def test_categorization_by_keyboard_only_then_the_next_task_without_reload(
    page, live_server, seeder, labeler
):
    red = seeder.blob(png(64, 48, (200, 40, 40)), "red.png")
    blue = seeder.blob(png(64, 48, (40, 40, 200)), "blue.png")
    taxonomy = {
        "labels": [{"name": "red"}, {"name": "green"}, {"name": "blue", "description": "sky"}],
        "global_attributes": [
            {"name": "quality", "type": "choice", "choices": ["good", "poor"], "default": "good"}
        ],
    }
    pid, ids = seeder.project(
        "categorization",
        taxonomy,
        [{"attachment": f"blob:{red}"}, {"attachment": f"blob:{blue}"}],
        members=[(labeler, "labeler")],
        instructions="# Colours\nPick the **main** colour.",
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    first = shown_task(page)
    expect(page.locator(".lb-instructions")).to_contain_text("Pick the main colour")
    expect(page.locator(".ws-media img")).to_be_visible()
    page.evaluate("window.__marker = 'same page'")

    page.keyboard.press("3")
    blue_radio = page.get_by_role("radio", name="blue")
    expect(blue_radio).to_be_checked()
    expect(blue_radio).to_be_focused()
    page.keyboard.press("1")  # changed my mind: the number keys move the choice and the focus
    red_radio = page.get_by_role("radio", name="red")
    expect(red_radio).to_be_checked()
    expect(red_radio).to_be_focused()
    outline = page.evaluate(
        "() => { const a = document.activeElement, s = getComputedStyle(a);"
        " return [a.matches(':focus-visible'), s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] is True and outline[1] != "none" and outline[2] != "0px", outline
    screenshot(page, "workspace-categorize")

    # ? lists the shortcuts; the instructions panel folds away and back.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("Submit")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    toggle = page.get_by_role("button", name="Instructions")
    toggle.click()
    expect(page.locator(".lb-instructions")).to_be_hidden()
    toggle.click()
    expect(page.locator(".lb-instructions")).to_be_visible()
    expect(red_radio).to_be_checked()
    red_radio.focus()

    page.keyboard.press("Enter")
    second = wait_next(page, first)
    assert {first, second} == set(ids)
    assert page.evaluate("window.__marker") == "same page"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    expect(page.get_by_role("radio", name="red")).not_to_be_checked()

    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    assert page.evaluate("window.__marker") == "same page"

    answers = {tid: seeder.task(tid)["response"] for tid in ids}
    assert [a["label"] for a in answers[first]["annotations"]] == ["red"]
    assert [a["label"] for a in answers[second]["annotations"]] == ["green"]
    assert answers[first]["global_attributes"] == {"quality": "good"}


def test_skip_asks_why_and_moves_on(page, live_server, seeder, labeler):
    pid, ids = seeder.project(
        "categorization",
        {"labels": [{"name": "yes"}, {"name": "no"}]},
        [{"text": "first"}, {"text": "second"}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    first = shown_task(page)
    page.get_by_role("button", name="Skip…").click()
    page.get_by_label("Another reason").check()
    page.get_by_label("Note (optional)").fill("the text is cut off")
    page.get_by_role("button", name="Skip task").click()
    second = wait_next(page, first)
    assert second in ids and second != first
    history = seeder.http.get(f"/tasks/{first}/history").json()["items"]
    assert [(e["action"], e["reason"]) for e in history] == [("skip", "the text is cut off")]


# --- text spans --------------------------------------------------------------------------

SPAN_TEXT = "Ada Lovelace 🧮 wrote the first program in London."


def drag_over(page, locator, needle: str) -> None:
    """Press the mouse at the start of `needle` in the element's text and release at its end."""
    box = page.evaluate(
        """([selector, needle]) => {
            const root = document.querySelector(selector);
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
              const node = walker.currentNode;
              const at = node.data.indexOf(needle);
              if (at < 0) continue;
              const range = document.createRange();
              range.setStart(node, at); range.setEnd(node, at + needle.length);
              const r = range.getClientRects()[0];
              return {left: r.left, right: r.right, y: r.top + r.height / 2};
            }
            return null;
        }""",
        [locator, needle],
    )
    assert box, needle
    page.mouse.move(box["left"] + 1, box["y"])
    page.mouse.down()
    page.mouse.move((box["left"] + box["right"]) / 2, box["y"], steps=3)
    page.mouse.move(box["right"] - 1, box["y"], steps=3)
    page.mouse.up()


def test_spans_by_mouse_and_keyboard_with_a_relation(page, live_server, seeder, labeler):
    taxonomy = {
        "labels": [{"name": "PERSON"}, {"name": "PLACE"}],
        "links": [{"name": "lives_in", "from_labels": ["PERSON"], "to_labels": ["PLACE"]}],
    }
    pid, (task_id,) = seeder.project(
        "text_spans", taxonomy, [{"text": SPAN_TEXT}], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    shown_task(page)

    drag_over(page, ".spans-text", "Ada Lovelace")
    spans = page.get_by_role("list", name="Spans")
    expect(spans).to_contain_text("PERSON: “Ada Lovelace”")

    # Keyboard: caret to the end of the line, back over the full stop, Ctrl+Shift+← takes the
    # word, 2 labels it PLACE.
    page.locator(".spans-text").focus()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Control+Shift+ArrowLeft")
    page.keyboard.press("2")
    expect(spans).to_contain_text("PLACE: “London”")

    # Overlapping: "Lovelace" inside "Ada Lovelace", then delete it again with the key.
    drag_over(page, ".spans-text", "Lovelace")
    expect(spans.get_by_role("listitem")).to_have_count(3)
    expect(page.locator(".seg.marked", has_text="Lovelace")).to_have_count(1)
    page.keyboard.press("Delete")
    expect(spans.get_by_role("listitem")).to_have_count(2)

    # Relation: select Ada ([), R, go to London (]), Enter.
    page.locator(".spans-text").focus()
    page.keyboard.press("[")
    page.keyboard.press("[")
    page.keyboard.press("r")
    page.keyboard.press("]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Relations")).to_contain_text("lives_in")
    screenshot(page, "workspace-spans")

    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    response = seeder.task(task_id)["response"]
    got = {a["label"]: (a["start"], a["end"], a["text"]) for a in response["annotations"]}
    # Offsets count code points (the emoji is one), as Python does.
    assert got == {
        "PERSON": (0, 12, "Ada Lovelace"),
        "PLACE": (SPAN_TEXT.index("London"), SPAN_TEXT.index("London") + 6, "London"),
    }
    ids = {a["label"]: a["id"] for a in response["annotations"]}
    assert [(x["from"], x["to"], x["label"]) for x in response["links"]] == [
        (ids["PERSON"], ids["PLACE"], "lives_in")
    ]


# --- text ----------------------------------------------------------------------------------


def test_a_draft_survives_reloads(page, live_server, seeder, labeler):
    scan = seeder.blob(png(120, 40, (240, 240, 240)), "line.png")
    pid, (task_id,) = seeder.project(
        "transcription",
        {},
        [{"attachment": f"blob:{scan}", "fields": {"line": "The handwritten line"}}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    box = page.get_by_label("line")
    box.fill("The quick brown fox")
    page.keyboard.press("Control+s")  # save now (the autosave would follow in a moment)
    expect(page.locator(".lb-status")).to_have_text("Draft saved", timeout=10000)
    screenshot(page, "workspace-text")

    page.reload()
    expect(page.get_by_label("line")).to_have_value("The quick brown fox")

    # Typed and reloaded before the autosave ran: the local copy brings it back and sends it.
    page.get_by_label("line").fill("The quick brown fox jumps")
    page.reload()
    expect(page.get_by_label("line")).to_have_value("The quick brown fox jumps")
    expect(page.locator(".lb-status")).to_have_text("Draft saved", timeout=10000)

    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    response = seeder.task(task_id)["response"]
    assert [(a["field"], a["text"]) for a in response["annotations"]] == [
        ("line", "The quick brown fox jumps")
    ]


def test_a_lost_connection_keeps_the_work_and_saves_it_when_back(
    page, live_server, seeder, labeler
):
    pid, (task_id,) = seeder.project(
        "text_collection", {}, [{"text": "Describe the weather."}], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    page.context.set_offline(True)
    page.get_by_label("Your answer").fill("Sunny, light wind")
    expect(page.locator(".badge.offline")).to_be_visible(timeout=10000)
    page.context.set_offline(False)
    expect(page.locator(".lb-status")).to_have_text("Draft saved", timeout=20000)
    expect(page.locator(".badge.offline")).to_be_hidden()
    lease = httpx.post(
        f"{live_server.url}/api/v1/projects/{pid}/queue/next",
        headers=labeler.headers,
    ).json()
    assert lease["task"]["id"] == task_id
    assert lease["draft"]["annotations"][0]["text"] == "Sunny, light wind"


# --- LLM -------------------------------------------------------------------------------------


def test_pairwise_choice_by_keyboard(page, live_server, seeder, labeler):
    pid, ids = seeder.project(
        "llm_comparison",
        {"allow_both_good": False},
        [
            {"prompt": "Capital of France?", "responses": ["Paris.", "Lyon."]},
            {"prompt": "2 + 2?", "responses": ["4", "5"]},
        ],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    first = shown_task(page)
    expect(page.get_by_role("button", name="Both good")).to_have_count(0)
    page.keyboard.press("b")
    expect(page.get_by_role("button", name="B is better")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("x")
    expect(page.get_by_role("button", name="Both bad")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Both bad")).to_be_focused()
    page.keyboard.press("a")
    screenshot(page, "workspace-llm-pairwise")
    page.keyboard.press("Control+Enter")
    second = wait_next(page, first)
    page.keyboard.press("t")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    choices = {tid: seeder.task(tid)["response"]["annotations"][0]["choice"] for tid in ids}
    assert choices == {first: "a", second: "tie"}


def test_rank_three_responses_by_drag_and_keys(page, live_server, seeder, labeler):
    pid, (task_id,) = seeder.project(
        "llm_ranking",
        {},
        [{"prompt": "A haiku about rain", "responses": ["first one", "second one", "third one"]}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    items = page.locator(".rank-item")
    expect(items).to_have_count(3)

    # Drag response 3 to the top by its header.
    source = items.nth(2).locator(".rank-head").bounding_box()
    target = items.nth(0).locator(".rank-head").bounding_box()
    page.mouse.move(source["x"] + 20, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + 20, target["y"] + 2, steps=8)
    page.mouse.up()
    expect(items.nth(0)).to_have_attribute("data-index", "2")

    # Keys: focus response 1 (now second) and move it down with Alt+↓.
    page.locator('.rank-item[data-index="0"]').focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator(".rank-item").nth(2)).to_have_attribute("data-index", "0")
    expect(page.locator('.rank-item[data-index="0"]')).to_be_focused()
    screenshot(page, "workspace-llm-rank")

    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    (ranking,) = seeder.task(task_id)["response"]["annotations"]
    assert ranking["order"] == [2, 1, 0]


def test_rubric_rating_with_number_keys(page, live_server, seeder, labeler):
    taxonomy = {
        "criteria": [
            {"name": "helpful", "min": 1, "max": 5},
            {"name": "harmless", "min": 1, "max": 3, "labels": ["no", "somewhat", "yes"]},
        ]
    }
    pid, (task_id,) = seeder.project(
        "llm_rating",
        taxonomy,
        [{"prompt": "Explain tides.", "responses": ["The moon pulls the sea.", "Wind."]}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    # 5 is outside harmless's 1-3 scale: refused, the criterion stays current.
    for key in "45351":
        page.keyboard.press(key)
    expect(page.get_by_role("radiogroup", name="harmless of response 2")).to_be_visible()
    screenshot(page, "workspace-llm-rubric")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    ratings = {
        (a["response_index"], a["criterion"]): a["value"]
        for a in seeder.task(task_id)["response"]["annotations"]
    }
    assert ratings == {
        (0, "helpful"): 4,
        (0, "harmless"): 3,
        (1, "helpful"): 5,
        (1, "harmless"): 1,
    }


def test_a_lost_lease_is_explained_and_the_next_task_follows(page, live_server, seeder, labeler):
    pid, ids = seeder.project(
        "categorization",
        {"labels": [{"name": "yes"}, {"name": "no"}]},
        [{"text": "one"}, {"text": "two"}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    first = shown_task(page)
    Seeder.ok(seeder.http.post(f"/tasks/{first}/cancel"))  # the manager pulls the task
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Your lease on the last task ended")
    second = wait_next(page, first)
    assert second == next(i for i in ids if i != first)


# --- review --------------------------------------------------------------------------------


def test_a_review_rejection_reaches_the_labeler_with_its_comment(
    browser, page, live_server, seeder, labeler, accounts
):
    reviewer = accounts.make("reviewer")
    pid, (task_id,) = seeder.project(
        "text_spans",
        {"labels": [{"name": "PERSON"}, {"name": "SHIP"}]},
        [{"text": "Endeavour sailed with Cook."}],
        members=[(labeler, "labeler"), (reviewer, "reviewer")],
        pipeline={
            "stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]
        },
    )
    as_labeler = httpx.Client(base_url=live_server.url + "/api/v1", headers=labeler.headers)
    lease = Seeder.ok(as_labeler.post(f"/projects/{pid}/queue/next"))
    submitted = {"annotations": [{"id": "span-endeavour", "label": "PERSON", "start": 0, "end": 9}]}
    Seeder.ok(
        as_labeler.post(
            f"/tasks/{task_id}/submit",
            json={"lease_token": lease["lease_token"], "response": submitted},
        )
    )

    # The reviewer sees the labeler's span, pins a comment to it and rejects.
    log_in(page, live_server.url, reviewer, f"/review/{pid}")
    assert shown_task(page) == task_id
    spans = page.get_by_role("list", name="Spans")
    expect(spans).to_contain_text("PERSON: “Endeavour”")
    expect(page.get_by_role("button", name="Accept")).to_be_enabled()
    spans.get_by_role("button", name="Comment").click()
    page.get_by_label("Comment on “Endeavour”").fill("Endeavour is a ship, not a person")
    page.get_by_role("button", name="Add comment").click()
    expect(spans).to_contain_text("Endeavour is a ship, not a person")
    screenshot(page, "review")
    page.get_by_role("button", name="Reject…").click()
    expect(page.get_by_role("dialog")).to_contain_text("Pinned comments (1)")
    page.get_by_role("dialog").get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", name="Nothing to review")).to_be_visible()

    # The labeler gets the task back with the comment listed and pinned to the span.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        log_in(tab, live_server.url, labeler, f"/label/{pid}")
        assert shown_task(tab) == task_id
        rework = tab.get_by_role("region", name="Reviewer comments")
        expect(rework).to_contain_text("Endeavour is a ship, not a person")
        pinned = (
            tab.get_by_role("list", name="Spans")
            .get_by_role("listitem")
            .filter(has_text="Endeavour")
        )
        expect(pinned).to_have_class(re.compile(r"\bcommented\b"))
        expect(pinned).to_contain_text("Endeavour is a ship, not a person")
        expect(tab.locator(".seg.commented")).to_have_text("Endeavour")
        # Fix it: relabel the span as SHIP (select it, press 2) and submit again.
        pinned.get_by_role("button", name="PERSON: “Endeavour”").click()
        tab.keyboard.press("2")
        tab.keyboard.press("Control+Enter")
        expect(tab.get_by_role("heading", name="All done here")).to_be_visible()
    finally:
        context.close()
        as_labeler.close()
    events = [e["action"] for e in seeder.http.get(f"/tasks/{task_id}/history").json()["items"]]
    assert events == ["submit", "reject", "submit"]
    comments = [
        e["comments"]
        for e in seeder.http.get(f"/tasks/{task_id}/history").json()["items"]
        if e["action"] == "reject"
    ]
    assert comments == [
        [
            {
                "text": "Endeavour is a ship, not a person",
                "annotation_id": "span-endeavour",
                "start": 0,
                "end": 9,
            }
        ]
    ]


# --- inert text ------------------------------------------------------------------------------


def test_script_in_task_text_label_names_and_instructions_stays_inert(
    page, live_server, seeder, labeler
):
    pid, _ = seeder.project(
        "categorization",
        {"labels": [{"name": XSS}, {"name": "plain"}]},
        [{"text": f"Task text {XSS}"}],
        members=[(labeler, "labeler")],
        instructions=f"# Read me\n\n{XSS}\n\n[click me](javascript:window.__xss=3)",
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    expect(page.locator(".task-text")).to_have_text(f"Task text {XSS}")
    expect(page.get_by_role("radio", name=XSS)).to_be_visible()
    expect(page.locator(".lb-instructions")).to_contain_text("Read me")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None
    assert page.locator(".labeling script").count() == 0
    assert page.locator(".labeling [onerror]").count() == 0
    assert page.locator('.lb-instructions a[href^="javascript"]').count() == 0
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    assert page.evaluate("window.__xss") is None


def test_the_lease_is_kept_alive_while_the_task_is_open(page, live_server, seeder, labeler):
    pid, (task_id,) = seeder.project(
        "categorization",
        {"labels": [{"name": "yes"}, {"name": "no"}]},
        [{"text": "still thinking"}],
        members=[(labeler, "labeler")],
        pipeline={"lease_seconds": 10},
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    first = seeder.task(task_id)["lease_expires_at"]
    # The page renews the lease every third of its length, without any input.
    wait_for(lambda: seeder.task(task_id)["lease_expires_at"] != first, timeout=20)
    assert seeder.task(task_id)["lease_user_id"] == labeler.user.id


def test_model_suggestions_are_shown_and_accepted(page, live_server, seeder, labeler):
    suggestion = {"annotations": [{"label": "dog", "confidence": 0.9}]}
    pid, (task_id,) = seeder.project(
        "categorization",
        {"labels": [{"name": "cat"}, {"name": "dog"}]},
        [{"params": {"text": "Woof"}, "prelabels": suggestion}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    expect(page.locator(".choice", has_text="dog")).to_contain_text("suggested 90%")
    expect(page.get_by_role("radio", name="dog")).not_to_be_checked()
    page.keyboard.press("a")
    expect(page.get_by_role("radio", name="dog")).to_be_checked()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    assert [a["label"] for a in seeder.task(task_id)["response"]["annotations"]] == ["dog"]


def test_a_reviewer_fixes_in_place(page, live_server, seeder, labeler, accounts):
    reviewer = accounts.make("reviewer")
    pid, (task_id,) = seeder.project(
        "categorization",
        {"labels": [{"name": "cat"}, {"name": "dog"}]},
        [{"text": "Meow"}],
        members=[(labeler, "labeler"), (reviewer, "reviewer")],
        pipeline={
            "stages": [{"name": "label", "kind": "label"}, {"name": "check", "kind": "review"}]
        },
    )
    with httpx.Client(base_url=live_server.url + "/api/v1", headers=labeler.headers) as http:
        lease = Seeder.ok(http.post(f"/projects/{pid}/queue/next"))
        body = {
            "lease_token": lease["lease_token"],
            "response": {"annotations": [{"label": "dog"}]},
        }
        Seeder.ok(http.post(f"/tasks/{task_id}/submit", json=body))
    log_in(page, live_server.url, reviewer, f"/review/{pid}?stage=check")
    shown_task(page)
    expect(page.get_by_role("radio", name="dog")).to_be_checked()
    expect(page.get_by_role("button", name="Submit fix")).to_be_disabled()
    page.keyboard.press("1")
    expect(page.get_by_role("button", name="Accept")).to_be_disabled()
    expect(page.get_by_role("button", name="Submit fix")).to_be_enabled()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="Nothing to review")).to_be_visible()
    task = seeder.task(task_id)
    assert task["status"] == "completed"
    assert [a["label"] for a in task["response"]["annotations"]] == ["cat"]
    history = seeder.http.get(f"/tasks/{task_id}/history").json()["items"]
    assert [e["action"] for e in history] == ["submit", "fix"]


def test_several_categories_toggle_with_number_keys(page, live_server, seeder, labeler):
    taxonomy = {
        "labels": [
            {
                "name": "sports",
                "attributes": [{"name": "kind", "type": "choice", "choices": ["team", "solo"]}],
            },
            {"name": "politics"},
            {"name": "science"},
        ],
        "multi_select": True,
    }
    pid, (task_id,) = seeder.project(
        "categorization",
        taxonomy,
        [{"text": "The chess federation funds a physics prize."}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    for key in "132":
        page.keyboard.press(key)
    page.keyboard.press("2")  # toggles politics off again
    expect(page.get_by_role("checkbox", name="politics")).not_to_be_checked()
    page.get_by_label("kind").select_option("solo")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    chosen = {a["label"]: a["attributes"] for a in seeder.task(task_id)["response"]["annotations"]}
    assert chosen == {"sports": {"kind": "solo"}, "science": {}}


def test_text_collection_with_labeled_entries(page, live_server, seeder, labeler):
    pid, (task_id,) = seeder.project(
        "text_collection",
        {"labels": [{"name": "question"}, {"name": "answer"}]},
        [{"text": "Write a question about the moon and its answer."}],
        members=[(labeler, "labeler")],
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    shown_task(page)
    page.get_by_label("Entry 1", exact=True).fill("How far is the moon?")
    page.get_by_role("button", name="Add entry").click()
    page.get_by_label("Label of Entry 2").select_option("answer")
    page.get_by_label("Entry 2", exact=True).fill("About 384,400 km.")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()
    got = [(a["label"], a["text"]) for a in seeder.task(task_id)["response"]["annotations"]]
    assert got == [("question", "How far is the moon?"), ("answer", "About 384,400 km.")]


# --- training course -----------------------------------------------------------------------


def test_training_first_with_feedback_then_real_tasks(page, live_server, seeder, labeler):
    red = seeder.blob(png(64, 48, (200, 40, 40)), "red.png")
    taxonomy = {"labels": [{"name": "red"}, {"name": "green"}]}
    pid, (real,) = seeder.project(
        "categorization",
        taxonomy,
        [{"attachment": f"blob:{red}"}],
        members=[(labeler, "labeler")],
    )
    seeder.ok(
        seeder.http.patch(
            f"/projects/{pid}", json={"quality": {"training": {"pass_threshold": 0.5}}}
        )
    )
    course = [
        seeder.ok(
            seeder.http.post(
                f"/projects/{pid}/training_tasks",
                json={
                    "params": {"attachment": f"blob:{red}"},
                    "expected_response": {"annotations": [{"type": "category", "label": "red"}]},
                },
            )
        )["id"]
        for _ in range(2)
    ]
    log_in_to_empty = page.goto(live_server.url + f"/label/{pid}")
    assert log_in_to_empty is not None
    page.get_by_label("Email").fill(labeler.user.email)
    page.get_by_label("Password").fill(labeler.password)
    page.get_by_role("button", name="Log in").click()
    # Real work is refused with the reason; the course starts from there.
    expect(page.get_by_role("heading", name="Training first")).to_be_visible()
    expect(page.locator(".lb-empty")).to_contain_text("training course")
    page.get_by_role("button", name="Start the training course").click()
    assert shown_task(page) in course
    assert "training=1" in page.url
    page.keyboard.press("2")  # green: wrong
    page.keyboard.press("Enter")
    feedback = page.locator(".lb-feedback")
    expect(feedback).to_contain_text("Not quite — 0%")
    expect(feedback.locator(".lb-expected")).to_contain_text("red")
    screenshot(page, "training-feedback")
    page.get_by_role("button", name="Next training task").click()
    second = shown_task(page)
    assert second in course
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator(".lb-feedback")).to_contain_text("Correct — 100%")
    page.get_by_role("button", name="Next training task").click()
    # Mean 0.5 ≥ 0.5: passed; real tasks follow.
    expect(page.get_by_role("heading", name="Training passed")).to_be_visible()
    page.get_by_role("button", name="Start labeling").click()
    assert shown_task(page) == real
    assert "training=1" not in page.url


def test_audit_queue_accept_and_reject_with_a_comment(page, live_server, seeder, accounts):
    labeler, auditor = accounts.make("labeler"), accounts.make("reviewer")
    red = seeder.blob(png(64, 48, (200, 40, 40)), "red.png")
    taxonomy = {"labels": [{"name": "red"}, {"name": "green"}]}
    pid, ids = seeder.project(
        "categorization",
        taxonomy,
        [{"attachment": f"blob:{red}"}, {"attachment": f"blob:{red}"}],
        members=[(labeler, "labeler"), (auditor, "reviewer")],
    )
    seeder.ok(seeder.http.patch(f"/projects/{pid}", json={"quality": {"audit_rate": 1.0}}))
    with httpx.Client(base_url=live_server.url + "/api/v1", headers=labeler.headers) as api:
        for label in ("red", "green"):
            lease = Seeder.ok(api.post(f"/projects/{pid}/queue/next"))
            Seeder.ok(
                api.post(
                    f"/tasks/{lease['task']['id']}/submit",
                    json={
                        "lease_token": lease["lease_token"],
                        "response": {"annotations": [{"type": "category", "label": label}]},
                    },
                )
            )
    page.goto(live_server.url + f"/review/{pid}?audit=1")
    page.get_by_label("Email").fill(auditor.user.email)
    page.get_by_label("Password").fill(auditor.password)
    page.get_by_role("button", name="Log in").click()
    first = shown_task(page)
    expect(page.locator(".lb-rework")).to_contain_text("auditing a completed task")
    expect(page.get_by_text("Audit", exact=True)).to_be_visible()
    page.get_by_role("button", name="Accept").click()
    second = wait_next(page, first)
    assert {first, second} == set(ids)
    page.get_by_role("button", name="Reject…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox").first.fill("Look at the colour again.")
    dialog.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", name="Nothing to audit")).to_be_visible()
    audits = seeder.ok(seeder.http.get(f"/projects/{pid}/audits"))["items"]
    decided = {a["task_id"]: (a["status"], a["comments"]) for a in audits}
    assert decided[first] == ("accepted", None)
    assert decided[second][0] == "rejected"
    assert decided[second][1][0]["text"] == "Look at the colour again."
