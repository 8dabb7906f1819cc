"""Authentication (Basic, Bearer, sessions with CSRF) and role boundaries (401 vs 403)."""

from __future__ import annotations

import base64
import logging

import pytest
from sqlalchemy import select

from assay.core import models
from assay.core.db import Base
from tests.support.login import login as _login


def basic(key: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{key}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_no_credentials_is_401_with_a_hint(client, dialect):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert "API key" in error["message"] and "/login" in error["message"]
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer live_00000000000000000000000000000000",
        "Bearer ",
        "Token abc",
        "Basic !!!notbase64",
    ],
)
def test_bad_credentials_are_401(client, admin, header):
    assert client.get("/api/v1/me", headers={"Authorization": header}).status_code == 401


def test_scale_style_basic_auth_with_key_as_username(client, admin):
    response = client.get("/api/v1/me", headers=basic(admin.key))
    assert response.status_code == 200
    assert response.json()["user"]["id"] == admin.user.id


def test_bearer_auth(client, admin):
    assert client.get("/api/v1/me", headers=admin.headers).json()["via"] == "key"


def test_key_mode_is_recorded_on_the_actor_and_in_the_access_log(client, admin, caplog):
    with caplog.at_level(logging.INFO, logger="assay.access"):
        live = client.get("/api/v1/me", headers=admin.headers).json()
        test = client.get("/api/v1/me", headers=basic(admin.test_key)).json()
    assert (live["mode"], test["mode"]) == ("live", "test")
    records = [r for r in caplog.records if r.name == "assay.access" and r.path == "/api/v1/me"]
    assert [(r.mode, r.actor) for r in records] == [
        ("live", admin.user.id),
        ("test", admin.user.id),
    ]


def test_revoked_key_stops_working(client, admin, accounts):
    other = accounts.make("labeler")
    key_id = client.get("/api/v1/keys", headers=other.headers).json()["items"][0]["id"]
    assert client.delete(f"/api/v1/keys/{key_id}", headers=other.headers).status_code == 200
    remaining = {other.key, other.test_key}
    statuses = {
        k: client.get("/api/v1/me", headers={"Authorization": f"Bearer {k}"}).status_code
        for k in remaining
    }
    assert sorted(statuses.values()) == [200, 401]


def test_deactivated_user_keys_stop_working(client, db, accounts):
    labeler = accounts.make("labeler")
    with db.write() as session:
        session.get(models.User, labeler.user.id).is_active = False
    assert client.get("/api/v1/me", headers=labeler.headers).status_code == 401


@pytest.mark.parametrize(
    ("role", "status"), [("labeler", 403), ("reviewer", 403), ("manager", 403), ("admin", 201)]
)
def test_only_admins_create_users(client, accounts, role, status):
    caller = accounts.make(role)
    response = client.post(
        "/api/v1/users",
        headers=caller.headers,
        json={"email": f"new-{role}@example.test", "role": "labeler"},
    )
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"
        assert "admin" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("role", "status"), [("labeler", 403), ("reviewer", 403), ("manager", 200), ("admin", 200)]
)
def test_listing_users_needs_manager(client, accounts, role, status):
    assert client.get("/api/v1/users", headers=accounts.make(role).headers).status_code == status


def test_users_read_themselves_but_not_others(client, accounts):
    a, b = accounts.make("labeler"), accounts.make("labeler")
    assert client.get(f"/api/v1/users/{a.user.id}", headers=a.headers).status_code == 200
    assert client.get(f"/api/v1/users/{b.user.id}", headers=a.headers).status_code == 403


def test_keys_for_other_users_need_admin(client, accounts):
    manager, labeler, admin = (
        accounts.make("manager"),
        accounts.make("labeler"),
        accounts.make("admin"),
    )
    body = {"mode": "live", "user_id": labeler.user.id}
    assert client.post("/api/v1/keys", headers=manager.headers, json=body).status_code == 403
    created = client.post("/api/v1/keys", headers=admin.headers, json=body)
    assert created.status_code == 201
    assert (
        client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {created.json()['key']}"}
        ).json()["user"]["id"]
        == labeler.user.id
    )
    key_id = created.json()["id"]
    assert client.delete(f"/api/v1/keys/{key_id}", headers=manager.headers).status_code == 403


def test_created_keys_look_like_scales(client, admin):
    for mode in ("live", "test"):
        key = client.post("/api/v1/keys", headers=admin.headers, json={"mode": mode}).json()
        assert key["key"].startswith(f"{mode}_") and len(key["key"]) == len(mode) + 33
        assert key["prefix"] == key["key"][:9]


def test_no_raw_key_or_password_is_stored(client, db, admin):
    password = "correct horse battery staple"
    created = client.post(
        "/api/v1/users",
        headers=admin.headers,
        json={"email": "secretive@example.test", "role": "labeler", "password": password},
    )
    assert created.status_code == 201
    key = client.post(
        "/api/v1/keys",
        headers=admin.headers,
        json={"user_id": created.json()["id"], "mode": "live"},
    ).json()["key"]
    login = client.get("/login")
    client.post(
        "/login",
        data={
            "email": "secretive@example.test",
            "password": password,
            "csrf": login.cookies["assay_login_csrf"],
            "next": "/",
        },
        follow_redirects=False,
    )
    session_token = client.cookies.get("assay_session")
    assert session_token

    secrets_to_find = [password, key, key.split("_", 1)[1], admin.key, session_token]
    with db.read() as session:
        dump = []
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                dump.extend(str(value) for value in row)
    everything = "\n".join(dump)
    for secret in secrets_to_find:
        assert secret not in everything
    with db.read() as session:
        user = session.scalar(
            select(models.User).where(models.User.email == "secretive@example.test")
        )
        assert user.password_hash.startswith("$argon2id$")


def test_browser_login_session_and_csrf(client, accounts):
    manager = accounts.make("manager")
    response = _login(client, manager.user.email, manager.password)
    assert response.status_code == 303 and response.headers["location"] == "/projects"
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["via"] == "session"

    body = {"mode": "live"}
    assert client.post("/api/v1/keys", json=body).status_code == 403  # no CSRF header
    assert (
        client.post("/api/v1/keys", json=body, headers={"X-CSRF-Token": "forged"}).status_code
        == 403
    )
    csrf = client.cookies["assay_csrf"]
    assert client.post("/api/v1/keys", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201

    assert (
        client.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/api/v1/me").status_code == 401


def test_stolen_session_cookie_is_useless_after_logout(client, accounts):
    manager = accounts.make("manager")
    _login(client, manager.user.email, manager.password)
    token, csrf = client.cookies["assay_session"], client.cookies["assay_csrf"]
    client.post("/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.set("assay_session", token)
    assert client.get("/api/v1/me").status_code == 401


def test_login_rejects_wrong_password_and_forged_form(client, accounts):
    manager = accounts.make("manager")
    wrong = _login(client, manager.user.email, "not-the-password")
    assert wrong.status_code == 303 and "error=invalid" in wrong.headers["location"]
    assert "assay_session" not in client.cookies
    forged = client.post(
        "/login",
        data={"email": manager.user.email, "password": manager.password, "csrf": "guess"},
        follow_redirects=False,
    )
    assert "error=expired" in forged.headers["location"]
    assert "assay_session" not in client.cookies


def test_login_never_redirects_off_site(client, accounts):
    manager = accounts.make("manager")
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": manager.user.email,
            "password": manager.password,
            "csrf": form.cookies["assay_login_csrf"],
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_cached_key_lookups_expire(client, db, settings, accounts):
    import time

    settings.auth_cache_seconds = 0.2
    client.app.state.ctx.key_cache.ttl = 0.2
    labeler = accounts.make("labeler")
    assert client.get("/api/v1/me", headers=labeler.headers).status_code == 200
    with db.write() as session:
        session.get(models.User, labeler.user.id).is_active = False
    time.sleep(0.3)
    assert client.get("/api/v1/me", headers=labeler.headers).status_code == 401


def test_keys_cached_together_expire_spread_over_the_second_half_of_the_ttl():
    """Keys first used at once must not all be looked up again at once every ttl seconds."""
    import time

    from assay.core.auth import Actor
    from assay.core.keys import KeyCache

    cache = KeyCache(ttl=10.0)
    actor = Actor(user_id="u", email="u@example.test", role="labeler", mode="live", via="key")
    before = time.monotonic()
    for i in range(200):
        cache.put(f"key-{i}", actor)
    after = time.monotonic()
    deadlines = [deadline for deadline, _ in cache._entries.values()]
    assert len(deadlines) == 200
    assert min(deadlines) >= before + 5.0
    assert max(deadlines) <= after + 10.0
    # Spread, not bunched: 200 uniform draws over 5 s span well over 3 s.
    assert max(deadlines) - min(deadlines) > 3.0
    assert all(cache.get(f"key-{i}") is actor for i in range(200))
