"""`assay eval sets` in process against the test's database, with a real worker pool running
the import job: create, import (CSV then JSONL), list, export with the canary in every row
(logged), a sealed set's export refused, and a user who is not an owner refused."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

import assay.evaluation.jobs  # noqa: F401  (registers the import job kind)
from assay.evaluation import models


def created(result) -> str:
    assert result.exit_code == 0, result.output
    found = re.search(r"created evaluation set (\w+)", result.stdout)
    assert found, result.stdout
    return found.group(1)


def test_create_import_list_and_export(cli, pool, accounts, db, tmp_path):
    owner = accounts.make("manager").user.email
    stranger = accounts.make("manager").user.email
    set_id = created(cli("eval", "sets", "create", "held-out", "--as", owner))
    csv_file = tmp_path / "items.csv"
    csv_file.write_text("external_id,prompt,reference,tags\nq1,one?,1,a;b\nq2,two?,2,\n")
    imported = cli(
        "eval", "sets", "import", set_id, str(csv_file), "--as", owner, "--interval", "0.05"
    )
    assert imported.exit_code == 0, imported.output
    assert re.search(r"job \w+ succeeded", imported.stdout) and '"version": 1' in imported.stdout
    edit = tmp_path / "edit.jsonl"
    edit.write_text(json.dumps({"external_id": "q3", "prompt": "three?"}) + "\n")
    again = cli("eval", "sets", "import", set_id, str(edit), "--as", owner, "--interval", "0.05")
    assert '"version": 2' in again.stdout, again.output

    rows = json.loads(cli("eval", "sets", "list", "--as", owner, "--json").stdout)
    assert [(r["id"], r["version"], r["item_count"]) for r in rows] == [(set_id, 2, 3)]
    assert json.loads(cli("eval", "sets", "list", "--as", stranger, "--json").stdout) == []

    exported = cli("eval", "sets", "export", set_id, "--as", owner, "--version", "1")
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    canary = lines[0]["assay_eval_set"]["canary"]
    assert canary.startswith("assay-canary-") and len(lines) == 3
    assert [(r["external_id"], r["canary"]) for r in lines[1:]] == [("q1", canary), ("q2", canary)]
    assert lines[1]["tags"] == ["a", "b"]
    with db.read() as session:
        reads = list(session.scalars(select(models.EvalSetRead)))
    assert [(r.route, r.version, r.item_count) for r in reads] == [("cli export", 1, 2)]

    refused = cli("eval", "sets", "export", set_id, "--as", stranger)
    assert refused.exit_code == 1 and "no evaluation set" in refused.output
    sealed = created(cli("eval", "sets", "create", "vault", "--sealed", "--as", owner))
    cli("eval", "sets", "import", sealed, str(csv_file), "--as", owner, "--interval", "0.05")
    vault = cli("eval", "sets", "export", sealed, "--as", owner)
    assert vault.exit_code == 1 and "sealed" in vault.output and "one?" not in vault.output
