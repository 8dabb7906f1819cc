"""`assay users` in process against the test database."""

from __future__ import annotations

import json

from assay.core import users
from assay.core.auth import verify_password


def test_create_with_password_or_key_only(cli, db):
    result = cli(
        "users",
        "create",
        "--email",
        "Ann@Example.test",
        "--role",
        "manager",
        "--name",
        "Ann",
        "--password",
        "a-long-password",
    )
    assert result.exit_code == 0, result.output
    assert "created manager ann@example.test" in result.stdout
    assert "assay keys create --email ann@example.test" in result.stdout

    result = cli(
        "users", "create", "--email", "bot@example.test", "--role", "LABELER", "--no-password"
    )
    assert result.exit_code == 0, result.output

    with db.read() as session:
        ann = users.get_user_by_email(session=session, email="ann@example.test")
        bot = users.get_user_by_email(session=session, email="bot@example.test")
    assert (ann.name, ann.role) == ("Ann", "manager")
    assert verify_password(ann.password_hash, "a-long-password")
    assert (bot.role, bot.password_hash) == ("labeler", None)


def test_create_refuses_bad_input_and_says_what_to_do(cli, accounts):
    taken = accounts.make("labeler").user.email

    duplicate = cli("users", "create", "--email", taken, "--role", "admin", "--no-password")
    assert duplicate.exit_code == 1
    assert f"a user with email {taken} already exists" in duplicate.stderr
    assert "assay users list" in duplicate.stderr

    unknown_role = cli(
        "users", "create", "--email", "x@example.test", "--role", "emperor", "--no-password"
    )
    assert unknown_role.exit_code == 2
    assert "emperor" in unknown_role.output and "labeler" in unknown_role.output

    no_password = cli("users", "create", "--email", "x@example.test", "--role", "admin")
    assert no_password.exit_code == 1
    assert "--password" in no_password.stderr and "--no-password" in no_password.stderr

    both = cli(
        "users",
        "create",
        "--email",
        "x@example.test",
        "--role",
        "admin",
        "--password",
        "a-long-password",
        "--no-password",
    )
    assert both.exit_code == 1 and "contradict" in both.stderr

    short = cli(
        "users", "create", "--email", "x@example.test", "--role", "admin", "--password", "short"
    )
    assert short.exit_code == 1 and "password" in short.stderr and "8" in short.stderr

    bad_email = cli(
        "users", "create", "--email", "not-an-email", "--role", "admin", "--no-password"
    )
    assert bad_email.exit_code == 1 and "email" in bad_email.stderr


def test_list_as_table_and_json(cli, accounts):
    empty = cli("users", "list")
    assert empty.exit_code == 0 and "no users yet" in empty.stdout

    made = [accounts.make(role) for role in ("admin", "labeler")]
    table = cli("users", "list")
    assert table.exit_code == 0, table.output
    for account in made:
        assert account.user.id in table.stdout and account.user.email in table.stdout

    as_json = cli("users", "list", "--json")
    rows = json.loads(as_json.stdout)
    assert [(r["id"], r["role"]) for r in rows] == [(m.user.id, m.user.role) for m in made[::-1]]


def test_deactivate_reactivate_and_reset_password(cli, db, accounts):
    person = accounts.make("labeler")
    email = person.user.email

    off = cli("users", "deactivate", "--email", email)
    assert off.exit_code == 0, off.output
    assert "wrote to" in off.stderr
    with db.read() as session:
        assert users.get_user_by_email(session=session, email=email).is_active is False

    on = cli("users", "reactivate", "--email", email)
    assert on.exit_code == 0, on.output
    reset = cli("users", "reset-password", "--email", email, "--password", "brand-new-password")
    assert reset.exit_code == 0, reset.output
    with db.read() as session:
        user = users.get_user_by_email(session=session, email=email)
    assert user.is_active and verify_password(user.password_hash, "brand-new-password")

    short = cli("users", "reset-password", "--email", email, "--password", "short")
    assert short.exit_code == 1 and "password" in short.stderr
    nobody = cli("users", "deactivate", "--email", "nobody@example.test")
    assert nobody.exit_code == 1 and "assay users list" in nobody.stderr
