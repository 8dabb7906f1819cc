"""The People page in a real browser against a real `assay serve`: an admin adds a person
with a role, issues an API key (shown once) and revokes it, resets a password, ends a
person's sessions, deactivates and reactivates them; non-admins get no People page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.login import login
from tests.web.conftest import screenshot
from tests.web.test_manager import log_in

XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def people(accounts):
    return {
        "admin": accounts.make("admin", email="admin@example.test"),
        "ana": accounts.make("labeler", email="ana@example.test"),
        "old": accounts.make("labeler", email="old.contractor@example.test"),
    }


@pytest.fixture
def anon(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def me_status(live_server, key: str) -> int:
    return httpx.get(
        f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}
    ).status_code


def row(page, email: str):
    return page.locator(f'tr[data-user="{email}"]')


def confirm(page, button: str) -> None:
    page.get_by_role("dialog").get_by_role("button", name=button, exact=True).click()


def test_an_admin_manages_people(page, live_server, people, anon):
    admin, ana, old = people["admin"], people["ana"], people["old"]
    httpx.post(
        f"{live_server.url}/api/v1/users",
        headers=admin.headers,
        json={"email": "xss@example.test", "name": XSS, "role": "labeler"},
    ).raise_for_status()
    dialogs = log_in(page, live_server.url, admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page).to_have_url(f"{live_server.url}/people")
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    expect(row(page, "xss@example.test")).to_contain_text(XSS)  # shown as text, inert

    # Add a person with a role and a password (a taken email is refused on its field).
    page.get_by_role("button", name="Add person").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Email").fill(ana.user.email)
    dialog.get_by_role("button", name="Add person").click()
    expect(dialog.locator(".field-error")).to_contain_text("already exists")
    expect(dialog.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Email").fill("new.person@example.test")
    dialog.get_by_label("Name").fill("New Person")
    dialog.get_by_label("Role").select_option("reviewer")
    dialog.get_by_label("Password").fill("first-password-1")
    dialog.get_by_role("button", name="Add person").click()
    expect(row(page, "new.person@example.test")).to_contain_text("Reviewer")
    expect(row(page, "new.person@example.test")).to_contain_text("Active")
    with httpx.Client(base_url=live_server.url, timeout=30) as newcomer:
        first = login(newcomer, "new.person@example.test", "first-password-1")
        assert "error=" not in first.headers["location"]

    # Issue a live key for Ana: shown once, works; then revoke it.
    row(page, ana.user.email).get_by_role("button", name="API keys").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="New key").click()
    secret = dialog.get_by_label("New API key")
    expect(secret).to_have_value(re.compile(r"^live_[0-9a-f]{32}$"))
    raw = secret.input_value()
    assert raw.startswith("live_") and me_status(live_server, raw) == 200
    dialog.get_by_role("button", name=f"Revoke {raw[:9]}").click()
    confirm(page, "Revoke")
    expect(page.get_by_role("dialog").get_by_text("Revoked")).to_be_visible()
    assert me_status(live_server, raw) == 401
    page.get_by_role("dialog").get_by_role("button", name="Done").click()

    # Reset Ana's password: the old one stops, the new one works.
    row(page, ana.user.email).get_by_role("button", name="Reset password").click()
    page.get_by_role("dialog").get_by_label("New password").fill("ana-brand-new-pass")
    page.get_by_role("dialog").get_by_role("button", name="Set password").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert "error=invalid" in login(anon, ana.user.email, ana.password).headers["location"]
    assert "error=" not in login(anon, ana.user.email, "ana-brand-new-pass").headers["location"]
    assert anon.get("/api/v1/me").status_code == 200

    # End Ana's sessions: her browser is signed out, her key still works.
    row(page, ana.user.email).get_by_role("button", name="End sessions").click()
    confirm(page, "End sessions")
    expect(page.get_by_text("Ended 1 session")).to_be_visible()
    assert anon.get("/api/v1/me").status_code == 401
    assert me_status(live_server, ana.key) == 200

    # Deactivate and reactivate Ana; deactivate the old contractor for good.
    row(page, ana.user.email).get_by_role("button", name="Deactivate").click()
    confirm(page, "Deactivate")
    expect(row(page, ana.user.email)).to_contain_text("Deactivated")
    assert me_status(live_server, ana.key) == 401
    row(page, ana.user.email).get_by_role("button", name="Reactivate").click()
    expect(row(page, ana.user.email)).to_contain_text("Active")
    assert me_status(live_server, ana.key) == 200
    row(page, old.user.email).get_by_role("button", name="Deactivate").click()
    confirm(page, "Deactivate")
    expect(row(page, old.user.email)).to_contain_text("Deactivated")
    # An admin cannot deactivate themself from here.
    expect(row(page, admin.user.email).get_by_role("button", name="Deactivate")).to_have_count(0)

    assert page.evaluate("window.__xss") is None and dialogs == []
    page.evaluate("window.scrollTo(0, 0); document.getElementById('toasts')?.replaceChildren()")
    screenshot(page, "people")


def test_people_is_for_admins(page, live_server, accounts):
    manager = accounts.make("manager")
    log_in(page, live_server.url, manager)
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="People")
    ).to_be_hidden()
    page.goto(f"{live_server.url}/people")
    expect(page.get_by_text("People are managed by admins")).to_be_visible()
