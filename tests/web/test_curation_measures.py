"""The explorer's Duplicates… and Uniqueness tools and its text search in a real browser
against a real `assay serve`: each job starts, shows its progress, and ends with the grid
queried and sorted by the fields it computed; text search shows where the space's embedder
has a text tower (a plugin's, `tests.support.words`, loaded by the server)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.words import CAPTIONS
from tests.web.test_curation import api, manager, ok, open_explorer
from tests.web.test_curation_embeddings import clustered_dataset, shown

__all__ = ["api", "manager"]  # fixtures used by the tests below


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    """The test text embedder, loaded by the server as a plugin."""
    return {"ASSAY_PLUGINS": '["tests.support.words"]'}


def test_duplicates_then_uniqueness_from_the_toolbar(page, live_server, manager, api):
    dataset = clustered_dataset(api)
    # b-002 and b-004 become the same vector: the only near-duplicates.
    copy = [1.2 if d == 2 else 0.2 for d in range(8)]
    ok(
        api.post(
            f"/datasets/{dataset['id']}/embeddings",
            json={
                "space": "clip",
                "items": [
                    {"reference_id": "b-002", "vector": copy},
                    {"reference_id": "b-004", "vector": copy},
                ],
            },
        )
    )
    dialogs = open_explorer(page, live_server, manager, dataset["id"])
    # An uploaded space has no text tower: no text search.
    expect(page.get_by_role("search", name="Text search")).to_be_hidden()
    tools = page.get_by_role("group", name="Dataset analyses")
    tools.get_by_role("button", name="Duplicates…").click()
    dialog = page.get_by_role("dialog", name="Find near-duplicates")
    expect(dialog.get_by_label("Threshold")).to_have_value("0.05")
    dialog.get_by_label("Threshold").fill("0.0001")
    dialog.get_by_role("button", name="Find").click()
    expect(page.locator(".explore-count")).to_have_text("2 items match", timeout=60_000)
    expect(page.get_by_role("combobox", name="Query")).to_have_value("duplicates.count > 1")
    assert sorted(shown(page)) == ["b-002", "b-004"]
    expect(page.locator(".item-cell .cell-score")).to_have_text(["1", "1"])  # group 1

    tools.get_by_role("button", name="Uniqueness").click()
    expect(page.get_by_role("combobox", name="Query")).to_have_value("", timeout=60_000)
    expect(page.locator(".explore-count")).to_have_text("24 items")
    expect(page.get_by_label("Sort by")).to_have_value("uniqueness")
    scores = page.locator(".item-cell .cell-score")
    expect(scores.first).to_have_text("1.000")
    values = [float(text) for text in scores.all_inner_texts()]
    assert values == sorted(values, reverse=True) and len(values) == 24
    assert "sort=-uniqueness" in page.url
    assert dialogs == []


def test_text_search_pins_the_items_most_like_a_text(page, live_server, manager, api):
    dataset = ok(api.post("/datasets", json={"name": "Captions"}))
    items = [{"reference_id": ref, "kind": "text", "text": text} for ref, text in CAPTIONS.items()]
    ok(api.post(f"/datasets/{dataset['id']}/items", json={"items": items}))
    job = ok(
        api.post(
            f"/datasets/{dataset['id']}/embeddings/compute",
            json={"space": "words", "embedder": "test-words"},
        )
    )
    while job["status"] not in ("succeeded", "failed"):
        job = ok(api.get(f"/jobs/{job['id']}"))
    assert job["status"] == "succeeded", job

    dialogs = open_explorer(page, live_server, manager, dataset["id"])
    search = page.get_by_role("search", name="Text search")
    search.get_by_label("Search by text").fill("a dog in the park")
    search.get_by_role("button", name="Search").click()
    expect(page.locator(".pinned-bar")).to_contain_text("matching “a dog in the park”")
    expect(page.locator(".item-cell")).to_have_count(4)
    assert shown(page)[0] == "dog"
    page.get_by_role("button", name="Back to the query").click()
    expect(page.locator(".explore-count")).to_have_text("4 items")
    assert dialogs == []
