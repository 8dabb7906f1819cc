"""`assay eval providers add/list` in process: the key read from an environment variable,
stored encrypted and never printed; prices parsed; bad input refused saying why."""

from __future__ import annotations

import json

from sqlalchemy import text

KEY = "sk-cli-never-printed-77aa88bb99"


def test_add_and_list(cli, db, monkeypatch):
    monkeypatch.setenv("VLLM_KEY", KEY)
    added = cli(
        "eval", "providers", "add", "vllm",
        "--base-url", "http://vllm.example.com:8000/v1",
        "--api-key-env", "VLLM_KEY",
        "--rpm", "600",
        "--transport", "lean",
        "--price", "llama=0.1,0.2",
        "--price", "*=1,2",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added provider vllm" in added.stdout and KEY not in added.output
    listed = cli("eval", "providers", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [provider] = json.loads(listed.stdout)
    assert provider["has_api_key"] is True and provider["requests_per_minute"] == 600
    assert provider["transport"] == "lean"
    assert provider["prices"] == {
        "llama": {"input": 0.1, "output": 0.2},
        "*": {"input": 1.0, "output": 2.0},
    }
    table = cli("eval", "providers", "list")
    assert "vllm" in table.stdout and "llama" in table.stdout and KEY not in table.output
    assert "lean" in table.stdout
    with db.read() as session:
        stored = session.execute(text("SELECT api_key FROM eval_providers")).scalar_one()
    assert stored.startswith("enc1:") and KEY not in stored

    again = cli("eval", "providers", "add", "vllm", "--base-url", "http://vllm.example.com/v1")
    assert again.exit_code == 1 and "a provider named 'vllm' exists" in again.output


def test_refusals(cli, monkeypatch):
    monkeypatch.delenv("MISSING_KEY", raising=False)
    missing = cli(
        "eval", "providers", "add", "p", "--base-url", "http://h/v1", "--api-key-env", "MISSING_KEY"
    )
    assert missing.exit_code == 1 and "MISSING_KEY is empty or not set" in missing.output
    bad_price = cli("eval", "providers", "add", "p", "--base-url", "http://h/v1", "--price", "x=1")
    assert bad_price.exit_code == 1 and "is not MODEL=INPUT,OUTPUT" in bad_price.output
    bad_url = cli("eval", "providers", "add", "p", "--base-url", "ftp://h/v1")
    assert bad_url.exit_code == 1 and "error:" in bad_url.output
    # The outbound policy: a loopback endpoint needs the operator's ASSAY_OUTBOUND_ALLOW.
    internal = cli("eval", "providers", "add", "p", "--base-url", "http://127.0.0.1:8000/v1")
    assert internal.exit_code == 1 and "not an allowed destination" in internal.output
    empty = cli("eval", "providers", "list")
    assert empty.exit_code == 0 and "no providers yet" in empty.stdout


def test_the_key_from_a_hidden_prompt(cli):
    added = cli(
        "eval", "providers", "add", "hosted", "--base-url", "https://api.example.com/v1",
        "--ask-key", "--price", "m=1,2",
        input=f"{KEY}\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "API key" in added.output and KEY not in added.output
    [provider] = json.loads(cli("eval", "providers", "list", "--json").stdout)
    assert provider["has_api_key"] is True and provider["base_url"] == "https://api.example.com/v1"
