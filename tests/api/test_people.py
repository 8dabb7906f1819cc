"""Admins manage people: deactivate (every session and key stops at once), reactivate,
reset a password, end someone's sessions."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.login import login


@pytest.fixture
def browser(app):
    """A second client with its own cookie jar: the person being managed, signed in."""
    with TestClient(app, raise_server_exceptions=False) as other:
        yield other


def signed_in(browser, account) -> None:
    response = login(browser, account.user.email, account.password)
    assert "error=" not in response.headers["location"], response.headers["location"]
    assert browser.get("/api/v1/me").status_code == 200


def key_works(client, key: str) -> bool:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_deactivating_stops_every_session_and_key_at_once(client, browser, admin, accounts):
    person = accounts.make("labeler")
    signed_in(browser, person)
    # Both keys resolved once, so this process has them cached.
    assert key_works(client, person.key) and key_works(client, person.test_key)

    done = client.post(f"/api/v1/users/{person.user.id}/deactivate", headers=admin.headers)
    assert done.status_code == 200, done.text
    assert done.json()["is_active"] is False
    assert not key_works(client, person.key)
    assert not key_works(client, person.test_key)
    assert browser.get("/api/v1/me").status_code == 401
    browser.cookies.clear()
    assert "error=invalid" in login(browser, person.user.email, person.password).headers["location"]

    back = client.post(f"/api/v1/users/{person.user.id}/reactivate", headers=admin.headers)
    assert back.status_code == 200 and back.json()["is_active"] is True
    assert key_works(client, person.key)
    signed_in(browser, person)


def test_only_admins_manage_people_and_not_themselves(client, admin, accounts):
    person = accounts.make("labeler")
    manager = accounts.make("manager")
    for path in ("deactivate", "reactivate"):
        url = f"/api/v1/users/{person.user.id}/{path}"
        assert client.post(url, headers=manager.headers).status_code == 403
        assert client.post(url, headers=person.headers).status_code == 403
    reset = client.post(
        f"/api/v1/users/{person.user.id}/password",
        headers=manager.headers,
        json={"password": "sneaky-password"},
    )
    assert reset.status_code == 403
    ended = client.delete(f"/api/v1/users/{person.user.id}/sessions", headers=manager.headers)
    assert ended.status_code == 403
    myself = client.post(f"/api/v1/users/{admin.user.id}/deactivate", headers=admin.headers)
    assert myself.status_code == 409 and "yourself" in myself.json()["error"]["message"]
    missing = client.post("/api/v1/users/" + "0" * 24 + "/deactivate", headers=admin.headers)
    assert missing.status_code == 404


def test_resetting_a_password_ends_sessions_and_replaces_the_old_one(
    client, browser, admin, accounts
):
    person = accounts.make("reviewer")
    signed_in(browser, person)
    short = client.post(
        f"/api/v1/users/{person.user.id}/password", headers=admin.headers, json={"password": "x"}
    )
    assert short.status_code == 422 and short.json()["error"]["field"] == "password"
    reset = client.post(
        f"/api/v1/users/{person.user.id}/password",
        headers=admin.headers,
        json={"password": "the-new-password"},
    )
    assert reset.status_code == 200, reset.text
    assert browser.get("/api/v1/me").status_code == 401
    browser.cookies.clear()
    assert "error=invalid" in login(browser, person.user.email, person.password).headers["location"]
    assert "error=" not in login(browser, person.user.email, "the-new-password").headers["location"]
    assert key_works(client, person.key)  # keys are not passwords


def test_ending_sessions_signs_out_every_browser_but_keeps_keys(client, app, admin, accounts):
    person = accounts.make("labeler")
    with (
        TestClient(app, raise_server_exceptions=False) as laptop,
        TestClient(app, raise_server_exceptions=False) as phone,
    ):
        signed_in(laptop, person)
        signed_in(phone, person)
        ended = client.delete(f"/api/v1/users/{person.user.id}/sessions", headers=admin.headers)
        assert ended.status_code == 200 and ended.json() == {"ended": 2}
        assert laptop.get("/api/v1/me").status_code == 401
        assert phone.get("/api/v1/me").status_code == 401
    assert key_works(client, person.key)


def test_anyone_may_end_their_own_sessions(client, browser, accounts):
    person = accounts.make("labeler")
    signed_in(browser, person)
    ended = client.delete(f"/api/v1/users/{person.user.id}/sessions", headers=person.headers)
    assert ended.status_code == 200 and ended.json() == {"ended": 1}
    assert browser.get("/api/v1/me").status_code == 401
