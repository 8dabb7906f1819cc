"""The CLI says which database it wrote to, and finds the demo's data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli._common import describe
from assay.cli.demo import CREDENTIALS_FILE
from assay.cli.main import app
from assay.core.settings import get_settings


def test_writes_say_which_database_they_wrote_to(cli, settings, dialect):
    made = cli("users", "create", "--email", "w@example.test", "--role", "admin", "--no-password")
    assert made.exit_code == 0, made.output
    where = describe(settings.resolved_database_url)
    assert f"wrote to {where}" in " ".join(made.stderr.split())
    if dialect == "sqlite":
        assert where == f"sqlite:///{Path(settings.resolved_database_url[10:]).resolve()}"

    key = cli("keys", "create", "--email", "w@example.test")
    assert key.exit_code == 0, key.output
    assert key.stdout.strip().startswith("live_") and len(key.stdout.split()) == 1
    assert f"wrote to {where}" in " ".join(key.stderr.split())

    listed = cli("users", "list")
    assert "wrote to" not in listed.stderr


def test_database_urls_are_shown_without_their_password():
    shown = describe("postgresql+psycopg://assay:s3cret-pass@db.example.test:5432/assay")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://assay:***@db.example.test:5432/assay"
    assert describe("sqlite:///relative/assay.db") == (
        f"sqlite:///{(Path.cwd() / 'relative' / 'assay.db')}"
    )


@pytest.fixture
def in_a_checkout(tmp_path, monkeypatch):
    """A working directory of our own, no data directory or database chosen, and a home
    directory that is not the real one."""
    for name in ("ASSAY_DATA_DIR", "ASSAY_DATABASE_URL"):
        monkeypatch.setenv(name, "recorded, so the CLI's own setting is undone afterwards")
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


def test_after_the_demo_commands_find_its_data_directory(in_a_checkout, tmp_path):
    # What `make demo` leaves behind: ./.assay-demo with a database and its credentials.
    demo = tmp_path / ".assay-demo"
    made = CliRunner().invoke(
        app,
        ["users", "create", "--email", "lead@example.test", "--role", "admin", "--no-password"],
        env={"ASSAY_DATA_DIR": str(demo)},
    )
    assert made.exit_code == 0, made.output
    (demo / CREDENTIALS_FILE).write_text("{}")

    listed = in_a_checkout("users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "lead@example.test" in listed.stdout
    said = " ".join(listed.stderr.split())
    assert f"using the demo's data directory {demo}" in said and "ASSAY_DATA_DIR" in said

    wrote = in_a_checkout(
        "users", "create", "--email", "new@example.test", "--role", "labeler", "--no-password"
    )
    assert f"wrote to sqlite:///{demo / 'assay.db'}" in " ".join(wrote.stderr.split())


def test_without_the_demo_marker_the_default_stays(in_a_checkout, tmp_path):
    (tmp_path / ".assay-demo").mkdir()  # a directory alone is not the demo's
    listed = in_a_checkout("users", "list")
    assert listed.exit_code == 0, listed.output
    assert "no users yet" in listed.stdout and "demo" not in listed.stderr
