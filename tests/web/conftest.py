"""Browser tests: Debian's Chromium driven by Playwright (no browser download needed)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def live_server(settings, tmp_path) -> Iterator[LiveServer]:
    server = LiveServer(settings, tmp_path / "serve.log")
    yield server
    server.stop()


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
