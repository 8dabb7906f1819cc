"""The image and video workspaces in a real browser against a real `assay serve`: drawing and
editing with the mouse and keyboard, attributes, pre-labels, undo/redo, review comments pinned
to shapes, inert label names, and tracked boxes interpolated between video keyframes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.web.conftest import screenshot, unique

WIDTH, HEIGHT = 640, 480
XSS = '<img src=x onerror="window.__xss=1">'
TOLERANCE = 2.5  # image pixels: mouse positions land on whole CSS pixels at about 0.9x zoom
TAXONOMY: dict[str, Any] = {
    "labels": [
        {
            "name": "car",
            "geometries": ["box", "polygon"],
            "attributes": [
                {
                    "name": "occluded",
                    "type": "choice",
                    "choices": ["yes", "no"],
                    "required": True,
                    "default": "no",
                },
                {
                    "name": "occlusion",
                    "type": "number",
                    "min": 0,
                    "max": 100,
                    "condition": {"attribute": "occluded", "in": ["yes"]},
                },
            ],
        },
        {"name": "person", "geometries": ["box", "keypoints"], "keypoints": ["head", "hand"]},
    ],
    "global_attributes": [{"name": "weather", "type": "choice", "choices": ["sun", "rain"]}],
}


def street_png(width: int = WIDTH, height: int = HEIGHT, shift: int = 0) -> bytes:
    """A small synthetic street scene (so screenshots show something to label); the car is
    `shift` pixels to the right of where it starts."""
    image = Image.new("RGB", (width, height), (118, 148, 182))
    draw = ImageDraw.Draw(image)
    k = width / WIDTH

    def box(x0: float, y0: float, x1: float, y1: float, dx: float = 0) -> list[float]:
        return [x0 * k + dx, y0 * k, x1 * k + dx, y1 * k]

    draw.rectangle(box(0, 298, WIDTH, HEIGHT), fill=(70, 72, 78))
    for x in range(0, WIDTH, 80):
        draw.rectangle(box(x + 20, 384, x + 60, 394), fill=(230, 230, 230))
    draw.rectangle(box(100, 230, 300, 330, shift), fill=(196, 48, 48))
    draw.ellipse(box(120, 310, 170, 360, shift), fill=(20, 20, 20))
    draw.ellipse(box(230, 310, 280, 360, shift), fill=(20, 20, 20))
    draw.ellipse(box(440, 120, 490, 170), fill=(240, 200, 160))
    draw.rectangle(box(445, 170, 485, 300), fill=(40, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Project:
    id: str
    tasks: list[str]


class Seeder:
    """Projects, blobs and tasks through the public API, as a manager would make them."""

    def __init__(self, url: str, manager) -> None:
        self.http = httpx.Client(base_url=url + "/api/v1", headers=manager.headers, timeout=30)

    def ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def blob(self, data: bytes, name: str = "street.png") -> str:
        return self.ok(self.http.post("/blobs", files={"file": (name, data, "image/png")}))[
            "sha256"
        ]

    def project(
        self,
        tasks: list[dict[str, Any]],
        members: list[tuple[Any, str]],
        *,
        task_type: str = "image",
        taxonomy: dict[str, Any] = TAXONOMY,
        pipeline: dict[str, Any] | None = None,
    ) -> Project:
        body: dict[str, Any] = {"name": unique(f"{task_type} scenes"), "task_type": task_type}
        body["taxonomy"] = taxonomy
        if pipeline:
            body["pipeline"] = pipeline
        project = self.ok(self.http.post("/projects", json=body))
        for account, role in members:
            self.ok(
                self.http.put(
                    f"/projects/{project['id']}/members/{account.user.id}", json={"role": role}
                )
            )
        created = self.ok(
            self.http.post(f"/projects/{project['id']}/tasks/bulk", json={"tasks": tasks})
        )
        return Project(project["id"], [ref["id"] for ref in created["tasks"]])

    def image_task(self, **extra: Any) -> dict[str, Any]:
        sha = self.blob(street_png())
        params = {"attachment": f"blob:{sha}", "image_width": WIDTH, "image_height": HEIGHT}
        return {"params": params, **extra}

    def response(self, task_id: str) -> dict[str, Any]:
        task = self.ok(self.http.get(f"/tasks/{task_id}"))
        assert task["status"] in ("completed", "pending"), task["status"]
        return task["response"]


@pytest.fixture
def seeder(live_server, accounts) -> Iterator[Seeder]:
    seeder = Seeder(live_server.url, accounts.make("manager"))
    yield seeder
    seeder.http.close()


@pytest.fixture
def labeler(accounts):
    return accounts.make("labeler")


# --- the page ---------------------------------------------------------------------------


def log_in(page, url: str, account, path: str) -> None:
    page.goto(url + path)
    page.get_by_label("Email").fill(account.user.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()


def open_workspace(page, url: str, account, project: Project, kind: str = "image") -> None:
    log_in(page, url, account, f"/label/{project.id}?stage=label")
    ready = (
        ".image-ws[data-ready] .iw-stage[data-view]" if kind == "image" else ".video-ws .iw-stage"
    )
    expect(page.locator(ready)).to_be_visible()
    page.locator(".iw-stage").focus()


def at(page, x: float, y: float) -> tuple[float, float]:
    """Image pixel (x, y) → page coordinates, from the view the stage publishes."""
    stage = page.locator(".iw-stage")
    box = stage.bounding_box()
    scale, tx, ty = map(float, stage.get_attribute("data-view").split())
    return box["x"] + tx + x * scale, box["y"] + ty + y * scale


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*at(page, *start))
    page.mouse.down()
    page.mouse.move(*at(page, *end), steps=6)
    page.mouse.up()


def click(page, point: tuple[float, float]) -> None:
    page.mouse.click(*at(page, *point))


def submit(page) -> None:
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("heading", name="All done here")).to_be_visible()


def near(actual: dict[str, float], expected: dict[str, float]) -> bool:
    return all(abs(actual[k] - v) <= TOLERANCE for k, v in expected.items())


def shape_rows(page):
    return page.locator(".iw-shapes > li")


# --- image ------------------------------------------------------------------------------


def test_draw_a_box_with_the_mouse_and_set_its_attributes(page, live_server, seeder, labeler):
    project = seeder.project([seeder.image_task()], [(labeler, "labeler")])
    open_workspace(page, live_server.url, labeler, project)

    page.keyboard.press("b")
    expect(page.get_by_role("button", name="Box", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    drag(page, (100, 220), (310, 370))
    expect(page.get_by_role("heading", name="Selected: car box 1")).to_be_visible()
    expect(page.get_by_label("occlusion")).to_have_count(0)  # conditional: occluded = yes
    page.get_by_label("occluded").select_option("yes")
    page.get_by_label("occlusion", exact=True).fill("40")
    page.get_by_label("occlusion", exact=True).press("Tab")
    page.get_by_label("weather").select_option("rain")
    # A second box, for the person, labeled by number key before drawing.
    page.locator(".iw-stage").focus()
    page.keyboard.press("2")
    drag(page, (440, 110), (490, 305))
    expect(shape_rows(page)).to_have_count(2)
    screenshot(page, "workspace-image")
    submit(page)

    response = seeder.response(project.tasks[0])
    car, person = response["annotations"]
    assert (car["type"], car["label"], person["label"]) == ("box", "car", "person")
    assert near(car, {"x": 100, "y": 220, "width": 210, "height": 150}), car
    assert car["attributes"] == {"occluded": "yes", "occlusion": 40}
    assert near(person, {"x": 440, "y": 110, "width": 50, "height": 195}), person
    assert response["global_attributes"] == {"weather": "rain"}


def test_polygon_vertices_move_insert_and_delete_with_undo_and_redo(
    page, live_server, seeder, labeler
):
    project = seeder.project([seeder.image_task()], [(labeler, "labeler")])
    open_workspace(page, live_server.url, labeler, project)

    page.keyboard.press("p")
    for point in [(100, 100), (300, 100), (200, 250)]:
        click(page, point)
    page.keyboard.press("Enter")
    expect(shape_rows(page)).to_have_count(1)
    # Drag the second vertex; then drag the midpoint of the first edge to insert a vertex.
    drag(page, (300, 100), (360, 60))
    drag(page, (230, 80), (230, 30))
    # Click the last vertex to select it, and delete it.
    click(page, (200, 250))
    page.keyboard.press("Delete")
    expect(shape_rows(page)).to_have_count(1)  # the vertex went, not the polygon

    # Undo every edit back to an empty image, then redo all of them.
    for _ in range(4):
        page.keyboard.press("Control+z")
    expect(shape_rows(page)).to_have_count(0)
    for _ in range(4):
        page.keyboard.press("Control+Shift+z")
    expect(shape_rows(page)).to_have_count(1)
    submit(page)

    (polygon,) = seeder.response(project.tasks[0])["annotations"]
    assert polygon["type"] == "polygon" and polygon["label"] == "car"
    vertices = polygon["vertices"]
    assert len(vertices) == 3, vertices
    expected = [(100, 100), (230, 30), (360, 60)]
    for vertex, (x, y) in zip(vertices, expected, strict=True):
        assert near(vertex, {"x": x, "y": y}), vertices
    assert polygon["attributes"] == {"occluded": "no"}  # the default


def test_a_pre_label_is_accepted_and_another_deleted(page, live_server, seeder, labeler):
    prelabels = {
        "annotations": [
            {
                "type": "box",
                "label": "car",
                "x": 100,
                "y": 230,
                "width": 200,
                "height": 130,
                "confidence": 0.91,
                "attributes": {"occluded": "no"},
            },
            {
                "type": "box",
                "label": "person",
                "x": 20,
                "y": 20,
                "width": 40,
                "height": 40,
                "confidence": 0.2,
            },
        ]
    }
    project = seeder.project([seeder.image_task(prelabels=prelabels)], [(labeler, "labeler")])
    open_workspace(page, live_server.url, labeler, project)

    rows = shape_rows(page)
    expect(rows).to_have_count(2)
    expect(page.get_by_role("heading", name="Shapes (0) · 2 suggested")).to_be_visible()
    page.keyboard.press("v")
    click(page, (200, 300))
    expect(page.get_by_text("A pre-label suggestion (confidence 91%)")).to_be_visible()
    page.keyboard.press("a")
    expect(page.get_by_role("heading", name="Shapes (1) · 1 suggested")).to_be_visible()
    page.get_by_role("button", name="Delete suggested person box 1").click()
    expect(rows).to_have_count(1)
    submit(page)

    (car,) = seeder.response(project.tasks[0])["annotations"]
    assert car["label"] == "car" and "confidence" not in car
    assert (car["x"], car["y"], car["width"], car["height"]) == (100, 230, 200, 130)


def mask_pixel(rle: dict[str, Any], x: int, y: int) -> int:
    """One pixel of an uncompressed COCO RLE (column-major runs, zeros first)."""
    height, _ = rle["size"]
    index = x * height + y
    value = 0
    for run in rle["counts"]:
        if index < run:
            return value
        index -= run
        value ^= 1
    raise AssertionError("pixel outside the mask")


def test_ellipse_cuboid_line_keypoints_point_and_brush_mask(page, live_server, seeder, labeler):
    taxonomy = {
        "labels": [
            {"name": "thing", "geometries": ["line", "point", "ellipse", "cuboid", "mask"]},
            {"name": "person", "geometries": ["keypoints"], "keypoints": ["head", "hand"]},
        ]
    }
    project = seeder.project([seeder.image_task()], [(labeler, "labeler")], taxonomy=taxonomy)
    open_workspace(page, live_server.url, labeler, project)

    page.keyboard.press("e")
    drag(page, (400, 100), (500, 160))
    page.keyboard.press("c")
    drag(page, (100, 50), (200, 130))
    page.keyboard.press("l")
    click(page, (20, 400))
    click(page, (120, 420))
    page.mouse.dblclick(*at(page, 220, 400))
    page.keyboard.press("k")
    click(page, (600, 40))
    page.keyboard.press("m")
    drag(page, (300, 300), (400, 300))  # a stroke 24 px wide (brush radius 12)
    page.keyboard.press("x")  # the eraser, on the selected mask
    drag(page, (350, 280), (350, 320))
    page.keyboard.press("2")
    page.keyboard.press("k")
    click(page, (450, 420))
    page.keyboard.down("Shift")  # a hidden keypoint
    click(page, (470, 450))
    page.keyboard.up("Shift")
    expect(shape_rows(page)).to_have_count(6)
    submit(page)

    shapes = {a["type"]: a for a in seeder.response(project.tasks[0])["annotations"]}
    assert set(shapes) == {"ellipse", "cuboid", "line", "point", "mask", "keypoints"}
    ellipse = shapes["ellipse"]
    assert near(ellipse, {"cx": 450, "cy": 130, "rx": 50, "ry": 30, "rotation": 0}), ellipse
    assert near(shapes["cuboid"]["front"], {"x": 100, "y": 50, "width": 100, "height": 80})
    assert len(shapes["line"]["vertices"]) == 3
    assert near(shapes["point"], {"x": 600, "y": 40}) and shapes["point"]["label"] == "thing"
    head, hand = shapes["keypoints"]["points"]
    assert (head["name"], head["visible"], hand["name"], hand["visible"]) == (
        "head",
        True,
        "hand",
        False,
    )
    rle = shapes["mask"]["rle"]
    assert rle["size"] == [HEIGHT, WIDTH] and sum(rle["counts"]) == WIDTH * HEIGHT
    assert mask_pixel(rle, 310, 300) == 1 and mask_pixel(rle, 390, 305) == 1
    assert mask_pixel(rle, 350, 300) == 0  # erased
    assert mask_pixel(rle, 310, 330) == 0 and mask_pixel(rle, 10, 10) == 0


def test_a_label_name_with_markup_stays_inert(page, live_server, seeder, labeler):
    taxonomy = {"labels": [{"name": XSS, "geometries": ["box"]}]}
    project = seeder.project([seeder.image_task()], [(labeler, "labeler")], taxonomy=taxonomy)
    open_workspace(page, live_server.url, labeler, project)

    drag(page, (100, 100), (200, 200))
    expect(page.get_by_role("button", name=f"{XSS} box 1", exact=True)).to_be_visible()
    expect(page.locator(".iw-labels button").first).to_contain_text(XSS)
    assert page.locator(".image-ws img").count() == 0
    assert page.evaluate("window.__xss") is None
    submit(page)
    (box,) = seeder.response(project.tasks[0])["annotations"]
    assert box["label"] == XSS


def test_review_comment_pinned_to_a_shape_reaches_the_labeler(
    page, browser, live_server, seeder, labeler, accounts
):
    reviewer = accounts.make("reviewer")
    pipeline = {
        "stages": [
            {"name": "label", "kind": "label"},
            {"name": "review", "kind": "review", "sample_rate": 1.0},
        ]
    }
    project = seeder.project(
        [seeder.image_task()],
        [(labeler, "labeler"), (reviewer, "reviewer")],
        pipeline=pipeline,
    )
    # The labeler's work, submitted through the API: one box too small for the car.
    with httpx.Client(base_url=live_server.url + "/api/v1", headers=labeler.headers) as http:
        lease = http.post(f"/projects/{project.id}/queue/next").json()
        box = {
            "id": "car-1",
            "type": "box",
            "label": "car",
            "x": 100,
            "y": 230,
            "width": 120,
            "height": 80,
        }
        answer = http.post(
            f"/tasks/{lease['task']['id']}/submit",
            json={"lease_token": lease["lease_token"], "response": {"annotations": [box]}},
        )
        assert answer.status_code == 200, answer.text

    log_in(page, live_server.url, reviewer, f"/review/{project.id}?stage=review")
    expect(page.locator(".image-ws[data-ready] .iw-stage[data-view]")).to_be_visible()
    # The key goes to the focused workspace: focus it first, and see the tool change before
    # clicking (a "v" sent while the page still settles would be lost, and the click with it).
    page.locator(".iw-stage").focus()
    page.keyboard.press("v")
    expect(page.locator('.iw-toolbar button.tool[aria-keyshortcuts="V"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    click(page, (150, 260))
    expect(page.get_by_role("heading", name="Selected: car box 1")).to_be_visible()
    page.get_by_label("Comment on this shape").fill("The box misses the back of the car")
    page.get_by_role("button", name="Pin comment").click()
    expect(page.locator(".iw-comment-list.mine li")).to_contain_text("misses the back")
    screenshot(page, "workspace-image-review")
    page.get_by_role("button", name="Reject…").click()
    page.get_by_role("dialog").get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", name="Nothing to review")).to_be_visible()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        rework = context.new_page()
        open_workspace(rework, live_server.url, labeler, project)
        comments = rework.locator(".iw-comments")
        expect(comments).to_contain_text("The box misses the back of the car")
        comments.get_by_role("button", name="Show").click()
        expect(rework.get_by_role("heading", name="Selected: car box 1")).to_be_visible()
        expect(rework.locator(".iw-selected .pinned-comment")).to_contain_text("misses the back")
    finally:
        context.close()


# --- video ------------------------------------------------------------------------------


def test_video_keyframes_interpolate_the_box_in_between(page, live_server, seeder, labeler):
    taxonomy = {"labels": [{"name": "car", "geometries": ["box"]}]}
    frames = []
    for i in range(8):
        sha = seeder.blob(street_png(320, 240, shift=i * 20), f"frame-{i}.png")
        frames.append(f"blob:{sha}")  # the lease shows them as signed media URLs
    params = {
        "attachment": f"blob:{seeder.blob(street_png(320, 240), 'poster.png')}",
        "frames": frames,
        "frame_count": 8,
        "image_width": 320,
        "image_height": 240,
    }
    project = seeder.project(
        [{"params": params}], [(labeler, "labeler")], task_type="video", taxonomy=taxonomy
    )
    open_workspace(page, live_server.url, labeler, project, kind="video")
    expect(page.locator(".iw-stage[data-view]")).to_be_visible()

    drag(page, (48, 113), (152, 182))  # a track with a keyframe on frame 1, on the car
    for _ in range(4):
        page.keyboard.press(".")
    expect(page.get_by_text("Frame 5 / 8")).to_be_visible()
    page.keyboard.press("v")
    drag(page, (100, 145), (180, 145))  # moving the held box makes frame 5 a keyframe
    expect(page.locator(".vw-track-frames")).to_contain_text("Frames 1\N{EN DASH}5")
    page.keyboard.press(",")
    page.keyboard.press(",")
    screenshot(page, "workspace-video")
    submit(page)

    annotations = seeder.response(project.tasks[0])["annotations"]
    assert [a["frame"] for a in annotations] == [0, 1, 2, 3, 4]
    assert [a["keyframe"] for a in annotations] == [True, False, False, False, True]
    assert len({a["track_id"] for a in annotations}) == 1
    first, middle, last = annotations[0], annotations[2], annotations[4]
    assert near(last, {"x": first["x"] + 80, "y": first["y"]})
    for key in ("x", "y", "width", "height"):
        assert middle[key] == pytest.approx((first[key] + last[key]) / 2, abs=0.01)
