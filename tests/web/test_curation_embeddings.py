"""The explorer's embedding tools in a real browser against a real `assay serve`: Find similar
from an item, the 2D map with a lasso drawn with the mouse whose selection becomes a slice,
the autotag refinement loop ending in a queryable `autotag.<name>`, and computing embeddings
as a job with its progress bar."""

from __future__ import annotations

import random
import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.web.test_curation import api, manager, ok, open_explorer, scene_png, screenshot

__all__ = ["api", "manager"]  # fixtures used by the tests below

CLUSTERS = ("a", "b", "c")
PER_CLUSTER = 8
DIM = 8


def vector(cluster: int, rng: random.Random) -> list[float]:
    """A point near the cluster's own axis: the clusters are far apart, tight within."""
    return [(1.0 if d == 2 * cluster else 0.0) + rng.uniform(-0.05, 0.05) + 0.2 for d in range(DIM)]


def clustered_dataset(api: httpx.Client, name: str = "Clusters") -> dict[str, Any]:
    """3 clusters of 8 images (a-000 … c-007), each cluster one shade, with vectors in
    space `clip` clustered the same way."""
    shas = [
        ok(api.post("/blobs", files={"file": (f"{c}.png", scene_png(70 * i), "image/png")}))[
            "sha256"
        ]
        for i, c in enumerate(CLUSTERS)
    ]
    dataset = ok(api.post("/datasets", json={"name": name}))
    items = [
        {
            "reference_id": f"{c}-{n:03d}",
            "media": f"blob:{shas[i]}",
            "width": 320,
            "height": 240,
            "metadata": {"cluster": c, "n": n},
        }
        for i, c in enumerate(CLUSTERS)
        for n in range(PER_CLUSTER)
    ]
    ok(api.post(f"/datasets/{dataset['id']}/items", json={"items": items}))
    rng = random.Random(16)
    vectors = [
        {"reference_id": f"{c}-{n:03d}", "vector": vector(i, rng)}
        for i, c in enumerate(CLUSTERS)
        for n in range(PER_CLUSTER)
    ]
    ok(api.post(f"/datasets/{dataset['id']}/embeddings", json={"space": "clip", "items": vectors}))
    return dataset


def refs(cluster: str) -> list[str]:
    return [f"{cluster}-{n:03d}" for n in range(PER_CLUSTER)]


def shown(page) -> list[str]:
    return page.locator(".item-cell").evaluate_all(
        "cells => cells.sort((a, b) => a.dataset.index - b.dataset.index)"
        ".map(c => c.dataset.reference)"
    )


def test_find_similar_from_an_item_and_from_a_thumbnail(page, live_server, manager, api):
    dataset = clustered_dataset(api)
    dialogs = open_explorer(page, live_server, manager, dataset["id"])
    expect(page.locator(".space-picker")).to_have_text("Space clip")

    # From the item's detail: the rest of its cluster first, best first, with the scores
    # shown (the item itself is not among its neighbours).
    page.get_by_role("button", name="Open b-003").click()
    detail = page.get_by_role("dialog", name="b-003")
    detail.get_by_role("button", name="Find similar").click()
    expect(page.locator(".pinned-bar")).to_contain_text("similar to b-003")
    expect(page.locator(".item-cell")).to_have_count(len(CLUSTERS) * PER_CLUSTER - 1)
    order = shown(page)
    assert "b-003" not in order
    assert sorted(order[: PER_CLUSTER - 1]) == [r for r in refs("b") if r != "b-003"]
    scores = [
        float(s)
        for s in page.locator(".item-cell .cell-score").evaluate_all(
            "nodes => nodes.sort((a, b) => a.closest('.cell').dataset.index"
            " - b.closest('.cell').dataset.index).map(n => n.dataset.score)"
        )
    ]
    assert scores == sorted(scores, reverse=True)
    assert min(scores[: PER_CLUSTER - 1]) > max(scores[PER_CLUSTER - 1 :])
    screenshot(page, "curation-similar")

    # Back to the query; then from a thumbnail's action, within the query.
    page.get_by_role("button", name="Back to the query").click()
    expect(page.locator(".explore-count")).to_have_text("24 items")
    expect(page.locator(".pinned-bar")).to_be_hidden()
    query = page.get_by_role("combobox", name="Query")
    query.fill("metadata.n < 4")
    query.press("Enter")
    expect(page.locator(".explore-count")).to_have_text("12 items match")
    page.get_by_role("button", name="Find similar to c-001").click()
    expect(page.locator(".pinned-bar")).to_contain_text("similar to c-001")
    expect(page.locator(".item-cell")).to_have_count(11)
    order = shown(page)
    assert sorted(order[:3]) == ["c-000", "c-002", "c-003"]
    assert all(int(ref.split("-")[1]) < 4 for ref in order)
    assert dialogs == []


def lasso(page, points: list[dict[str, float]], margin: float = 14) -> None:
    """Draw a free-hand loop around `points` with the mouse: an octagon about their box."""
    x0 = min(p["x"] for p in points) - margin
    x1 = max(p["x"] for p in points) + margin
    y0 = min(p["y"] for p in points) - margin
    y1 = max(p["y"] for p in points) + margin
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    loop = [(x0, cy), (x0, y0), (cx, y0 - 4), (x1, y0), (x1, cy), (x1, y1), (cx, y1 + 4), (x0, y1)]
    page.mouse.move(*loop[0])
    page.mouse.down()
    for x, y in loop[1:] + loop[:1]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def test_the_map_and_a_lasso_that_selects_a_cluster_into_a_slice(page, live_server, manager, api):
    dataset = clustered_dataset(api)
    dialogs = open_explorer(page, live_server, manager, dataset["id"])
    page.get_by_role("group", name="Display").get_by_role("button", name="Map").click()
    canvas = page.locator("canvas.map-canvas")
    expect(canvas).to_have_attribute("data-points", "24")
    assert "display=map" in page.url
    page.wait_for_function("document.querySelector('canvas.map-canvas').pointPosition('a-000')")
    positions = {
        ref: canvas.evaluate("(c, ref) => c.pointPosition(ref)", ref)
        for cluster in CLUSTERS
        for ref in refs(cluster)
    }
    # Coloured by a metadata value: one colour per cluster, with its key.
    page.get_by_label("Colour by").select_option("metadata.cluster")
    expect(page.get_by_role("list", name="Colours").locator("li")).to_have_text(["a", "b", "c"])
    inside = [positions[ref] for ref in refs("a")]
    # The clusters are apart on the map: no other point falls in cluster a's box.
    lasso(page, inside)
    expect(canvas).to_have_attribute("data-selected", str(PER_CLUSTER))
    expect(page.locator(".selection-bar")).to_contain_text("8 items selected")
    screenshot(page, "curation-map-lasso")

    page.locator(".selection-bar").get_by_role("button", name="Show in grid").click()
    expect(page.locator(".pinned-bar")).to_contain_text("Showing the 8 items selected")
    expect(page.locator(".item-cell")).to_have_count(PER_CLUSTER)
    assert sorted(shown(page)) == refs("a")
    expect(page.locator(".item-cell.selected")).to_have_count(PER_CLUSTER)

    page.get_by_role("button", name="New slice from selection").click()
    new = page.get_by_role("dialog", name="New slice")
    new.get_by_label("Name").fill("cluster a")
    new.get_by_role("button", name="Create slice").click()
    expect(page.locator(".slice").filter(has_text="cluster a")).to_be_visible()
    (made,) = ok(api.get(f"/datasets/{dataset['id']}/slices"))["items"]
    answer = ok(
        api.post(
            f"/datasets/{dataset['id']}/query",
            json={"query": f'"{made["id"]}" IN slices', "limit": 100},
        )
    )
    assert sorted(i["reference_id"] for i in answer["items"]) == refs("a")

    # The map follows the query.
    page.get_by_role("button", name="Back to the query").click()
    page.get_by_role("group", name="Display").get_by_role("button", name="Map").click()
    query = page.get_by_role("combobox", name="Query")
    query.fill('metadata.cluster != "c"')
    query.press("Enter")
    expect(canvas).to_have_attribute("data-points", "16")
    assert dialogs == []


def test_the_autotag_loop_marks_refines_and_commits_a_queryable_tag(
    page, live_server, manager, api
):
    dataset = clustered_dataset(api)
    dialogs = open_explorer(page, live_server, manager, dataset["id"])
    page.get_by_label("Select b-000").click()
    page.get_by_label("Select b-001").click()
    page.locator(".selection-bar").get_by_role("button", name="Autotag…").click()
    dialog = page.get_by_role("dialog", name="Autotag")
    dialog.get_by_label("Name").fill("bees")
    dialog.get_by_role("button", name="Find candidates").click()
    tiles = dialog.locator(".at-tile")
    expect(dialog).to_contain_text("round 1")
    expect(tiles.first).to_be_visible()
    # The seeds come back marked positive.
    expect(dialog.locator('.at-tile[data-reference="b-000"]')).to_have_attribute(
        "data-mark", "positive"
    )

    # Mark: a click for positive, two for negative; keys on a focused tile.
    dialog.locator('.at-tile[data-reference="b-005"]').click()
    expect(dialog.locator('.at-tile[data-reference="b-005"]')).to_have_attribute(
        "data-mark", "positive"
    )
    dialog.locator('.at-tile[data-reference="a-002"]').focus()
    page.keyboard.press("n")
    dialog.locator('.at-tile[data-reference="c-004"]').focus()
    page.keyboard.press("n")
    dialog.locator('.at-tile[data-reference="b-006"]').focus()
    page.keyboard.press("p")
    expect(dialog.locator(".at-counts")).to_have_text("4 positives · 2 negatives marked")
    page.wait_for_function(
        "document.querySelector('.at-tile[data-reference=\"b-005\"] img').naturalWidth === 320"
    )
    screenshot(page, "curation-autotag")
    dialog.get_by_role("button", name="Refine").click()
    expect(dialog).to_contain_text("round 2")
    expect(dialog).to_contain_text("4 positive examples, 2 negative examples")
    best = dialog.locator(".at-tile").evaluate_all("ts => ts.map(t => t.dataset.reference)")
    assert sorted(best[:PER_CLUSTER]) == refs("b")
    dialog.get_by_role("button", name="Commit").click()
    expect(dialog).to_be_hidden()

    autotags = ok(api.get(f"/datasets/{dataset['id']}/autotags"))["items"]
    assert [(t["name"], t["rounds"], t["committed_at"] is not None) for t in autotags] == [
        ("bees", 2, True)
    ]
    assert sorted(autotags[0]["positive"]) == ["b-000", "b-001", "b-005", "b-006"]
    assert sorted(autotags[0]["negative"]) == ["a-002", "c-004"]

    # autotag.bees has its facet, completes in the query bar and matches the cluster.
    expect(page.locator('.histogram[data-field="autotag.bees"]')).to_be_visible()
    query = page.get_by_role("combobox", name="Query")
    query.fill("")
    query.press_sequentially("autotag.b")
    suggestions = page.get_by_role("listbox", name="Fields")
    expect(suggestions.get_by_role("option")).to_have_text(["autotag.bees"])
    query.fill("autotag.bees >= 0.5")
    query.press("Enter")
    expect(page.locator(".explore-count")).to_have_text(f"{PER_CLUSTER} items match")
    # The count is drawn before the grid's cells: wait for the cells, then read them.
    expect(page.locator(".item-cell")).to_have_count(PER_CLUSTER)
    assert sorted(shown(page)) == refs("b")
    assert dialogs == []


def test_compute_embeddings_shows_its_progress_and_ends_with_a_space(
    page, live_server, manager, api
):
    shas = [
        ok(api.post("/blobs", files={"file": (f"{i}.png", scene_png(60 * i), "image/png")}))[
            "sha256"
        ]
        for i in range(3)
    ]
    dataset = ok(api.post("/datasets", json={"name": "Raw"}))
    items = [{"reference_id": f"r-{n:02d}", "media": f"blob:{shas[n % 3]}"} for n in range(30)]
    ok(api.post(f"/datasets/{dataset['id']}/items", json={"items": items}))
    dialogs = open_explorer(page, live_server, manager, dataset["id"])
    expect(page.get_by_role("button", name="Find similar to r-00")).to_have_count(0)
    page.get_by_role("group", name="Display").get_by_role("button", name="Map").click()
    expect(page.locator(".map-empty")).to_contain_text("no embeddings yet")
    page.locator(".map-empty").get_by_role("button", name="Compute embeddings").click()
    dialog = page.get_by_role("dialog", name="Compute embeddings")
    expect(dialog.get_by_label("Space")).to_have_value("tiny")
    dialog.get_by_role("button", name="Compute").click()
    expect(page.get_by_label("Computing embeddings")).to_be_visible()
    expect(page.locator(".space-picker")).to_have_text("Space tiny", timeout=60_000)
    expect(page.locator("canvas.map-canvas")).to_have_attribute("data-points", "30")
    assert "tiny" in ok(api.get(f"/datasets/{dataset['id']}"))["embedding_spaces"]
    screenshot(page, "curation-map")

    # Now the grid offers Find similar on each thumbnail.
    page.get_by_role("group", name="Display").get_by_role("button", name="Grid").click()
    page.get_by_role("button", name="Find similar to r-03").click()
    expect(page.locator(".pinned-bar")).to_contain_text("similar to r-03")
    expect(page.locator(".item-cell").first).to_have_attribute(
        "data-reference", re.compile(r"r-\d\d")
    )
    assert dialogs == []


def test_find_similar_objects_from_an_object_crop(page, live_server, manager, api):
    """Per-object vectors (cars near cars, buses near buses): the object view's crops offer
    Find similar objects, which pins the nearest objects with their scores, within the
    object query."""
    sha = ok(api.post("/blobs", files={"file": ("s.png", scene_png(60), "image/png")}))["sha256"]
    dataset = ok(api.post("/datasets", json={"name": "Patches"}))
    items = [
        {
            "reference_id": f"r-{n}",
            "media": f"blob:{sha}",
            "width": 320,
            "height": 240,
            "annotations": [
                {"type": "box", "id": f"car{n}", "label": "car", "x": 10, "y": 120,
                 "width": 60, "height": 40},
                {"type": "box", "id": f"bus{n}", "label": "bus", "x": 150, "y": 100,
                 "width": 120, "height": 80},
            ],
        }
        for n in range(6)
    ]  # fmt: skip
    ok(api.post(f"/datasets/{dataset['id']}/items", json={"items": items}))
    rng = random.Random(7)
    objects = [
        {"reference_id": f"r-{n}", "annotation_id": f"{label}{n}", "vector": vector(c, rng)}
        for n in range(6)
        for c, label in enumerate(("car", "bus"))
    ]
    ok(api.post(f"/datasets/{dataset['id']}/object-embeddings",
                json={"space": "patch", "objects": objects}))  # fmt: skip
    dialogs = open_explorer(page, live_server, manager, dataset["id"], "?view=objects")
    expect(page.locator(".explore-count")).to_have_text("12 objects")
    page.get_by_role("button", name="Find similar objects to car in r-0").click()
    expect(page.locator(".pinned-bar")).to_contain_text("similar to car in r-0")
    cells = page.locator(".object-cell")
    expect(cells).to_have_count(11)
    names = [cells.nth(i).locator(".cell-name").inner_text() for i in range(11)]
    assert names[:5] == ["car"] * 5 and names[5:] == ["bus"] * 6
    scores = [
        float(cells.nth(i).locator(".cell-score").get_attribute("data-score")) for i in range(11)
    ]
    assert scores == sorted(scores, reverse=True)
    # Back to the query; within an object query only its objects are answered.
    page.get_by_role("button", name="Back to the query").click()
    query = page.get_by_role("combobox", name="Query")
    query.fill('annotation.label = "bus"')
    query.press("Enter")
    expect(page.locator(".explore-count")).to_have_text("6 objects match")
    page.get_by_role("button", name="Find similar objects to bus in r-1").click()
    expect(page.locator(".pinned-bar")).to_contain_text("similar to bus in r-1")
    expect(cells).to_have_count(5)
    assert {cells.nth(i).locator(".cell-name").inner_text() for i in range(5)} == {"bus"}
    assert dialogs == []
