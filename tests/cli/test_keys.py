"""`assay keys` in process: the printed key is the whole of stdout and it works."""

from __future__ import annotations

import json


def test_create_prints_only_a_key_that_authenticates(cli, accounts, client):
    user = accounts.make("reviewer").user

    live = cli("keys", "create", "--email", user.email.upper(), "--name", "laptop")
    assert live.exit_code == 0, live.output
    assert live.stdout.count("\n") == 1 and live.stdout.startswith("live_")
    assert "shown only once" in live.stderr
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {live.stdout.strip()}"})
    assert me.status_code == 200, me.text
    assert (me.json()["user"]["email"], me.json()["mode"]) == (user.email, "live")

    test = cli("keys", "create", "--email", user.email, "--mode", "test")
    assert test.exit_code == 0 and test.stdout.startswith("test_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {test.stdout.strip()}"})
    assert me.json()["mode"] == "test"


def test_create_for_an_unknown_email_or_mode_fails_with_a_hint(cli):
    unknown = cli("keys", "create", "--email", "nobody@example.test")
    assert unknown.exit_code == 1 and unknown.stdout == ""
    assert "no user with email nobody@example.test" in unknown.stderr
    assert "assay users create" in unknown.stderr

    bad_mode = cli("keys", "create", "--email", "nobody@example.test", "--mode", "prod")
    assert bad_mode.exit_code == 2 and "prod" in bad_mode.output


def test_list_and_revoke(cli, accounts, client):
    account = accounts.make("labeler")
    created = cli("keys", "create", "--email", account.user.email, "--name", "ci").stdout.strip()

    rows = json.loads(cli("keys", "list", "--email", account.user.email, "--json").stdout)
    assert [(r["mode"], r["name"]) for r in rows] == [("live", "ci"), ("test", ""), ("live", "")]
    assert all("key" not in row and "key_hash" not in row for row in rows)

    table = cli("keys", "list", "--email", account.user.email)
    assert table.exit_code == 0 and rows[0]["id"] in table.stdout
    assert created[:9] in table.stdout and created not in table.stdout

    revoked = cli("keys", "revoke", rows[0]["id"])
    assert revoked.exit_code == 0 and f"revoked key {rows[0]['id']}" in revoked.stdout
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {created}"})
    assert me.status_code == 401
    assert client.get("/api/v1/me", headers=account.headers).status_code == 200

    missing = cli("keys", "revoke", "0" * 24)
    assert missing.exit_code == 1 and "assay keys list" in missing.stderr
    unknown = cli("keys", "list", "--email", "nobody@example.test")
    assert unknown.exit_code == 1 and "no user with email" in unknown.stderr
