"""Near-duplicates and uniqueness through /api/v1, as jobs over uploaded vectors whose answer
is known: planted groups of near-copies come back as exactly those groups (queryable as
`duplicates.*`, readable a page at a time), uniqueness equals a brute-force computation and
sorts the grid, and bad requests are 4xx naming the field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.support.polling import finished_job

API = "/api/v1"
DIM = 16
N = 60
# Planted near-copies: rows 0-3, 20-22 and 10-11 (each a perturbation of the first).
GROUPS = [[0, 1, 2, 3], [20, 21, 22], [10, 11]]


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field, response.text


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def world(client, manager) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((N, DIM))
    for members in GROUPS:
        for row in members[1:]:
            vectors[row] = vectors[members[0]] + 0.002 * rng.standard_normal(DIM)
    dataset = ok(client.post(f"{API}/datasets", json={"name": "dups"}, headers=manager.headers))
    items = [
        {"reference_id": f"r{n}", "kind": "text", "text": f"t{n}", "metadata": {"n": n}}
        for n in range(N)
    ]
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=manager.headers
        )
    )
    upload = {
        "space": "toy",
        "items": [{"reference_id": f"r{n}", "vector": vectors[n].tolist()} for n in range(N)],
    }
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/embeddings", json=upload, headers=manager.headers
        )
    )
    return {"id": dataset["id"], "vectors": vectors}


def finished(client, account, job: dict[str, Any]) -> dict[str, Any]:
    job = finished_job(client, account, job["id"])
    assert job["status"] == "succeeded", job
    return job


def query(client, account, dataset_id: str, **body) -> dict[str, Any]:
    return ok(client.post(f"{API}/datasets/{dataset_id}/query", json=body, headers=account.headers))


def test_planted_duplicates_come_back_as_their_groups(client, manager, world, pool):
    dataset_id = world["id"]
    job = ok(
        client.post(
            f"{API}/datasets/{dataset_id}/duplicates",
            json={"space": "toy", "threshold": 0.01},
            headers=manager.headers,
        )
    )
    job = finished(client, manager, job)
    assert job["result"] == {"space": "toy", "items": N, "groups": 3, "duplicated_items": 9}

    found = query(client, manager, dataset_id, query="duplicates.count > 1", limit=100)
    assert sorted(row["reference_id"] for row in found["items"]) == sorted(
        f"r{n}" for members in GROUPS for n in members
    )
    pair = query(client, manager, dataset_id, query="duplicates.count = 2", limit=100)
    assert sorted(row["reference_id"] for row in pair["items"]) == ["r10", "r11"]

    # Largest group first, two groups a page.
    first = ok(
        client.get(f"{API}/datasets/{dataset_id}/duplicates?limit=2", headers=manager.headers)
    )
    assert first["space"] == "toy" and first["threshold"] == 0.01
    assert [g["group"] for g in first["groups"]] == [1, 2]
    assert [sorted(i["reference_id"] for i in g["items"]) for g in first["groups"]] == [
        sorted(f"r{n}" for n in GROUPS[0]),
        sorted(f"r{n}" for n in GROUPS[1]),
    ]
    assert [g["count"] for g in first["groups"]] == [4, 3]
    second = ok(
        client.get(
            f"{API}/datasets/{dataset_id}/duplicates",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=manager.headers,
        )
    )
    assert [g["group"] for g in second["groups"]] == [3]
    assert second["next_cursor"] is None
    group3 = query(client, manager, dataset_id, query="duplicates.group = 3", limit=10)
    assert sorted(row["reference_id"] for row in group3["items"]) == ["r10", "r11"]

    # An item added since has no duplicates fields.
    ok(
        client.post(
            f"{API}/datasets/{dataset_id}/items",
            json={"items": [{"reference_id": "late", "kind": "text", "text": "x"}]},
            headers=manager.headers,
        )
    )
    late = query(client, manager, dataset_id, query='reference_id = "late"', limit=1)
    assert late["items"][0]["reference_id"] == "late"
    assert query(client, manager, dataset_id, query="duplicates.count >= 1", limit=1)["count"] == N


def test_uniqueness_equals_brute_force_and_sorts_the_grid(client, manager, world, pool):
    dataset_id, vectors = world["id"], world["vectors"]
    job = ok(
        client.post(
            f"{API}/datasets/{dataset_id}/uniqueness",
            json={"space": "toy", "k": 3},
            headers=manager.headers,
        )
    )
    assert finished(client, manager, job)["result"] == {"space": "toy", "items": N}

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    distances = 1 - unit @ unit.T
    np.fill_diagonal(distances, np.inf)
    means = np.sort(distances, axis=1)[:, :3].mean(axis=1)
    expected = means / means.max()

    ranked = query(client, manager, dataset_id, order_by="-uniqueness", limit=N)
    got = {row["reference_id"]: row for row in ranked["items"]}
    order = [row["reference_id"] for row in ranked["items"]]
    assert order[0] == f"r{int(np.argmax(expected))}"
    scores = [row["measures"]["uniqueness"] for row in ranked["items"]]
    assert scores == sorted(scores, reverse=True)
    for n in range(N):
        assert got[f"r{n}"]["measures"]["uniqueness"] == pytest.approx(expected[n], abs=1e-5)
    # Near-copies are the least unique.
    assert {f"r{n}" for members in GROUPS for n in members} >= set(order[-5:])
    assert query(client, manager, dataset_id, query="uniqueness = 1", limit=5)["count"] == 1

    # An updated item keeps its score; a deleted one is gone from answers.
    ok(
        client.post(
            f"{API}/datasets/{dataset_id}/items",
            json={"items": [{"reference_id": "r7", "kind": "text", "text": "new", "metadata": {}}]},
            headers=manager.headers,
        )
    )
    again = query(client, manager, dataset_id, query='reference_id = "r7"', limit=1)
    assert again["items"][0]["measures"]["uniqueness"] == pytest.approx(expected[7], abs=1e-5)
    facets = query(client, manager, dataset_id, facets=True, limit=1)["facets"]
    assert sum(facets["histograms"]["uniqueness"]["counts"]) == N


def test_bad_requests_name_the_field(client, manager, world):
    dataset_id = world["id"]
    url = f"{API}/datasets/{dataset_id}"
    refused(
        client.post(f"{url}/duplicates", json={"space": "nope"}, headers=manager.headers),
        404,
        "space",
    )
    refused(
        client.post(
            f"{url}/duplicates", json={"space": "toy", "threshold": 1.5}, headers=manager.headers
        ),
        422,
        "threshold",
    )
    refused(
        client.post(f"{url}/uniqueness", json={"space": "toy", "k": 0}, headers=manager.headers),
        422,
        "k",
    )
    refused(
        client.post(f"{url}/uniqueness", json={"space": "nope"}, headers=manager.headers),
        404,
        "space",
    )
    refused(client.get(f"{url}/duplicates", headers=manager.headers), 404, "duplicates")
    response = client.post(
        f"{url}/query", json={"query": "uniqueness > 0.5"}, headers=manager.headers
    )
    assert response.status_code == 422, response.text
    assert "uniqueness" in response.json()["error"]["message"]
    unknown = client.post(
        f"{url}/query", json={"query": "duplicates.size > 1"}, headers=manager.headers
    )
    assert unknown.status_code == 422 and "duplicates.size" in unknown.json()["error"]["message"]


def test_deleted_items_are_left_out_of_a_run(client, manager, world, pool):
    dataset_id = world["id"]
    ok(
        client.post(
            f"{API}/datasets/{dataset_id}/items/delete",
            json={"reference_ids": ["r3", "r11"]},
            headers=manager.headers,
        )
    )
    job = ok(
        client.post(
            f"{API}/datasets/{dataset_id}/duplicates",
            json={"space": "toy", "threshold": 0.01},
            headers=manager.headers,
        )
    )
    # r0-r2 and r20-r22 stay groups; r10 lost its only copy.
    assert finished(client, manager, job)["result"] == {
        "space": "toy",
        "items": N - 2,
        "groups": 2,
        "duplicated_items": 6,
    }
    groups = ok(client.get(f"{API}/datasets/{dataset_id}/duplicates", headers=manager.headers))
    assert [sorted(i["reference_id"] for i in g["items"]) for g in groups["groups"]] == [
        ["r0", "r1", "r2"],
        ["r20", "r21", "r22"],
    ]
