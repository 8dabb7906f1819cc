from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import Result
from typer.testing import CliRunner

from assay.cli.main import app
from assay.core.settings import get_settings


@pytest.fixture
def cli(settings, monkeypatch) -> Iterator[Callable[..., Result]]:
    """`cli("users", "list")`: run `assay …` in process against this test's database."""
    monkeypatch.setenv("ASSAY_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("ASSAY_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input)

    yield invoke
    get_settings.cache_clear()  # the CLI cached settings read from this test's environment
