"""Browser tests: Debian's Chromium driven by Playwright (no browser download needed)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.core.db import Database
from assay.core.settings import Settings
from tests.conftest import Accounts, fresh_database, settings_for
from tests.support.servers import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return (
        os.environ.get("ASSAY_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("ASSAY_TEST_REQUIRE_POSTGRES") == "1" or os.environ.get("CI"):
            pytest.fail("Chromium not found: `apt-get install chromium`")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    yield tab
    context.close()


# The module's one server (tests/conftest.py): a test's people, settings and database are
# the server's.


@pytest.fixture
def live_server(module_server) -> LiveServer:
    return module_server


@pytest.fixture
def settings(module_settings) -> Settings:
    return module_settings


@pytest.fixture
def accounts(module_accounts) -> Accounts:
    return module_accounts


@pytest.fixture
def db(module_accounts) -> Database:
    return module_accounts.db


@dataclass
class Site:
    server: LiveServer
    accounts: Accounts


@pytest.fixture
def own_site(db_template, tmp_path) -> Iterator[Site]:
    """A server of the test's own over an empty database, for a test that must see it empty."""
    with fresh_database(db_template, tmp_path) as url:
        db = Database(url)
        server = LiveServer(settings_for(url, tmp_path / "data"), tmp_path / "serve.log")
        try:
            yield Site(server, Accounts(db))
        finally:
            server.stop()
            db.dispose()


_numbers = itertools.count(1)


def unique(name: str) -> str:
    """`name` numbered: tests that share a module's server make projects of their own."""
    return f"{name} {next(_numbers)}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests run against SQLite only: they test the UI, and every API call the UI
    makes is tested on both dialects under tests/api. Deselected, not skipped, so a missing
    browser still fails the run."""
    keep, drop = [], []
    for item in items:
        in_web = "tests/web/" in str(item.fspath).replace("\\", "/")
        (drop if in_web and "[postgresql" in item.nodeid else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
