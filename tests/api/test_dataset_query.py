"""POST /api/v1/datasets/{id}/query: the query bar over the dataset's snapshot — counts, pages
of items and objects, facets, sorting, the snapshot following appends and deletes, and bad
queries named by token and column."""

from __future__ import annotations

from typing import Any

import pytest

from assay.sdk.query import F

API = "/api/v1"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def box(label: str, w: float = 10, h: float = 10) -> dict[str, Any]:
    return {"type": "box", "label": label, "x": 1, "y": 1, "width": w, "height": h}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def dataset(client, manager) -> str:
    dataset = ok(client.post(f"{API}/datasets", json={"name": "q"}, headers=manager.headers))
    items = [
        {
            "reference_id": f"img-{n}",
            "media": f"https://media.example.test/{n}.jpg",
            "metadata": {"weather": "rain" if n % 3 == 0 else "sun", "speed": n},
            "tags": ["night"] if n % 4 == 0 else [],
            "annotations": [box("car", w=n + 1)] * (n % 4) + [box("person")] * (n % 2),
        }
        for n in range(24)
    ]
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=manager.headers
        )
    )
    return dataset["id"]


def query(client, account, dataset_id: str, **body) -> Any:
    return client.post(f"{API}/datasets/{dataset_id}/query", json=body, headers=account.headers)


def test_items_matching_a_query_with_counts_facets_and_pages(client, manager, dataset):
    text = 'annotations.car > 2 AND metadata.weather = "rain"'
    expected = [f"img-{n}" for n in range(24) if n % 4 > 2 and n % 3 == 0]
    answer = ok(query(client, manager, dataset, query=text, facets=True, limit=2))
    assert answer["count"] == len(expected) == 2
    assert [row["reference_id"] for row in answer["items"]] == expected
    assert answer["items"][0]["annotations"][0]["label"] == "car"
    assert answer["facets"]["items"] == 2
    assert answer["facets"]["labels"]["gt"] == {"car": 6, "person": 2}

    everything = ok(query(client, manager, dataset, limit=10, order_by="-metadata.speed"))
    assert everything["count"] == 24
    assert [r["reference_id"] for r in everything["items"]][:3] == ["img-23", "img-22", "img-21"]
    rest = ok(
        query(
            client,
            manager,
            dataset,
            limit=20,
            order_by="-metadata.speed",
            cursor=everything["next_cursor"],
        )
    )
    assert rest["items"][0]["reference_id"] == "img-13"
    assert rest["next_cursor"] is None

    # An offset reads the page at a place (the grid's jumps), in either order; not with a
    # cursor.
    for order in (None, "-metadata.speed"):
        whole = ok(query(client, manager, dataset, limit=24, order_by=order))["items"]
        at = ok(query(client, manager, dataset, limit=5, offset=17, order_by=order))
        assert [r["reference_id"] for r in at["items"]] == [r["reference_id"] for r in whole[17:22]]
        past = ok(query(client, manager, dataset, limit=5, offset=22, order_by=order))
        assert len(past["items"]) == 2 and past["next_cursor"] is None
    both = query(client, manager, dataset, limit=5, offset=5, cursor=everything["next_cursor"])
    assert both.status_code == 422 and "offset" in both.text
    negative = query(client, manager, dataset, offset=-1)
    assert negative.status_code == 422 and "offset" in negative.text

    # The SDK's plan is the same query.
    plan = ((F("annotations.car") > 2) & (F("metadata.weather") == "rain")).to_json()
    assert ok(query(client, manager, dataset, plan=plan))["count"] == 2


def test_objects_view_sorted_by_area_with_their_shapes(client, manager, dataset):
    answer = ok(
        query(
            client,
            manager,
            dataset,
            query='object.label = "car"',
            view="objects",
            order_by="-area",
            limit=3,
        )
    )
    cars = sum(n % 4 for n in range(24))
    assert answer["count"] == cars
    first = answer["items"][0]
    assert first["label"] == "car" and first["area"] == 24 * 10
    assert first["reference_id"] == "img-23"
    assert first["shape"]["width"] == 24
    assert first["media"] == "https://media.example.test/23.jpg"


def test_the_snapshot_follows_appends_and_deletes(client, manager, dataset):
    assert ok(query(client, manager, dataset, query='tags CONTAINS "night"'))["count"] == 6
    ok(
        client.post(
            f"{API}/datasets/{dataset}/items",
            json={
                "items": [
                    {"reference_id": "img-1", "media": "https://m.test/1.jpg", "tags": ["night"]}
                ]
            },
            headers=manager.headers,
        )
    )
    ok(
        client.post(
            f"{API}/datasets/{dataset}/items/delete",
            json={"reference_ids": ["img-0", "img-4"]},
            headers=manager.headers,
        )
    )
    answer = ok(query(client, manager, dataset, query='tags CONTAINS "night"', limit=50))
    assert sorted(r["reference_id"] for r in answer["items"]) == sorted(
        ["img-1", "img-8", "img-12", "img-16", "img-20"]
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('metdata.weather = "rain"', "metdata.weather"),
        ("annotations.car >", "column"),
        ("metadata.weather > 3 AND", "column"),
        ('metadata.nothing = "x"', "metadata.nothing"),
        ('metadata.weather = "rain', "column"),
    ],
)
def test_a_bad_query_is_a_422_naming_the_token(client, manager, dataset, text, words):
    response = query(client, manager, dataset, query=text)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "query"
    assert words in error["message"]


def test_labelers_cannot_query(client, accounts, dataset):
    labeler = accounts.make("labeler")
    assert query(client, labeler, dataset, query="").status_code == 404


def test_a_page_s_json_columns_are_the_items_own(client, manager, dataset, db):
    """The page sends the items' metadata, tags and ground truth as the text they are stored
    as: the same values the item's own read gives — nested, unicode, big and small numbers,
    empty ones — and a NaN that SQLite's text may hold goes out as null, as JSON has none."""
    metadata = {
        "weather": "fog",
        "nested": {"list": [1, 2.5, None, {"deep": "ünïcode ✓"}], "empty": {}},
        "big": 2**53 + 1,
        "tiny": 1e-300,
        "quote": 'say "hi"\n',
    }
    items = [
        {"reference_id": "odd", "media": "https://m.test/o.jpg", "metadata": metadata,
         "tags": ["a", "ü"], "annotations": [box("car", w=3.25)]},
        {"reference_id": "bare", "media": "https://m.test/b.jpg", "metadata": {"weather": "fog"}},
    ]  # fmt: skip
    ok(
        client.post(
            f"{API}/datasets/{dataset}/items", json={"items": items}, headers=manager.headers
        )
    )
    answer = ok(query(client, manager, dataset, query='metadata.weather = "fog"'))
    rows = {row["reference_id"]: row for row in answer["items"]}
    for row in rows.values():
        own = ok(client.get(f"{API}/datasets/{dataset}/items/{row['id']}", headers=manager.headers))
        assert (row["metadata"], row["tags"]) == (own["metadata"], own["tags"])
        assert row["annotations"] == (own["annotations"] or [])
    assert rows["odd"]["metadata"] == metadata and rows["bare"]["annotations"] == []
    assert rows["odd"]["annotations"][0]["width"] == 3.25
    if db.dialect == "sqlite":  # NaN written by the standard library's json.dumps
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE dataset_items SET metadata = ? WHERE reference_id = 'bare'",
                ('{"weather": "fog", "x": NaN}',),
            )
        answer = ok(query(client, manager, dataset, query='metadata.weather = "fog"'))
        bare = next(row for row in answer["items"] if row["reference_id"] == "bare")
        assert bare["metadata"] == {"weather": "fog", "x": None}
