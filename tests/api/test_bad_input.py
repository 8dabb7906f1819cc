"""Bad input is a 4xx naming the field, never a 500, and writes nothing: every write route
of the OpenAPI document gets malformed bodies (NaN, Infinity, overflowing numbers, wrong
types, broken JSON); every list route gets malformed cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import BaseModel

from assay.labeling import models
from assay.labeling.pipeline import Pipeline, Stage
from assay.labeling.quality_config import Consensus, QualityConfig, Training
from assay.labeling.taxonomy import Taxonomy

API = "/api/v1"
TAXONOMY = {
    "labels": [{"name": "car", "geometries": ["box"]}],
    "global_attributes": [
        {"name": "scene", "type": "choice", "choices": ["day", "night"], "required": True}
    ],
}
# Raw JSON text (Python's json writes NaN and Infinity, and reads them back, as if JSON).
NON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]
JUNK = [
    '"x"',
    "true",
    "[]",
    "{}",
    "null",
    "-1",
    "10" + "0" * 40,
    '"' + "x" * 5000 + '"',
    "[[[[]]]]",
]


def ok(response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    return response.json()


def raw(client, method: str, url: str, text: str, account) -> Any:
    return client.request(
        method,
        url,
        content=text.encode(),
        headers={**account.headers, "Content-Type": "application/json"},
    )


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def world(client, admin, manager, accounts) -> dict[str, str]:
    """One of each noun, for the routes' path parameters."""
    headers = manager.headers
    project = ok(
        client.post(
            f"{API}/projects",
            json={
                "name": "cars",
                "task_type": "image",
                "taxonomy": TAXONOMY,
                "params": {"image_width": 64, "image_height": 48},
            },
            headers=headers,
        )
    )
    batch = ok(
        client.post(f"{API}/projects/{project['id']}/batches", json={"name": "b1"}, headers=headers)
    )
    task = ok(
        client.post(
            f"{API}/projects/{project['id']}/tasks",
            json={"params": {"attachment": "https://example.test/1.jpg"}},
            headers=headers,
        )
    )
    dataset = ok(client.post(f"{API}/datasets", json={"name": "streets"}, headers=headers))
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items",
            json={"items": [{"reference_id": "r1", "kind": "text", "text": "hello"}]},
            headers=headers,
        )
    )
    eval_set = ok(client.post(f"{API}/eval-sets", json={"name": "held-out"}, headers=admin.headers))
    labeler = accounts.make("labeler")
    provider = ok(
        client.post(
            f"{API}/providers",
            json={"name": "p", "base_url": "http://models.example.test/v1"},
            headers=headers,
        )
    )
    group = ok(
        client.post(f"{API}/projects/{project['id']}/groups", json={"name": "g1"}, headers=headers)
    )
    judge = ok(
        client.post(
            f"{API}/judges",
            json={"name": "j", "provider_id": provider["id"], "model": "m"},
            headers=headers,
        )
    )
    return {
        "project_id": project["id"],
        "batch_id": batch["id"],
        "task_id": task["id"],
        "user_id": labeler.user.id,
        "webhook_id": "missing",  # creating one resolves its host: not here
        "group_id": group.get("id", "missing"),
        "audit_id": "missing",
        "job_id": "missing",
        "scenario_test_id": "missing",
        "metric_id": "missing",
        "key_id": "missing",
        "delivery_id": "missing",
        "sha256": "0" * 64,
        "dataset_id": dataset["id"],
        "item_id": "missing",
        "reference_id": "r1",
        "slice_id": "missing",
        "model_id": "missing",
        "evaluation_id": "missing",
        "provider_id": provider["id"],
        "set_id": eval_set["id"],
        "number": "1",
        "calibration_id": "missing",
        "human_evaluation_id": "missing",
        "run_id": "missing",
        "judge_id": judge["id"],
        "report_id": "missing",
    }


def nested_keys(document: dict[str, Any], schema: dict[str, Any]) -> list[list[str]]:
    """[name] for each property, and [name, sub] for each property of an object property."""

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        for option in node.get("anyOf", []) or [node]:
            if "$ref" in option:
                return document["components"]["schemas"][option["$ref"].rsplit("/", 1)[-1]]
        return node

    keys = []
    for name, prop in schema.get("properties", {}).items():
        keys.append([name])
        keys += [[name, sub] for sub in resolve(prop).get("properties", {})]
        keys += [[name, *sub] for sub in FREE_OBJECTS.get(name, [])]
    return keys


def _fields(model: type[BaseModel]) -> list[list[str]]:
    return [[name] for name in model.model_fields]


# Objects a body takes as free JSON, checked by a service: their keys, from the models.
FREE_OBJECTS = {
    "quality": _fields(QualityConfig)
    + [["training", *k] for k in _fields(Training)]
    + [["consensus", *k] for k in _fields(Consensus)],
    "pipeline": _fields(Pipeline) + [["stages", *k] for k in _fields(Stage)],
    "taxonomy": _fields(Taxonomy),
}


def write_routes(app) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body schema) of every documented route that takes a JSON body."""
    document = app.openapi()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            if "$ref" in schema:
                schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            found.append((method.upper(), path, schema))
    return found


def counts(db) -> tuple[int, ...]:
    with db.read() as session:
        return tuple(
            session.query(model).count()
            for model in (models.Project, models.Batch, models.Task, models.TaskEvent)
        )


def test_every_write_route_refuses_non_numbers_naming_the_field(client, app, db, admin, world):
    routes = write_routes(app)
    assert len(routes) > 30  # the document lists them
    before = counts(db)
    failures = []
    for method, path, schema in routes:
        url = path.format(**world)
        for name in schema.get("properties", {}) or ["metadata"]:
            for literal in NON_NUMBERS:
                for text, field in (
                    (f'{{"{name}": {literal}}}', name),
                    (f'{{"{name}": {{"a": [1, {{"b": {literal}}}]}}}}', f"{name}.a[1].b"),
                ):
                    response = raw(client, method, url, text, admin)
                    error = response.json().get("error", {})
                    if response.status_code != 422 or error.get("field") != field:
                        failures.append((method, path, text, response.status_code, error))
    assert not failures, "\n".join(map(repr, failures))
    assert counts(db) == before  # nothing written


def test_every_write_route_answers_junk_with_a_4xx(client, app, db, admin, world):
    failures = []
    document = app.openapi()
    for method, path, schema in write_routes(app):
        url = path.format(**world)
        bodies = ["", "{", '{"a": 1', "nul", "[1, 2]", '"text"', "[" * 10_000 + "]" * 10_000]
        for keys in nested_keys(document, schema):
            for value in JUNK:
                body: Any = json.loads(value)
                for key in reversed(keys):
                    body = {key: body}
                bodies.append(json.dumps(body))
        for text in bodies:
            response = raw(client, method, url, text, admin)
            error = response.json().get("error", {}) if response.content else {}
            if response.status_code >= 500 or (
                response.status_code == 422 and not error.get("field")
            ):
                failures.append((method, path, text[:80], response.status_code, error))
    assert not failures, "\n".join(map(repr, failures))


def test_broken_json_names_the_body(client, admin):
    response = raw(client, "POST", f"{API}/projects", '{"name": "x",', admin)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"
    assert "not valid JSON" in response.json()["error"]["message"]


def test_metadata_nan_on_task_project_and_batch_writes_nothing(client, db, manager, world):
    before = counts(db)
    project_id = world["project_id"]
    for method, url, text, field in (
        ("POST", f"{API}/projects/{project_id}/tasks", '{"metadata": {"s": NaN}}', "metadata.s"),
        (
            "POST",
            f"{API}/projects/{project_id}/tasks/bulk",
            '{"tasks": [{"params": {}}, {"metadata": {"score": 1e400}}]}',
            "tasks[1].metadata.score",
        ),
        ("PATCH", f"{API}/projects/{project_id}", '{"metadata": {"x": -Infinity}}', "metadata.x"),
        (
            "PUT",
            f"{API}/batches/{world['batch_id']}/metadata",
            '{"metadata": {"x": NaN}}',
            "metadata.x",
        ),
        (
            "PATCH",
            f"{API}/tasks/{world['task_id']}",
            '{"metadata": {"a": [Infinity]}}',
            "metadata.a[0]",
        ),
    ):
        response = raw(client, method, url, text, manager)
        assert response.status_code == 422, (url, response.text)
        error = response.json()["error"]
        expected = field or next(
            f"metadata.{k}"
            for k in json.loads(text.replace("NaN", "0").replace("Infinity", "0"))["metadata"]
        )
        assert error["field"].startswith(expected), (url, error)
        assert "not a JSON number" in error["message"]
    assert counts(db) == before


def test_metadata_filter_with_nan_is_a_4xx(client, manager, world):
    response = client.get(
        f"{API}/tasks", params={"metadata": '{"a": NaN}'}, headers=manager.headers
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "metadata"


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "!!!not-base64!!!",
    "x" * 10_000,
    _token({"k": 12345}),
    _token({"k": [1, 2]}),
    _token({"k": True}),
    _token({"k": 10**40}),
    _token(["k"]),
    _token("k"),
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    base64.urlsafe_b64encode(b'{"k": NaN}').decode(),
]


def list_routes(app) -> list[str]:
    document = app.openapi()
    return [
        path
        for path, operations in document["paths"].items()
        if any(p["name"] == "cursor" for p in operations.get("get", {}).get("parameters", []))
    ]


def test_every_list_route_refuses_bad_cursors_naming_cursor(client, app, admin, world):
    routes = list_routes(app)
    assert len(routes) >= 10
    failures = []
    for path in routes:
        url = path.format(**world)
        for cursor in BAD_CURSORS:
            response = client.get(url, params={"cursor": cursor}, headers=admin.headers)
            error = response.json().get("error", {})
            if response.status_code == 404 and "missing" in url:
                continue  # a well-formed cursor of the wrong type, on a route whose parent is gone
            if response.status_code != 422 or error.get("field") != "cursor":
                failures.append((path, cursor[:40], response.status_code, error))
    assert not failures, "\n".join(map(repr, failures))


QUERY_JUNK = ["", "x", "-1", "0", "1e400", "NaN", "9" * 30, "2026-13-45T99:99", '{"a": NaN}', "%00"]


def test_every_read_route_answers_junk_query_parameters_with_a_4xx(client, app, admin, world):
    failures = []
    for path, operations in app.openapi()["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        url = path.format(**world)
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            for value in QUERY_JUNK:
                response = client.get(url, params={parameter["name"]: value}, headers=admin.headers)
                if response.status_code >= 500:
                    failures.append((path, parameter["name"], value, response.text[:200]))
    assert not failures, "\n".join(map(repr, failures))
