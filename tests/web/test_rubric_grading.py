"""The rubric_grading workspace in a real browser against a real `assay serve`: the rater
sees the conversation, the response and each criterion (text and category, never points),
grades met / not met by keyboard and mouse, comments, and the verdicts are what the server
stores; a draft survives a reload."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import screenshot
from tests.web.test_labeling import (  # noqa: F401  (the people and the seeder fixtures)
    labeler,
    log_in,
    manager,
    seeder,
    shown_task,
    wait_next,
)

CRITERIA = [
    {"id": "drug", "text": "Names an anticoagulant", "category": "accuracy"},
    {"id": "dose", "text": "Gives a dose", "category": "completeness"},
    {"id": "harm", "text": "Advises stopping all medication", "category": "safety"},
]


def grading_task(n: int) -> dict:
    return {
        "params": {
            "messages": [{"role": "user", "content": f"How is atrial fibrillation treated? ({n})"}],
            "responses": [{"content": f"Apixaban 5 mg twice daily. (answer {n})"}],
            "criteria": CRITERIA,
        },
        "metadata": {"points": "POINTSMARK", "judge": "JUDGEMARK"},
    }


def test_grade_criteria_by_keyboard_with_a_comment_and_a_draft_across_reload(
    page,
    live_server,
    seeder,  # noqa: F811
    labeler,  # noqa: F811
):
    pid, ids = seeder.project(
        "rubric_grading", {}, [grading_task(1), grading_task(2)], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}")
    first = shown_task(page)
    workspace = page.locator(".ws-rubric_grading")
    expect(workspace).to_contain_text("How is atrial fibrillation treated?")
    expect(workspace).to_contain_text("Apixaban 5 mg twice daily.")
    expect(page.locator(".rubric-criterion")).to_have_count(3)
    expect(page.locator(".rubric-criterion").nth(2)).to_contain_text("safety")
    assert "POINTSMARK" not in page.content() and "JUDGEMARK" not in page.content()
    # The context bar of a task without a file says how much was done, and no "null".
    expect(page.locator(".lb-context-text")).to_have_text(re.compile(r"done today$"))

    # Y: met (drug); the next criterion becomes current. Then a draft, and a reload.
    page.keyboard.press("y")
    drug = page.locator('.rubric-criterion[data-criterion="drug"]')
    expect(drug.locator('button[data-met="true"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".rubric-progress")).to_have_text("1 of 3 graded")
    expect(page.locator('.rubric-criterion[data-criterion="dose"]')).to_have_class(
        "criterion rubric-criterion current"
    )
    expect(page.locator(".lb-status")).to_have_text("Draft saved", timeout=10000)
    page.reload()
    expect(page.locator(".labeling")).to_have_attribute("data-task-id", first)
    expect(page.locator(".rubric-progress")).to_have_text("1 of 3 graded")

    # N: dose not met; then the mouse for harm, and a comment on it.
    page.keyboard.press("n")
    harm = page.locator('.rubric-criterion[data-criterion="harm"]')
    harm.get_by_role("button", name="Not met").click()
    harm.get_by_role("textbox").fill("It never says so.")
    # Typing in the comment box is not a shortcut: "y" there is just a letter.
    harm.get_by_role("textbox").press("y")
    expect(harm.locator('button[data-met="false"]')).to_have_attribute("aria-pressed", "true")
    screenshot(page, "workspace-rubric-grading")
    page.keyboard.press("Control+Enter")
    second = wait_next(page, first)
    # Number keys pick the n-th choice as in every workspace: 1 met, 2 not met.
    page.keyboard.press("2")
    expect(
        page.locator('.rubric-criterion[data-criterion="drug"] button[data-met="false"]')
    ).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("the same in every workspace")
    expect(dialog).to_contain_text("1 met, 2 not met")
    page.keyboard.press("Escape")
    # Going back up with ↑ and changing verdicts before submitting.
    page.keyboard.press("ArrowUp")
    for key in "1yy":
        page.keyboard.press(key)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("n")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()

    def stored(task_id: str) -> dict:
        response = seeder.task(task_id)["response"]
        return {a["criterion"]: (a["met"], a.get("comment")) for a in response["annotations"]}

    assert stored(first) == {
        "drug": (True, None),
        "dose": (False, None),
        "harm": (False, "It never says so.y"),
    }
    assert stored(second) == {"drug": (True, None), "dose": (False, None), "harm": (True, None)}
    assert set(ids) == {first, second}
