"""`assay keys`: create, list and revoke API keys, directly on the database."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli._common import (
    database,
    err,
    every_page,
    explained,
    id_column,
    out,
    print_json,
    print_table,
    time_column,
    when,
)
from assay.core import schemas
from assay.core.errors import NotFound

keys_app = typer.Typer(help="API keys (live_… and test_…).", no_args_is_help=True)
NO_SUCH_USER = (
    "create the user first with `assay users create --email E --role R`, "
    "or check the address with `assay users list`"
)


class Mode(StrEnum):
    live = "live"
    test = "test"


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Whose key.")],
    mode: Annotated[
        Mode,
        typer.Option(case_sensitive=False, help="live, or test (sandbox: tasks complete at once)."),
    ] = Mode.live,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
) -> None:
    """Create a key and print only the key on stdout (it is shown once: store it now)."""
    from assay.core import keys, users

    with explained({NotFound: NO_SUCH_USER}), database(writes=True) as db, db.write() as session:
        user = users.get_user_by_email(session=session, email=email)
        key, raw = keys.create_key(session=session, user=user, mode=mode.value, name=name)
        key_id, user_email = key.id, user.email
    typer.echo(raw)
    err.print(
        f"created {mode.value} key {key_id} for {user_email}; it is shown only once, store it now"
    )


@keys_app.command("list")
def list_(
    email: Annotated[str, typer.Option(help="Whose keys.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """A user's keys, newest first, revoked ones included (secrets are never shown)."""
    from assay.core import keys, users

    with explained({NotFound: NO_SUCH_USER}), database() as db, db.read() as session:
        user = users.get_user_by_email(session=session, email=email)
        rows = every_page(
            lambda cursor: keys.list_keys(
                session=session, user_id=user.id, cursor=cursor, limit=500
            ),
            schemas.ApiKey,
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print(f"{email} has no API keys: `assay keys create --email {email}`")
        return
    table = Table(
        id_column(), "mode", "name", "starts with", time_column("created"), time_column("revoked")
    )
    for key in rows:
        table.add_row(
            key.id,
            key.mode,
            escape(key.name),
            f"{key.prefix}…",
            when(key.created_at),
            when(key.revoked_at),
        )
    print_table(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")]) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from assay.core import keys

    hint = "find key ids with `assay keys list --email E`"
    with explained({NotFound: hint}), database(writes=True) as db, db.write() as session:
        key = keys.revoke_key(session=session, key=keys.get_key(session=session, key_id=key_id))
        revoked_at = key.revoked_at
    out.print(f"revoked key {key_id} at {when(revoked_at)}")
