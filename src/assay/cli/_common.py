"""What the noun commands share: the database, readable errors, output helpers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Column

from assay.core.errors import AssayError

T = TypeVar("T", bound=BaseModel)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def describe(url: Any) -> str:
    """A database URL to show: never its password, and a SQLite file by its absolute path."""
    from sqlalchemy.engine import make_url

    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    return url.render_as_string(hide_password=True)


@contextmanager
def database(*, writes: bool = False) -> Iterator[Any]:
    """The configured database, migrated first so a fresh data directory just works. A
    command that `writes` says on stderr which database it wrote to, once it has."""
    from assay.cli.main import load_settings
    from assay.core import migrate
    from assay.core.db import Database

    settings = load_settings()
    db = Database(settings.resolved_database_url)
    try:
        try:
            migrate.upgrade(db)
        except Exception as exc:
            fail(
                f"could not open the database at {describe(db.engine.url)}: {exc}",
                "check ASSAY_DATABASE_URL / --data-dir, then try `assay db upgrade`",
            )
        yield db
        if writes:
            err.print(f"wrote to {escape(describe(db.engine.url))}", highlight=False)
    finally:
        db.dispose()


def every_page(fetch: Callable[[str | None], Any], schema: type[T]) -> list[T]:
    """Every row of a paged service call (`fetch(cursor)`), as `schema`."""
    rows: list[T] = []
    cursor = None
    while True:
        page = fetch(cursor)
        rows += [schema.model_validate(row) for row in page.items]
        if not (cursor := page.next_cursor):
            return rows


def fail(message: str, hint: str | None = None, *, code: int = 1) -> NoReturn:
    """Print `error: message` (and what to do about it) on stderr and exit nonzero."""
    err.print(f"[red]error:[/] {escape(message)}")
    if hint:
        err.print(escape(hint))
    raise typer.Exit(code)


@contextmanager
def explained(hints: dict[type[AssayError], str] | None = None) -> Iterator[None]:
    """Turn domain and validation errors into `fail(...)` with a hint per error type."""
    try:
        yield
    except AssayError as exc:
        hint = next((h for cls, h in (hints or {}).items() if isinstance(exc, cls)), None)
        fail(exc.message, hint)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        ]
        fail("; ".join(problems))


def id_column() -> Column:
    """Ids are copied into other commands, so they are never cut or wrapped."""
    return Column("id", no_wrap=True, min_width=24)


def time_column(name: str) -> Column:
    return Column(name, no_wrap=True)


def when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def print_table(table: Any) -> None:
    """A table on stdout; piped (to grep, a file) it is never cut to an imagined 80 columns."""
    if out.is_terminal:
        out.print(table)
        return
    width = Measurement.get(out, out.options.update_width(100_000), table).maximum
    Console(width=max(width, 20), soft_wrap=True).print(table)


def print_json(rows: list[Any]) -> None:
    """Rows (pydantic models) as a JSON array on stdout, for scripts."""
    typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
