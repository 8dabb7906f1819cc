"""`assay users`: create, list, deactivate accounts and reset passwords, directly on the
database."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli._common import (
    database,
    every_page,
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
from assay.core.errors import Conflict, NotFound

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
        with database(writes=True) as db, db.write() as session:
            user = schemas.User.model_validate(users.create_user(session=session, user_in=user_in))
    out.print(f"created {user.role} {user.email} (id {user.id})")
    out.print(f"next: an API key with `assay keys create --email {user.email} --mode live`")


@users_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """All users, newest first."""
    from assay.core import users

    with database() as db, db.read() as session:
        rows = every_page(
            lambda cursor: users.list_users(session=session, cursor=cursor, limit=500),
            schemas.User,
        )
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


NO_SUCH_USER = "list users with `assay users list`"


@users_app.command("deactivate")
def deactivate(email: Annotated[str, typer.Option(help="Whose account.")]) -> None:
    """Stop a user: no sign-in, sessions ended, API keys refused (by running servers within
    ASSAY_AUTH_CACHE_SECONDS)."""
    from assay.core import users
    from assay.core.auth import SYSTEM

    with (
        explained({NotFound: NO_SUCH_USER}),
        database(writes=True) as db,
        db.write() as session,
    ):
        user = users.get_user_by_email(session=session, email=email)
        users.deactivate_user(session=session, user=user, actor=SYSTEM)
    out.print(f"deactivated {email}; `assay users reactivate --email {email}` undoes it")


@users_app.command("reactivate")
def reactivate(email: Annotated[str, typer.Option(help="Whose account.")]) -> None:
    """Let a deactivated user sign in again (their keys that were not revoked work again)."""
    from assay.core import users

    with (
        explained({NotFound: NO_SUCH_USER}),
        database(writes=True) as db,
        db.write() as session,
    ):
        users.reactivate_user(
            session=session, user=users.get_user_by_email(session=session, email=email)
        )
    out.print(f"reactivated {email}")


@users_app.command("reset-password")
def reset_password(
    email: Annotated[str, typer.Option(help="Whose account.")],
    password: Annotated[
        str | None, typer.Option(help="The new password (prompted for when omitted in a terminal).")
    ] = None,
) -> None:
    """Set a user's password: their browser sessions end and a sign-in lockout lifts."""
    from assay.core import users
    from assay.core.auth import hash_password

    if password is None:
        if not sys.stdin.isatty():
            fail("no password given", "pass --password P")
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with explained({NotFound: NO_SUCH_USER}):
        reset = schemas.PasswordReset(password=password)
        password_hash = hash_password(reset.password)
        with database(writes=True) as db, db.write() as session:
            user = users.get_user_by_email(session=session, email=email)
            users.reset_password(session=session, user=user, password_hash=password_hash)
    out.print(f"new password set for {email}; their browser sessions have ended")
