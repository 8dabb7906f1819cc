"""The curation pages in a real browser against a real `assay serve`: the datasets list, and a
dataset's explorer — thumbnails with their boxes and polygons, prediction overlays, the query
bar (filtering, a bad query's error at its column, field completion), facets that filter,
the object view sorted by area, an item's detail, the virtualised grid paging as it scrolls,
and a slice made from a selection and sent to labeling."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.curation import add_predictions
from tests.web.conftest import screenshot as full_screenshot
from tests.web.test_manager import log_in

API = "/api/v1"
WIDTH, HEIGHT = 320, 240
XSS = '<img src=x onerror="window.__xss=1">'


def scene_png(shade: int) -> bytes:
    """A real PNG of a street-like scene: a sky gradient over a grey road with lane marks."""
    rows = []
    for y in range(HEIGHT):
        if y < HEIGHT * 0.45:
            t = y / (HEIGHT * 0.45)
            pixel = bytes([int(120 + 80 * t), int(170 + 50 * t), 235 - shade // 4])
            row = pixel * WIDTH
        else:
            road = bytes([90 + shade // 3, 92 + shade // 3, 96 + shade // 3])
            mark = bytes([235, 235, 220])
            lane = y % 24 < 12
            row = b"".join(mark if lane and abs(x - WIDTH // 2) < 3 else road for x in range(WIDTH))
        rows.append(b"\x00" + row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def api(live_server, manager) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + API, headers=manager.headers, timeout=30) as c:
        yield c


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def box(label: str, x: float, y: float, w: float, h: float, **extra: Any) -> dict[str, Any]:
    return {"type": "box", "label": label, "x": x, "y": y, "width": w, "height": h, **extra}


def street_item(n: int, shas: list[str]) -> dict[str, Any]:
    """Item n: n % 4 cars of growing size, a person polygon on odd n, rain every third."""
    cars = [box("car", 20 + 70 * k, 130 + 10 * k, 40 + n % 13, 30 + k) for k in range(n % 4)]
    person = [
        {
            "type": "polygon",
            "label": "person",
            "vertices": [{"x": 250, "y": 100}, {"x": 275, "y": 104}, {"x": 262, "y": 190}],
        }
    ] * (n % 2)
    return {
        "reference_id": f"street-{n:03d}",
        "media": f"blob:{shas[n % len(shas)]}",
        "width": WIDTH,
        "height": HEIGHT,
        "metadata": {
            "weather": "rain" if n % 3 == 0 else "sun",
            "speed": n,
            "camera": {"id": "front"},
        },
        "tags": ["night"] if n % 5 == 0 else [],
        "annotations": cars + person,
    }


def make_dataset(
    api: httpx.Client, db, name: str, count: int, extra_tag: str | None = None
) -> dict[str, Any]:
    """`count` street items (and `extra_tag` on street-001) with a model's predictions."""
    shas = [
        ok(api.post("/blobs", files={"file": (f"s{i}.png", scene_png(60 * i), "image/png")}))[
            "sha256"
        ]
        for i in range(3)
    ]
    dataset = ok(api.post("/datasets", json={"name": name}))
    items = [street_item(n, shas) for n in range(count)]
    if extra_tag:
        items[1]["tags"].append(extra_tag)
    for start in range(0, count, 500):
        ok(api.post(f"/datasets/{dataset['id']}/items", json={"items": items[start : start + 500]}))
    predicted = {
        f"street-{n:03d}": [box("car", 24, 128, 44, 36, confidence=0.4 + 0.01 * n)]
        for n in range(count)
        if n % 2 == 0
    }
    dataset["model_id"] = add_predictions(db, dataset["id"], "detector", predicted)
    return dataset


def screenshot(page, name: str) -> None:
    """A screenshot without the toasts of what the test did before."""
    page.evaluate("window.scrollTo(0, 0); document.getElementById('toasts')?.replaceChildren()")
    full_screenshot(page, name)


def open_explorer(page, live_server, manager, dataset_id: str, query: str = "") -> list[str]:
    dialogs = log_in(page, live_server.url, manager, f"/datasets/{dataset_id}{query}")
    expect(
        page.get_by_role("status").filter(has_text=re.compile(r"\d+ (items|objects)"))
    ).to_be_visible()
    return dialogs


def count_text(page) -> str:
    return page.locator(".explore-count").inner_text()


def test_datasets_page_lists_counts_and_creates(
    page, live_server, manager, api, db, accounts, browser
):
    make_dataset(api, db, "Streets", 12)
    dialogs = log_in(page, live_server.url, manager, "/datasets")
    expect(page.get_by_role("link", name="Datasets")).to_have_attribute("aria-current", "page")
    row = page.get_by_role("row").filter(has_text="Streets")
    expect(row.locator('[data-count="items"]')).to_have_text("12")
    gt = sum(n % 4 + n % 2 for n in range(12))
    expect(row.locator('[data-count="annotations"]')).to_have_text(str(gt))
    expect(row.locator('[data-count="predictions"]')).to_have_text("6")
    screenshot(page, "curation-datasets")

    page.get_by_role("button", name="New dataset").click()
    dialog = page.get_by_role("dialog", name="New dataset")
    dialog.get_by_role("button", name="Create dataset").click()
    expect(dialog.locator(".field-error")).to_have_text("Name is required.")
    dialog.get_by_label("Name").fill("Highway <b>cams</b>")
    dialog.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Highway <b>cams</b>")).to_be_visible()
    expect(page.locator(".explore-count")).to_have_text("0 items")
    expect(page.locator(".grid-empty")).to_contain_text("No items yet")
    assert dialogs == []

    # Labelers have no Datasets link.
    labeler = accounts.make("labeler")
    context = browser.new_context()
    try:
        theirs = context.new_page()
        log_in(theirs, live_server.url, labeler, "/projects")
        expect(theirs.get_by_role("link", name="Projects")).to_be_visible()
        expect(theirs.get_by_role("navigation", name="Main").get_by_text("Datasets")).to_be_hidden()
    finally:
        context.close()


def test_explorer_thumbnails_boxes_predictions_and_the_query_bar(
    page, live_server, manager, api, db
):
    dataset = make_dataset(api, db, "Streets", 40)
    dialogs = open_explorer(page, live_server, manager, dataset["id"])
    assert count_text(page) == "40 items"
    first = page.locator('.item-cell[data-reference="street-003"]')
    expect(first.locator("img")).to_have_attribute("src", re.compile(r"/media/"))
    expect(first.locator('svg rect[data-source="gt"][data-label="car"]')).to_have_count(3)
    expect(
        page.locator('.item-cell[data-reference="street-001"] svg polygon[data-label="person"]')
    ).to_have_count(1)
    # The image really loaded through its signed URL.
    loaded = "document.querySelector('[data-reference=\"street-003\"] img').naturalWidth === 320"
    page.wait_for_function(loaded)
    # Predictions are drawn once their model is switched on.
    expect(page.locator('svg [data-source="detector"]')).to_have_count(0)
    page.get_by_label("Show predictions of detector").check()
    expect(
        page.locator('.item-cell[data-reference="street-002"] svg rect[data-source="detector"]')
    ).to_have_count(1)
    screenshot(page, "curation-explorer")

    # A query filters the grid.
    query = page.get_by_role("combobox", name="Query")
    query.fill('annotations.car > 2 AND metadata.weather = "rain"')
    query.press("Enter")
    expected = [n for n in range(40) if n % 4 == 3 and n % 3 == 0]
    expect(page.locator(".explore-count")).to_have_text(f"{len(expected)} items match")
    expect(page.locator(".item-cell")).to_have_count(len(expected))
    assert "q=annotations.car" in page.url

    # A bad query: the server's message, and a caret under the column it names.
    text = "metadata.speed > 1 AND AND tags"
    query.fill(text)
    query.press("Enter")
    error = page.locator(".qb-error")
    expect(error).to_contain_text('unexpected "AND" at column 24')
    expect(page.locator(".qb-caret")).to_have_attribute("data-column", "24")
    expect(query).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.querySelector('.qb-input').selectionStart") == 23
    screenshot(page, "curation-query-error")
    query.fill("metdata.speed > 1")
    query.press("Enter")
    expect(error).to_contain_text('did you mean "metadata.speed"')
    expect(page.locator(".qb-caret")).to_have_attribute("data-column", "1")

    # Field names complete from what the dataset has.
    query.fill("")
    query.press_sequentially("metadata.cam")
    option = page.get_by_role("option", name="metadata.camera.id")
    expect(option).to_be_visible()
    query.press("ArrowDown")
    query.press("Enter")
    assert query.input_value() == "metadata.camera.id "
    query.press_sequentially('= "front"')
    query.press("Enter")
    expect(page.locator(".explore-count")).to_have_text("40 items match")
    assert dialogs == []


def test_facets_filter_and_the_object_view_sorts_by_area(page, live_server, manager, api, db):
    dataset = make_dataset(api, db, "Streets", 40)
    open_explorer(page, live_server, manager, dataset["id"])
    labels = page.locator('.facet-group[data-source="gt"]')
    cars = sum(n % 4 for n in range(40))
    expect(labels.get_by_role("button", name=re.compile(r"^car"))).to_contain_text(str(cars))
    labels.get_by_role("button", name=re.compile(r"^person")).click()
    expect(page.get_by_role("combobox", name="Query")).to_have_value("annotations.person > 0")
    expect(page.locator(".explore-count")).to_have_text("20 items match")
    page.locator(".facet-section").filter(has_text="Tags").get_by_role(
        "button", name=re.compile("^night")
    ).click()
    expect(page.get_by_role("combobox", name="Query")).to_have_value(
        'annotations.person > 0 AND "night" IN tags'
    )
    matched = [n for n in range(40) if n % 2 == 1 and n % 5 == 0]
    expect(page.locator(".explore-count")).to_have_text(f"{len(matched)} items match")
    # A histogram bar filters to its bin.
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator(".explore-count")).to_have_text("40 items")
    page.locator('.histogram[data-field="metadata.speed"] .bar').first.click()
    expect(page.get_by_role("combobox", name="Query")).to_have_value(
        re.compile(r"^metadata.speed >= 0 AND metadata.speed < ")
    )
    expect(page.locator(".explore-count")).to_have_text("2 items match")
    screenshot(page, "curation-facets")

    # The object view: crops, sorted by area both ways.
    page.get_by_role("button", name="Clear", exact=True).click()
    page.get_by_role("combobox", name="Query").fill('object.label = "car"')
    page.get_by_role("combobox", name="Query").press("Enter")
    page.get_by_role("button", name="Objects", exact=True).click()
    predicted_cars = 20
    expect(page.locator(".explore-count")).to_have_text(f"{cars + predicted_cars} objects match")
    page.get_by_label("Sort by").select_option("area")
    areas = [(40 + n % 13) * (30 + k) for n in range(40) for k in range(n % 4)] + [44 * 36] * 20
    first = page.locator('.object-cell[data-index="0"]')
    expect(first).to_have_attribute("data-area", str(max(areas)))
    page.get_by_label("Sort direction").select_option("Ascending")
    expect(first).to_have_attribute("data-area", str(min(areas)))
    assert "sort=area" in page.url and "view=objects" in page.url
    expect(first.locator("img")).to_have_attribute("src", re.compile("/media/"))
    screenshot(page, "curation-objects")
    # In the object view a label filters to those objects.
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator(".explore-count")).to_have_text(f"{cars + predicted_cars + 20} objects")
    gt_labels = page.locator('.facet-group[data-source="gt"]')
    gt_labels.get_by_role("button", name=re.compile(r"^person")).click()
    expect(page.get_by_role("combobox", name="Query")).to_have_value('annotation.label = "person"')
    expect(page.locator(".explore-count")).to_have_text("20 objects match")
    expect(page.get_by_label("Show predictions of detector")).to_have_count(0)


def test_item_detail_and_a_slice_from_a_selection_sent_to_labeling(
    page, live_server, manager, api, db
):
    dataset = make_dataset(api, db, "Streets", 24, extra_tag=XSS)
    project = ok(
        api.post(
            "/projects",
            json={
                "name": "Street boxes",
                "task_type": "image",
                "taxonomy": {"labels": [{"name": "car", "geometries": ["box"]}]},
            },
        )
    )
    dialogs = open_explorer(page, live_server, manager, dataset["id"])

    # An item's detail: the image with its shapes, metadata, tags and annotations.
    page.get_by_role("button", name="Open street-015").click()
    detail = page.get_by_role("dialog", name="street-015")
    expect(detail.locator(".detail-stage svg rect")).to_have_count(3)
    expect(detail.get_by_role("table", name="Metadata")).to_contain_text("camera.id")
    expect(detail.get_by_role("table", name="Metadata")).to_contain_text("front")
    expect(detail.locator(".tags .chip")).to_have_text(["night"])
    expect(detail.get_by_role("list", name="Annotations").locator("li")).to_have_count(4)
    page.wait_for_function("document.querySelector('dialog .detail-image').naturalWidth === 320")
    screenshot(page, "curation-item-detail")
    detail.get_by_role("button", name="Close").click()

    # Select three items (a click, then a shift-click for the range), make a slice of them.
    page.get_by_label("Select street-002").click()
    page.get_by_label("Select street-004").click(modifiers=["Shift"])
    expect(page.locator(".selection-bar")).to_contain_text("3 items selected")
    expect(page.locator(".item-cell.selected")).to_have_count(3)
    page.get_by_role("button", name="New slice from selection").click()
    new = page.get_by_role("dialog", name="New slice")
    new.get_by_label("Name").fill("to relabel")
    new.get_by_role("button", name="Create slice").click()
    expect(page.locator(".slice").filter(has_text="to relabel")).to_be_visible()
    page.get_by_role("button", name=re.compile("^to relabel")).click()
    expect(page.locator(".explore-count")).to_have_text("3 items match")
    expect(page.locator(".item-cell")).to_have_count(3)

    # A frozen slice of the query, too.
    page.get_by_role("combobox", name="Query").fill("annotations.car >= 3")
    page.get_by_role("combobox", name="Query").press("Enter")
    expect(page.locator(".explore-count")).to_have_text("6 items match")
    page.get_by_role("button", name="New slice", exact=True).click()
    new = page.get_by_role("dialog", name="New slice")
    new.get_by_label("Name").fill("busy")
    new.get_by_label("Items").select_option("frozen")
    new.get_by_role("button", name="Create slice").click()
    expect(page.locator(".slice").filter(has_text="busy")).to_be_visible()

    # Send the selection's slice to labeling, with the model's predictions as pre-labels.
    page.get_by_role("button", name="Send to relabel to labeling").click()
    send = page.get_by_role("dialog", name="Send “to relabel” to labeling")
    expect(send.get_by_label("Project")).to_have_value(project["id"])
    send.get_by_label("Batch name").fill("relabel-1")
    send.get_by_label("Model (optional)").fill(dataset["model_id"])
    send.get_by_role("button", name="Send").click()
    link = page.locator(".link-list .link")
    expect(link).to_have_count(1)
    expect(link).to_contain_text("sent 3 · returned 0")
    expect(link.get_by_role("link")).to_have_text("relabel-1")
    screenshot(page, "curation-slices")
    batches = ok(api.get("/batches", params={"project_id": project["id"]}))["items"]
    assert [b["name"] for b in batches] == ["relabel-1"]
    assert batches[0]["counts"]["pending"] == 3

    # A slice can go (its items stay).
    page.get_by_role("button", name="Delete busy").click()
    page.get_by_role("dialog", name="Delete slice").get_by_role("button", name="Delete").click()
    expect(page.locator(".slice")).to_have_count(1)
    assert [s["name"] for s in ok(api.get(f"/datasets/{dataset['id']}/slices"))["items"]] == [
        "to relabel"
    ]

    # Text from the data stays text: a tag that looks like HTML filters as a tag.
    page.get_by_role("button", name="Clear", exact=True).click()
    page.locator(".facet-section").filter(has_text="Tags").get_by_role("button", name=XSS).click()
    expect(page.locator(".explore-count")).to_have_text("1 item matches")
    expect(page.locator(".item-cell")).to_have_count(1)
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_the_grid_renders_only_what_is_on_screen_and_pages_as_it_scrolls(
    page, live_server, manager, api, db
):
    dataset = make_dataset(api, db, "Many", 1200)
    requests: list[dict] = []
    page.on(
        "request",
        lambda r: (
            requests.append(r.post_data_json)
            if r.url.endswith("/query") and r.method == "POST"
            else None
        ),
    )
    open_explorer(page, live_server, manager, dataset["id"])
    assert count_text(page) == "1,200 items"
    rendered = page.locator(".vgrid-cell").count()
    assert 0 < rendered < 100
    assert len(requests) == 1 and requests[0]["limit"] == 100
    # Jump to the end: the page there is read by its offset (not every page in between), and
    # only the last rows are drawn.
    page.locator(".vgrid").evaluate("grid => grid.scrollTop = grid.scrollHeight")
    expect(page.locator('.item-cell[data-reference="street-1199"]')).to_be_visible()
    assert page.locator(".vgrid-cell").count() < 100
    assert page.locator('.item-cell[data-reference="street-000"]').count() == 0
    assert len(requests) == 2 and requests[1]["offset"] > 1000, requests
    # Back to the middle: the rows there are fetched in turn; the first page is kept.
    with page.expect_request(lambda r: r.url.endswith("/query") and r.method == "POST"):
        page.locator(".vgrid").evaluate("grid => grid.scrollTop = grid.scrollHeight / 2")
    expect(page.locator(".vgrid-cell.pending")).to_have_count(0)
    assert len(requests) == 3 and 400 < requests[2]["offset"] < 800, requests
    page.locator(".vgrid").evaluate("grid => grid.scrollTop = 0")
    expect(page.locator('.item-cell[data-reference="street-000"]')).to_be_visible()
    assert len(requests) == 3


MILLION_GRID = """async () => {
  const { virtualGrid } = await import("/static/js/curate/grid.js");
  const asked = [];
  const grid = virtualGrid({
    cellWidth: 184, cellHeight: 204, gap: 10, label: "A million",
    render: (i) => Object.assign(document.createElement("div"), { textContent: `cell ${i}` }),
    need: (first, last) => asked.push(last),
  });
  grid.element.style.height = "600px";
  grid.element.style.width = "1000px";
  document.body.append(grid.element);
  grid.reset(1000000);
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  await frame();
  const top = { rendered: grid.rendered(), last: asked.at(-1), height: grid.element.scrollHeight };
  grid.element.scrollTop = grid.element.scrollHeight;
  await frame();
  const cells = [...grid.element.querySelectorAll(".vgrid-cell")];
  const bottom = grid.element.getBoundingClientRect().bottom;
  const lastCell = cells.find((c) => c.dataset.index === "999999");
  return {
    top, rendered: grid.rendered(), last: asked.at(-1),
    lastVisible: !!lastCell && lastCell.getBoundingClientRect().bottom <= bottom + 1,
    columns: grid.columns,
  };
}"""


def test_a_million_cells_render_only_the_visible_rows(page, own_site):
    """The grid itself at 1,000,000 cells (no million items needed to test the layout): a few
    rows in the DOM at the top and at the very bottom, the spacer within layout limits."""
    log_in(page, own_site.server.url, own_site.accounts.make("manager"), "/datasets")
    expect(page.get_by_role("heading", name="No datasets yet")).to_be_visible()
    found = page.evaluate(MILLION_GRID)
    columns = found["columns"]
    assert columns == 5
    assert 0 < found["top"]["rendered"] <= columns * 8
    assert found["top"]["last"] < columns * 8
    assert found["top"]["height"] <= 8_000_000
    assert found["last"] == 999_999 and found["lastVisible"]
    assert 0 < found["rendered"] <= columns * 8
