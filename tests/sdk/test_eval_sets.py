"""`client.eval_sets` against a real `assay serve` (its workers run the import job): a
Parquet file imported as version 1, a JSONL edit as version 2, reading either back, the
export's canary, the read log, a bad file's error, and a stranger refused."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from assay.sdk import JobFailed, NotFound

pytestmark = pytest.mark.live


def test_an_eval_set_through_the_sdk(connect, server, accounts, tmp_path):
    owner_account = accounts.make("manager")
    client = connect(server.url, owner_account.key)
    eval_set = client.eval_sets.create("held-out math")
    path = tmp_path / "items.parquet"
    pl.DataFrame(
        {
            "external_id": ["a", "b", "c"],
            "prompt": ["1+1?", "2+2?", "3+3?"],
            "reference": ["2", "4", "6"],
            "difficulty": ["easy", "easy", "hard"],
        }
    ).write_parquet(path)
    job = client.eval_sets.import_file(eval_set.id, path, message="first", timeout=60)
    assert job.result["version"] == 1 and job.result["added"] == 3
    edit = json.dumps({"external_id": "b", "prompt": "2+3?", "reference": "5"}).encode()
    assert client.eval_sets.import_file(eval_set.id, edit, format="jsonl").result["version"] == 2

    first = {i.external_id: i.content for i in client.eval_sets.items(eval_set.id, version=1)}
    newest = {i.external_id: i.content for i in client.eval_sets.items(eval_set.id)}
    assert first["b"] == {"prompt": "2+2?", "reference": "4"}
    assert newest["b"] == {"prompt": "2+3?", "reference": "5"} and newest["a"] == first["a"]
    assert [v.number for v in client.eval_sets.versions(eval_set.id)] == [2, 1]

    exported = client.eval_sets.export(eval_set.id, version=1).decode().splitlines()
    canary = client.eval_sets.get(eval_set.id).canary
    assert len(exported) == 4 and all(canary in line for line in exported)
    assert client.eval_sets.check_canaries(exported[2]) == [
        {"set_id": eval_set.id, "name": "held-out math"}
    ]
    routes = [r.route for r in client.eval_sets.reads(eval_set.id)]
    assert routes == ["export", "items", "items"]

    with pytest.raises(JobFailed, match="line 1: reference"):
        client.eval_sets.import_file(
            eval_set.id, b'{"prompt": "p", "reference": 5}', format="jsonl"
        )
    stranger = connect(server.url, accounts.make("manager").key)
    with pytest.raises(NotFound):
        list(stranger.eval_sets.items(eval_set.id))
    assert list(stranger.eval_sets.list()) == []
    assert io.BytesIO(client.eval_sets.export(eval_set.id)).read().count(canary.encode()) == 4
