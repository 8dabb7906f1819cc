"""The API's common behaviour: error shape, pagination, body limits, idempotency, health."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from assay.api.app import create_app
from assay.core import models


def test_unknown_route_has_the_error_shape(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "field": None}
    }


def test_validation_errors_name_the_field(client, admin):
    missing = client.post("/api/v1/users", headers=admin.headers, json={"role": "labeler"})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "email"
    bad_role = client.post(
        "/api/v1/users", headers=admin.headers, json={"email": "x@example.test", "role": "overlord"}
    )
    assert bad_role.json()["error"]["field"] == "role"
    assert "role" in bad_role.json()["error"]["message"]
    extra = client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"email": "y@example.test", "role": "labeler", "colour": "red"},
    )
    assert extra.json()["error"]["field"] == "colour"
    bad_limit = client.get("/api/v1/users?limit=0", headers=admin.headers)
    assert bad_limit.status_code == 422 and bad_limit.json()["error"]["field"] == "limit"


def test_duplicate_email_is_409_naming_email(client, admin):
    body = {"email": "Twice@Example.test", "role": "labeler"}
    assert client.post("/api/v1/users", headers=admin.headers, json=body).status_code == 201
    again = client.post(
        "/api/v1/users", headers=admin.headers, json={**body, "email": "twice@example.test"}
    )
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "conflict",
        "field": "email",
        "message": "a user with email twice@example.test already exists",
    }


def test_cursor_pagination_walks_every_row_once(client, admin, accounts):
    for _ in range(7):
        accounts.make("labeler")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/users", headers=admin.headers, params=params).json()
        seen.extend(user["id"] for user in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 8
    assert seen == sorted(seen, reverse=True)  # newest first


def test_bad_cursor_is_422(client, admin):
    response = client.get("/api/v1/users", headers=admin.headers, params={"cursor": "%%%"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "cursor"


def test_page_size_is_capped(client, admin, settings, accounts):
    for _ in range(3):
        accounts.make("labeler")
    settings.page_size_max = 2
    page = client.get("/api/v1/users", headers=admin.headers, params={"limit": 500}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]


@pytest.fixture
def small_body_client(ctx, settings):
    from fastapi.testclient import TestClient

    settings.max_request_bytes = 1024
    app = create_app(context=ctx, migrate_on_start=False, run_workers=False)
    with TestClient(app) as test_client:
        yield test_client


def test_oversized_body_is_413_and_writes_nothing(small_body_client, db, admin):
    body = {"email": "big@example.test", "role": "labeler", "name": "x" * 2000}
    response = small_body_client.post("/api/v1/users", headers=admin.headers, json=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert "1024 bytes" in response.json()["error"]["message"]

    def chunks():
        yield b'{"email": "big@example.test", "role": "labeler", "name": "'
        for _ in range(10):
            yield b"y" * 200
        yield b'"}'

    streamed = small_body_client.post(
        "/api/v1/users",
        content=chunks(),
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    with db.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(models.User)
                .where(models.User.email == "big@example.test")
            )
            == 0
        )


def test_idempotency_key_replays_the_first_response(client, db, admin):
    headers = {**admin.headers, "Idempotency-Key": "create-ada-1"}
    body = {"email": "ada@example.test", "role": "labeler"}
    first = client.post("/api/v1/users", headers=headers, json=body)
    second = client.post("/api/v1/users", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    with db.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(models.User)
                .where(models.User.email == "ada@example.test")
            )
            == 1
        )
    changed = client.post(
        "/api/v1/users", headers=headers, json={**body, "email": "grace@example.test"}
    )
    assert changed.status_code == 409
    assert changed.json()["error"]["field"] == "Idempotency-Key"


def test_idempotency_keys_are_per_user(client, accounts):
    a, b = accounts.make("admin"), accounts.make("admin")
    for account, email in ((a, "one@example.test"), (b, "two@example.test")):
        response = client.post(
            "/api/v1/users",
            json={"email": email, "role": "labeler"},
            headers={**account.headers, "Idempotency-Key": "same"},
        )
        assert response.status_code == 201 and response.json()["email"] == email


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_readyz_reports_an_unmigrated_database(tmp_path, settings):
    from fastapi.testclient import TestClient

    from assay.core.settings import Settings

    fresh = Settings(
        data_dir=tmp_path / "fresh", database_url=f"sqlite:///{tmp_path}/new.db", workers=0
    )
    app = create_app(fresh, migrate_on_start=False, run_workers=False)
    with TestClient(app) as test_client:
        response = test_client.get("/readyz")
    assert response.status_code == 503
    assert "assay db upgrade" in response.json()["reason"]


def test_request_ids(client):
    generated = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )


def test_openapi_operation_ids_are_readable(client):
    spec = client.get("/api/openapi.json").json()
    operation_ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert "create_user" in operation_ids and "list_jobs" in operation_ids
    assert len(operation_ids) == len(set(operation_ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", op) for op in operation_ids)
