"""Consistency and density across the workspaces, in a real browser against a real `assay
serve`: number keys that mean the same everywhere, narrow screens, brightness and contrast,
relation arrows over the text, keypoint skeletons, and the guards on unsaved taxonomy and
instructions edits."""

# ruff: noqa: F811  (the fixtures imported from test_labeling are parameters here)
from __future__ import annotations

import math
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.polling import wait_for
from tests.web.conftest import ARTIFACTS, screenshot
from tests.web.test_image import TAXONOMY as IMAGE_TAXONOMY
from tests.web.test_image import click, street_png
from tests.web.test_labeling import (  # noqa: F401  (fixtures: one server for the module)
    SPAN_TEXT,
    drag_over,
    labeler,
    log_in,
    manager,
    seeder,
    shown_task,
)

IMAGE_READY = ".image-ws[data-ready] .iw-stage[data-view]"
SKY = (118, 148, 182)  # street_png's sky, where nothing else is drawn
# The shared palette (static/js/palette.js): the second label's colour.
SECOND_LABEL_COLOR = (0xE6, 0x9F, 0x00)

# Canvas pixel at image coordinates (x, y), on the stage's base layer (shapes not selected);
# null while the layer is blank (a resize clears it until the next frame redraws it).
PIXEL_AT = """([x, y]) => {
  const stage = document.querySelector(".iw-stage");
  const [scale, tx, ty] = stage.dataset.view.split(" ").map(Number);
  const canvas = stage.querySelector("canvas.iw-stage-base");
  const d = window.devicePixelRatio || 1;
  const px = canvas.getContext("2d").getImageData(
    Math.round((tx + x * scale) * d), Math.round((ty + y * scale) * d), 1, 1).data;
  return px[3] === 255 ? [px[0], px[1], px[2]] : null;
}"""


def image_params(seeder, width: int = 640, height: int = 480) -> dict[str, Any]:
    sha = seeder.blob(street_png(width, height), "street.png")
    return {"attachment": f"blob:{sha}", "image_width": width, "image_height": height}


def video_params(seeder) -> dict[str, Any]:
    frames = [
        f"blob:{seeder.blob(street_png(320, 240, shift=i * 20), f'f{i}.png')}" for i in (0, 1)
    ]
    return {"attachment": frames[0], "frames": frames, "frame_count": 2}


def distance(a, b) -> float:
    return math.dist(a[:3], b[:3])


def pixel(page, x: float, y: float) -> list[int]:
    return page.wait_for_function(PIXEL_AT, arg=[x, y]).json_value()


# --- one palette -----------------------------------------------------------------------------

PALETTE_RGB = ["rgb(0, 114, 178)", "rgb(230, 159, 0)"]  # static/js/palette.js, first two


def swatches(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(
        selector, "nodes => nodes.map((n) => getComputedStyle(n).backgroundColor)"
    )


def test_a_label_has_one_colour_in_every_workspace_and_the_taxonomy_editor(
    page, live_server, seeder, labeler, manager
):
    labels = [*TWO_LABELS, {"name": "third", "color": "#123456"}]  # its own colour wins
    expected = [*PALETTE_RGB, "rgb(18, 52, 86)"]
    members = [(labeler, "labeler")]
    image_pid, _ = seeder.project(
        "image", {"labels": labels}, [image_params(seeder)], members=members
    )
    spans_pid, _ = seeder.project(
        "text_spans", {"labels": labels}, [{"text": SPAN_TEXT}], members=members
    )
    categories_pid, _ = seeder.project(
        "categorization", {"labels": labels}, [image_params(seeder)], members=members
    )
    log_in(page, live_server.url, labeler, f"/label/{image_pid}?stage=label")
    expect(page.locator(".iw-label .swatch")).to_have_count(3)
    assert swatches(page, ".iw-label .swatch") == expected
    page.goto(f"{live_server.url}/label/{spans_pid}?stage=label")
    expect(page.locator(".label-option .swatch")).to_have_count(3)
    assert swatches(page, ".label-option .swatch") == expected
    page.goto(f"{live_server.url}/label/{categories_pid}?stage=label")
    expect(page.locator(".choice .swatch")).to_have_count(3)
    assert swatches(page, ".choice .swatch") == expected

    page.context.clear_cookies()
    page.goto(f"{live_server.url}/projects/{categories_pid}?tab=taxonomy")
    page.get_by_label("Email").fill(manager.user.email)
    page.get_by_label("Password").fill(manager.password)
    page.get_by_role("button", name="Log in").click()
    colors = [page.get_by_label(f"Label {i} color") for i in (1, 2, 3)]
    for control, hex_color in zip(colors, ["#0072b2", "#e69f00", "#123456"], strict=True):
        expect(control).to_have_value(hex_color)


# --- number keys ---------------------------------------------------------------------------

TWO_LABELS = [{"name": "first"}, {"name": "second"}]

# task type, taxonomy, params (from the seeder), the control key 2 must pick
NUMBER_KEY_CASES = {
    "image": ("image", {"labels": TWO_LABELS}, image_params, ".iw-label"),
    "video": ("video", {"labels": TWO_LABELS}, video_params, ".iw-label"),
    "categorize": (
        "categorization",
        {"labels": TWO_LABELS},
        image_params,
        ".choice-group input",
    ),
    "spans": (
        "text_spans",
        {"labels": TWO_LABELS},
        lambda s: {"text": SPAN_TEXT},
        ".label-picker input",
    ),
    "rubric": (
        "llm_rating",
        {"criteria": [{"name": "helpful", "min": 1, "max": 5}]},
        lambda s: {"prompt": "Hi?", "responses": ["Hello."]},
        ".criterion input",
    ),
    "pairwise": (
        "llm_comparison",
        {},
        lambda s: {"prompt": "Hi?", "responses": ["Hello.", "Hey."]},
        ".choice-button",
    ),
}


@pytest.mark.parametrize("case", list(NUMBER_KEY_CASES))
def test_number_key_2_picks_the_second_choice_in_every_workspace(
    page, live_server, seeder, labeler, case
):
    task_type, taxonomy, params, controls = NUMBER_KEY_CASES[case]
    pid, _ = seeder.project(task_type, taxonomy, [params(seeder)], members=[(labeler, "labeler")])
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    shown_task(page)
    picked = page.locator(controls)
    expect(picked.first).to_be_visible()
    if task_type in ("image", "video"):
        expect(page.locator(".iw-stage[data-view]")).to_be_visible()
        page.locator(".iw-stage").focus()
    elif task_type == "text_spans":
        page.locator(".spans-text").focus()

    page.keyboard.press("2")
    if task_type in ("image", "video", "llm_comparison"):
        expect(picked.nth(1)).to_have_attribute("aria-pressed", "true")
        expect(picked.nth(0)).not_to_have_attribute("aria-pressed", "true")
    else:
        expect(picked.nth(1)).to_be_checked()
        expect(picked.nth(0)).not_to_be_checked()

    # The shortcut list states the rule, then what this workspace does with it.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("The n-th label, category or choice")
    expect(dialog).to_contain_text("the same in every workspace")
    page.keyboard.press("Escape")


def test_shift_and_a_number_relabels_the_selected_span(page, live_server, seeder, labeler):
    pid, _ = seeder.project(
        "text_spans", {"labels": TWO_LABELS}, [{"text": SPAN_TEXT}], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    shown_task(page)
    drag_over(page, ".spans-text", "Ada Lovelace")
    spans = page.get_by_role("list", name="Spans")
    expect(spans).to_contain_text("first: “Ada Lovelace”")
    page.locator(".spans-text").focus()
    page.keyboard.press("2")  # as in the image workspace: picks the label, relabels nothing
    expect(page.locator(".label-picker input").nth(1)).to_be_checked()
    expect(spans).to_contain_text("first: “Ada Lovelace”")
    page.keyboard.press("Shift+2")
    expect(spans).to_contain_text("second: “Ada Lovelace”")


# --- narrow screens ------------------------------------------------------------------------


def test_narrow_screen_gives_the_canvas_the_width(browser, live_server, seeder, labeler):
    pid, _ = seeder.project(
        "image", IMAGE_TAXONOMY, [image_params(seeder)], members=[(labeler, "labeler")]
    )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
        stage = page.locator(IMAGE_READY)
        expect(stage).to_be_visible()
        box = stage.bounding_box()
        assert box["width"] >= 300 and box["height"] >= 250, box
        # The tools panel went under the canvas, and nothing is wider than the screen.
        panel = page.locator(".iw-panel").bounding_box()
        assert panel["y"] >= box["y"] + box["height"], (panel, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        ARTIFACTS.mkdir(exist_ok=True)  # the screen, not the whole (long) page
        page.screenshot(path=str(ARTIFACTS / "workspace-image-narrow.png"))
    finally:
        context.close()


# --- brightness and contrast ---------------------------------------------------------------


def test_brightness_and_contrast_filter_the_image_and_the_video(page, live_server, seeder, labeler):
    image_pid, _ = seeder.project(
        "image", IMAGE_TAXONOMY, [image_params(seeder)], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{image_pid}?stage=label")
    stage = page.locator(IMAGE_READY)
    expect(stage).to_be_visible()
    expect(stage).to_have_attribute("data-filter", "none")
    before = pixel(page, 50, 50)
    assert distance(before, SKY) < 12, before

    brightness = page.get_by_role("slider", name="Brightness")
    brightness.focus()
    for _ in range(10):  # by keyboard: 10 steps of 5 %
        page.keyboard.press("ArrowRight")
    expect(stage).to_have_attribute("data-filter", "brightness(150%) contrast(100%)")
    wait_for(lambda: pixel(page, 50, 50) != before, timeout=10)  # repainted on the next frame
    after = pixel(page, 50, 50)
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
    page.get_by_role("slider", name="Contrast").fill("60")
    expect(stage).to_have_attribute("data-filter", "brightness(150%) contrast(60%)")
    screenshot(page, "workspace-image-adjusted")

    # For the session: the next workspace (a video) opens with the same setting.
    video_pid, _ = seeder.project(
        "video", {"labels": TWO_LABELS}, [video_params(seeder)], members=[(labeler, "labeler")]
    )
    page.goto(f"{live_server.url}/label/{video_pid}?stage=label")
    video_stage = page.locator(".video-ws .iw-stage[data-filter]")
    expect(video_stage).to_have_attribute("data-filter", "brightness(150%) contrast(60%)")
    page.get_by_role("button", name="Reset image").click()
    expect(video_stage).to_have_attribute("data-filter", "none")
    expect(page.get_by_role("slider", name="Brightness")).to_have_value("100")


# --- relations over the text ---------------------------------------------------------------


def test_relation_arrows_are_drawn_between_related_spans(page, live_server, seeder, labeler):
    taxonomy = {
        "labels": [{"name": "PERSON"}, {"name": "PLACE"}],
        "links": [{"name": "lives_in", "from_labels": ["PERSON"], "to_labels": ["PLACE"]}],
    }
    pid, _ = seeder.project(
        "text_spans", taxonomy, [{"text": SPAN_TEXT}], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    shown_task(page)
    drag_over(page, ".spans-text", "Ada Lovelace")
    page.locator(".spans-text").focus()
    page.keyboard.press("2")
    drag_over(page, ".spans-text", "London")
    arrows = page.locator("svg.relation-arrows path.relation-arrow")
    expect(arrows).to_have_count(0)
    page.locator(".spans-text").focus()
    page.keyboard.press("[")  # London was selected: [ goes back to Ada
    page.keyboard.press("r")
    page.keyboard.press("]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Relations")).to_contain_text("lives_in")
    expect(arrows).to_have_count(1)
    expect(page.locator("svg.relation-arrows text")).to_have_text("lives_in")

    ends = page.evaluate(
        """() => {
          const path = document.querySelector("path.relation-arrow");
          const origin = path.ownerSVGElement.getBoundingClientRect();
          const at = (p) => ({x: p.x + origin.left, y: p.y + origin.top});
          const segs = (id) => [...document.querySelectorAll(`.seg[data-spans~="${id}"]`)];
          const rect = (id) => segs(id)[0].getBoundingClientRect().toJSON();
          const text = (id) => segs(id).map((s) => s.textContent).join("");
          const [from, to] = [path.dataset.from, path.dataset.to];
          const length = path.getTotalLength();
          return {
            start: at(path.getPointAtLength(0)), end: at(path.getPointAtLength(length)),
            from: rect(from), to: rect(to), fromText: text(from), toText: text(to),
          };
        }"""
    )
    assert (ends["fromText"], ends["toText"]) == ("Ada Lovelace", "London"), ends
    for end, span in ((ends["start"], ends["from"]), (ends["end"], ends["to"])):
        assert span["left"] <= end["x"] <= span["right"], ends
        assert abs(end["y"] - span["top"]) <= 2, ends


# --- keypoint skeletons --------------------------------------------------------------------


def test_keypoint_skeleton_edges_from_the_taxonomy_are_drawn(page, live_server, seeder, labeler):
    taxonomy = {
        "labels": [
            {"name": "car", "geometries": ["box"]},
            {
                "name": "person",
                "geometries": ["keypoints"],
                "keypoints": ["head", "hip", "foot"],
                "skeleton": [["head", "hip"], ["hip", "foot"]],
            },
        ]
    }
    pid, _ = seeder.project(
        "image", taxonomy, [image_params(seeder)], members=[(labeler, "labeler")]
    )
    log_in(page, live_server.url, labeler, f"/label/{pid}?stage=label")
    expect(page.locator(IMAGE_READY)).to_be_visible()
    page.locator(".iw-stage").focus()
    page.keyboard.press("k")
    for point in [(60, 60), (260, 60), (260, 260)]:  # head, hip, foot: the last one finishes
        click(page, point)
    expect(page.locator(".iw-shapes > li")).to_have_count(1)
    page.keyboard.press("Escape")  # deselected: drawn on the base layer with the others

    def nearest(points, color) -> float:
        return min(distance(pixel(page, x, y), color) for x, y in points)

    edge = [(160, 60 + dy) for dy in (-1.5, -0.75, 0, 0.75, 1.5)]  # head-hip
    other_edge = [(260 + dx, 160) for dx in (-1.5, -0.75, 0, 0.75, 1.5)]  # hip-foot
    no_edge = [(160 + d, 160 + d) for d in (-1.5, -0.75, 0, 0.75, 1.5)]  # head-foot: not joined
    # The base layer repaints on the next frame after the deselection (and again if the stage
    # refits as the shape list grows): wait for the repaint, then read every pixel at once.
    wait_for(lambda: nearest(edge, SECOND_LABEL_COLOR) < 70, timeout=10)
    assert nearest(edge, SECOND_LABEL_COLOR) < 70
    assert nearest(other_edge, SECOND_LABEL_COLOR) < 70
    assert nearest(no_edge, SECOND_LABEL_COLOR) > 150
    assert nearest(no_edge, SKY) < 12
    screenshot(page, "workspace-image-skeleton")


# --- unsaved changes -----------------------------------------------------------------------


def test_unsaved_taxonomy_and_instructions_edits_are_guarded(page, live_server, seeder, manager):
    pid, _ = seeder.project(
        "categorization", {"labels": TWO_LABELS}, [image_params(seeder)], members=[]
    )
    page.goto(f"{live_server.url}/projects/{pid}")
    page.get_by_label("Email").fill(manager.user.email)
    page.get_by_label("Password").fill(manager.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("tab", name="Taxonomy").click()  # in the app's history: Back stays in it
    name = page.get_by_label("Label 1 name")
    name.fill("first choice")

    # Another tab: asked first; staying keeps the edit.
    page.get_by_role("tab", name="Instructions").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("unsaved taxonomy changes")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("tab", name="Taxonomy")).to_have_attribute("aria-selected", "true")
    expect(name).to_have_value("first choice")
    # The arrow keys between tabs and the browser's Back ask too.
    page.get_by_role("tab", name="Taxonomy").focus()
    page.keyboard.press("ArrowRight")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    page.go_back()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("tab", name="Taxonomy")).to_have_attribute("aria-selected", "true")
    expect(name).to_have_value("first choice")
    assert page.url.endswith(f"/projects/{pid}?tab=taxonomy")
    # Leaving: the change is dropped, and the tab opens.
    page.get_by_role("tab", name="Instructions").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave without saving").click()
    expect(page.get_by_role("tab", name="Instructions")).to_have_attribute("aria-selected", "true")

    # The instructions editor, through a link out of the project.
    editor = page.get_by_label("Instructions (markdown)")
    editor.fill("# Draft\nNot published yet.")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Projects").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("unsaved instruction changes")
    dialog.get_by_role("button", name="Cancel").click()
    expect(editor).to_have_value("# Draft\nNot published yet.")

    # Closing the page asks the browser's own question (beforeunload).
    asked = []
    page.on("dialog", lambda d: (asked.append(d.type), d.accept()))
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    assert asked == ["beforeunload"]


def test_saved_editors_let_you_leave_without_asking(page, live_server, seeder, manager):
    pid, _ = seeder.project(
        "categorization", {"labels": TWO_LABELS}, [image_params(seeder)], members=[]
    )
    page.goto(f"{live_server.url}/projects/{pid}?tab=taxonomy")
    page.get_by_label("Email").fill(manager.user.email)
    page.get_by_label("Password").fill(manager.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Label 1 name").fill("first choice")
    page.get_by_role("button", name="Save taxonomy").click()
    expect(page.get_by_text("Taxonomy saved")).to_be_visible()
    page.get_by_role("tab", name="Instructions").click()
    expect(page.get_by_label("Instructions (markdown)")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
