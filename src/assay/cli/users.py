"""`assay users`: create and list accounts, directly on the database."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli._common import (
    database,
    explained,
    fail,
    id_column,
    out,
    print_json,
    print_table,
    time_column,
    when,
)
from assay.core import schemas
from assay.core.errors import Conflict

users_app = typer.Typer(help="User accounts.", no_args_is_help=True)


class Role(StrEnum):
    admin = "admin"
    manager = "manager"
    reviewer = "reviewer"
    labeler = "labeler"


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


@users_app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Sign-in email (unique).")],
    role: Annotated[Role, typer.Option(case_sensitive=False, help="Global role.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[
        str | None, typer.Option(help="Sign-in password (prompted for when omitted in a terminal).")
    ] = None,
    no_password: Annotated[
        bool,
        typer.Option(
            "--no-password", help="No browser sign-in: the user works with API keys only."
        ),
    ] = False,
) -> None:
    """Create a user."""
    from assay.core import users

    if password is not None and no_password:
        fail("--password and --no-password contradict each other", "give one of them")
    if password is None and not no_password:
        if not sys.stdin.isatty():
            fail(
                "no password given",
                "pass --password P, or --no-password for a user who signs in with API keys only",
            )
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with explained({Conflict: "list existing users with `assay users list`"}):
        user_in = schemas.UserCreate(email=email, name=name, role=role.value, password=password)
        with database() as db, db.write() as session:
            user = schemas.User.model_validate(users.create_user(session=session, user_in=user_in))
    out.print(f"created {user.role} {user.email} (id {user.id})")
    out.print(f"next: an API key with `assay keys create --email {user.email} --mode live`")


@users_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """All users, newest first."""
    from assay.core import users

    rows: list[schemas.User] = []
    with database() as db, db.read() as session:
        cursor = None
        while True:
            page = users.list_users(session=session, cursor=cursor, limit=500)
            rows += [schemas.User.model_validate(user) for user in page.items]
            if not (cursor := page.next_cursor):
                break
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no users yet: create one with `assay users create --email E --role admin`")
        return
    table = Table(id_column(), "email", "name", "role", "active", time_column("created"))
    for user in rows:
        table.add_row(
            user.id,
            escape(user.email),
            escape(user.name),
            user.role,
            "yes" if user.is_active else "no",
            when(user.created_at),
        )
    print_table(table)
