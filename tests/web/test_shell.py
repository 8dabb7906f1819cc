"""The UI shell in a real browser: log in, the empty projects page, the API docs, log out."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.conftest import screenshot


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def log_in(page, url: str, email: str, password: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(f"{url}/login?next=/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_shows_the_empty_projects_page_and_logout_ends_it(
    page, live_server, manager, dialect
):
    url = live_server.url
    log_in(page, url, manager.user.email, manager.password)
    expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("manager")
    if dialect == "sqlite":
        screenshot(page, "projects-empty")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{url}/login")
    page.goto(url + "/projects")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_wrong_password_is_explained(page, live_server, manager):
    log_in(page, live_server.url, manager.user.email, "wrong-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")


def test_api_docs_render_offline(page, live_server, manager, dialect):
    external = []
    page.on(
        "request",
        lambda request: (
            external.append(request.url) if not request.url.startswith(live_server.url) else None
        ),
    )
    page.goto(live_server.url + "/api/docs")
    # The tags open collapsed (a long document); every tag is listed, and opens on a click.
    tags = page.locator(".opblock-tag")
    expect(tags.filter(has_text="datasets").first).to_be_visible(timeout=15000)
    assert tags.count() >= 15
    tags.filter(has_text="users").first.click()
    expect(page.get_by_text("/api/v1/users/{user_id}").first).to_be_visible(timeout=15000)
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Assay")
    if dialect == "sqlite":
        screenshot(page, "api-docs")
    assert external == []
