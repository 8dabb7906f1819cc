"""Scale's routes answer bad input with a 400 naming the field, never a 500, and write
nothing: every write route gets non-numbers (NaN, Infinity, 1e400) and junk in each of its
keys; the list routes get malformed `next_token`s. In process: no client library involved."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from assay.compat import scale_quality, scale_studio, scale_v1, scale_v1_tasks, scale_v2
from assay.compat.errors import ScaleRoute
from assay.labeling import models

NON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400"]
JUNK = ['"x"', "true", "[]", "{}", "null", "-1", "1" + "0" * 40, "[[[]]]", '[{"a": {}}]']
# The keys the compat routes read (body.get("…") in src/assay/compat).
KEYS = [
    "type",
    "name",
    "project",
    "batch",
    "params",
    "metadata",
    "attachment",
    "attachment_type",
    "attachments",
    "geometries",
    "taxonomies",
    "categories",
    "fields",
    "labels",
    "annotation_attributes",
    "instruction",
    "callback_url",
    "unique_id",
    "tags",
    "priority",
    "accepted",
    "comments",
    "expected_response",
    "hypothesis",
    "emails",
    "add_emails",
    "remove_emails",
    "team_role",
    "projects",
    "batches",
    "pipeline",
    "calibration_batch",
    "self_label_batch",
    "responses",
    "text",
    "template_variables",
]
# Routes that fetch from the network or take a multipart upload: the outbound lane's.
SKIPPED = {"/v1/files/import", "/v1/files/upload"}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def send(client, method: str, url: str, text: str, key: str):
    return client.request(
        method,
        url,
        content=text.encode(),
        headers={**basic(key), "Content-Type": "application/json"},
    )


@pytest.fixture
def world(client, accounts) -> dict[str, Any]:
    manager = accounts.make("manager")
    key = manager.key

    def ok(method: str, url: str, body: Any) -> dict[str, Any]:
        response = client.request(method, url, json=body, headers=basic(key))
        assert response.status_code < 300, response.text
        return response.json()

    ok(
        "POST",
        "/v1/projects",
        {"type": "categorization", "name": "kinds", "params": {"categories": ["a", "b"]}},
    )
    ok("POST", "/v1/batches", {"project": "kinds", "name": "kinds-1"})
    task = ok(
        "POST",
        "/v1/task/categorization",
        {"project": "kinds", "attachment": "https://example.test/a.jpg", "metadata": {"i": 1}},
    )
    return {"key": key, "task_id": task["task_id"], "project": "kinds", "batch": "kinds-1"}


def write_routes(world: dict[str, Any]) -> list[tuple[str, str]]:
    names = {
        "task_type": "categorization",
        "task_id": world["task_id"],
        "project": world["project"],
        "group": "g",
        "batch_name": world["batch"],
    }
    found = []
    # (prefix, router): the v1 router's own routes carry /v1 already, those it includes not.
    routers = [("", scale_v1.router), ("", scale_v2.router)]
    routers += [("/v1", r) for r in (scale_v1_tasks.router, scale_studio.router)]
    routers += [("/v1", scale_quality.router)]
    routes = [(prefix, r) for prefix, router in routers for r in router.routes]
    for prefix, route in routes:
        if not isinstance(route, ScaleRoute) or prefix + route.path in SKIPPED:
            continue
        if route.body_field is None:  # takes no body
            continue
        for method in sorted(route.methods - {"GET", "HEAD"}):
            path = prefix + route.path.replace(":path", "")
            name = world["batch"] if "/batches/" in path else world["project"]
            found.append((method, path.format(**names, name=name)))
    return found


def counts(db) -> tuple[int, ...]:
    with db.read() as session:
        return tuple(
            session.query(model).count()
            for model in (models.Project, models.Batch, models.Task, models.TaskEvent)
        )


def test_every_write_route_refuses_non_numbers_naming_the_field(client, app, db, world):
    routes = write_routes(world)
    assert len(routes) > 15
    before = counts(db)
    failures = []
    for method, url in routes:
        for key in ("metadata", "params", "project"):  # refused as JSON, whatever the key
            for literal in NON_NUMBERS:
                for text, field in (
                    (f'{{"{key}": {literal}}}', key),
                    (f'{{"{key}": {{"a": [{literal}]}}}}', f"{key}.a[0]"),
                ):
                    response = send(client, method, url, text, world["key"])
                    error = response.json()
                    if response.status_code != 400 or not error["error"].startswith(f"{field}:"):
                        failures.append((method, url, text, response.status_code, error))
    assert not failures, "\n".join(map(repr, failures))
    assert counts(db) == before  # nothing written


def test_every_write_route_answers_junk_with_a_4xx(client, app, world):
    """Every route gets every key with junk: two kinds of junk per key and route, turning
    with the route, so that across the routes every key meets every kind (all of them on
    every route was 10,000 requests a database and a minute of the suite)."""
    failures = []
    for r, (method, url) in enumerate(write_routes(world)):
        bodies = ["", "{", "[1, 2]", '"text"', "[" * 10_000 + "]" * 10_000]
        bodies += [
            f'{{"{key}": {JUNK[(r * 2 + k + j) % len(JUNK)]}}}'
            for k, key in enumerate(KEYS)
            for j in range(2)
        ]
        for text in bodies:
            response = send(client, method, url, text, world["key"])
            if response.status_code >= 500:
                failures.append((method, url, text[:80], response.status_code, response.text))
    assert not failures, "\n".join(map(repr, failures))


@pytest.mark.parametrize("route", ["/v1/projects", "/v1/projects/{project}/setParams"])
def test_an_empty_taxonomies_object_is_a_400_naming_taxonomies(client, db, world, route):
    body = {"type": "categorization", "name": "empty", "params": {"taxonomies": {}}}
    if "setParams" in route:
        body = {"taxonomies": {}}
    before = counts(db)
    response = client.post(route.format(**world), json=body, headers=basic(world["key"]))
    assert response.status_code == 400, response.text
    assert "taxonomies" in response.json()["error"]
    assert counts(db) == before


def test_task_and_batch_metadata_with_nan_write_nothing(client, db, world):
    before = counts(db)
    key = world["key"]
    for url, text, field in (
        (
            "/v1/task/categorization",
            '{"project": "kinds", "attachment": "https://example.test/b.jpg", '
            '"metadata": {"score": NaN}}',
            "metadata.score",
        ),
        (f"/v1/task/{world['task_id']}/setMetadata", '{"score": Infinity}', "score"),
        (f"/v1/batches/{world['batch']}/setMetadata", '{"score": -1e999}', "score"),
    ):
        response = send(client, "POST", url, text, key)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"].startswith(f"{field}:"), response.text
    assert counts(db) == before
    task = client.get(f"/v1/task/{world['task_id']}", headers=basic(key)).json()
    assert task["metadata"] == {"i": 1}


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_TOKENS = [
    "!!!not-base64!!!",
    "x" * 10_000,
    _token({"k": 12345}),
    _token({"k": [1]}),
    _token(["k"]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    base64.urlsafe_b64encode(b'{"k": NaN}').decode(),
]


@pytest.mark.parametrize(
    "url",
    [
        "/v1/tasks?project=kinds",
        "/v1/tasks?project=kinds&created_before=2030-01-01T00:00:00Z",
        "/v2/tasks?project_name=kinds",
        "/v2/batches?project_name=kinds",
    ],
)
def test_bad_next_tokens_are_a_400_naming_next_token(client, world, url):
    for token in BAD_TOKENS:
        response = client.get(url, params={"next_token": token}, headers=basic(world["key"]))
        assert response.status_code == 400, (token[:40], response.text)
        assert "next_token" in response.json()["error"], response.text
