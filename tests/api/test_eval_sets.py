"""Evaluation sets through the API: imports as jobs (JSONL, CSV, Parquet) making versions,
all-or-nothing imports naming line and field, exports carrying the canary in every row,
the read log of every owner read, sealed sets, the public teaser — and the privacy walk:
every route, called by a labeler, another manager, an admin who is not an owner and no one,
shows no private item's text, reference, rubric or canary (nor a sealed set's to its owner)."""

from __future__ import annotations

import io
import json
import re
import time
from collections import Counter
from typing import Any

import polars as pl
import pytest

from tests.api.test_gold_never_leaks import _fill, _get_paths

API = "/api/v1"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


def item(n: int, marker: str, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"q{n}",
        "prompt": f"{marker}-prompt-{n}: what is {n} + {n}?",
        "reference": f"{marker}-ref-{n}",
        "rubric": {
            "criteria": [
                {"id": "c1", "text": f"{marker}-rubric-{n}", "points": 2, "category": "acc"},
                {"id": "c2", "text": "rambles", "points": -1, "category": "style"},
            ]
        },
        "domain": "math",
        "language": "en",
        "tags": ["arith"],
        **extra,
    }


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def create_set(client, account, name: str, **extra: Any) -> dict:
    return ok(
        client.post(f"{API}/eval-sets", json={"name": name, **extra}, headers=account.headers)
    )


def wait(client, account, job: dict) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = ok(client.get(f"{API}/jobs/{job['id']}", headers=account.headers))
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"the import did not finish: {job}")


def import_file(client, account, set_id: str, data: bytes, fmt: str, **params: Any) -> dict:
    response = client.post(
        f"{API}/eval-sets/{set_id}/imports",
        params={"format": fmt, **params},
        content=data,
        headers={**account.headers, "content-type": "application/octet-stream"},
    )
    assert response.status_code == 202, response.text
    return wait(client, account, response.json())


def all_items(client, account, set_id: str, version: int | None = None) -> list[dict]:
    found, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if version is not None:
            params["version"] = version
        if cursor:
            params["cursor"] = cursor
        page = ok(
            client.get(f"{API}/eval-sets/{set_id}/items", params=params, headers=account.headers)
        )
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_imports_in_three_formats_make_versions_that_read_back(client, manager, pool):
    eval_set = create_set(client, manager, "math")
    sid = eval_set["id"]
    assert eval_set["version"] == 0 and eval_set["canary"].startswith("assay-canary-")
    first = [item(1, "A"), item(2, "A"), item(3, "A")]
    job = import_file(client, manager, sid, jsonl(first), "jsonl", message="first")
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["version"] == 1 and job["result"]["added"] == 3
    assert job["progress"] == 1.0 and job["progress_message"] == "imported 3 items"

    # CSV: change q2, add q4 (rubric as JSON text, tags split on ';').
    rubric = json.dumps(item(2, "B")["rubric"]).replace('"', '""')
    csv_text = (
        "external_id,prompt,reference,rubric,tags,teaser\n"
        f'q2,"B-prompt-2, changed",B-ref-2,"{rubric}",arith;hard,false\n'
        "q4,B-prompt-4,,,,true\n"
    )
    job = import_file(client, manager, sid, csv_text.encode(), "csv")
    assert job["status"] == "succeeded", job["error"]
    assert (job["result"]["version"], job["result"]["added"], job["result"]["retired"]) == (2, 2, 1)

    # Parquet, replacing: only q1 (unchanged) and q5 stay.
    frame = pl.DataFrame(
        {"external_id": ["q1", "q5"], "prompt": [item(1, "A")["prompt"], "C-prompt-5"]}
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    job = import_file(client, manager, sid, buffer.getvalue(), "parquet", replace="true")
    assert job["status"] == "succeeded", job["error"]
    # q1 differs from its live row (no reference or rubric now), so it is replaced too.
    assert job["result"]["version"] == 3 and job["result"]["item_count"] == 2

    by_version = {
        number: {i["external_id"]: i for i in all_items(client, manager, sid, number)}
        for number in (1, 2, 3)
    }
    assert sorted(by_version[1]) == ["q1", "q2", "q3"]
    assert by_version[1]["q2"]["content"]["prompt"] == "A-prompt-2: what is 2 + 2?"
    assert by_version[1]["q2"]["content"]["rubric"] == item(2, "A")["rubric"]
    assert sorted(by_version[2]) == ["q1", "q2", "q3", "q4"]
    assert by_version[2]["q2"]["content"]["prompt"] == "B-prompt-2, changed"
    assert by_version[2]["q2"]["tags"] == ["arith", "hard"]
    assert by_version[2]["q4"]["teaser"] is True and by_version[2]["q1"] == by_version[1]["q1"]
    assert sorted(by_version[3]) == ["q1", "q5"]
    assert by_version[3]["q1"]["content"] == {"prompt": item(1, "A")["prompt"]}
    # Reading version 1 again, after later versions, gives exactly what it gave.
    again = {i["external_id"]: i for i in all_items(client, manager, sid, 1)}
    assert again == by_version[1]

    versions = ok(client.get(f"{API}/eval-sets/{sid}/versions", headers=manager.headers))["items"]
    assert [(v["number"], v["item_count"], v["teaser_count"]) for v in versions] == [
        (3, 2, 0),
        (2, 4, 1),
        (1, 3, 0),
    ]
    assert len({v["content_hash"] for v in versions}) == 3
    # The same file again changes nothing and makes no version.
    job = import_file(client, manager, sid, buffer.getvalue(), "parquet", replace="true")
    assert job["result"] == {"items": 2, "version": 3, "unchanged": True}


@pytest.mark.parametrize(
    ("fmt", "data", "where"),
    [
        (
            "jsonl",
            jsonl(
                [
                    item(1, "X"),
                    item(2, "X"),
                    {
                        **item(3, "X"),
                        "rubric": {"criteria": [{"id": "a", "text": "t", "points": "lots"}]},
                    },
                ]
            ),
            "line 3: rubric.criteria.0.points",
        ),
        ("jsonl", jsonl([item(1, "X"), {"external_id": "q2"}]), "line 2: item"),
        ("jsonl", jsonl([item(1, "X"), item(1, "X")]), "line 2: external_id"),
        (
            "csv",
            b"external_id,prompt,teaser\nq1,X-prompt,true\nq2,X-prompt-2,maybe\n",
            "line 3: teaser",
        ),
        (
            "csv",
            b"external_id,prompt,messages\nq1,X-p,\n"
            b'q2,,"[{""role"": ""robot"", ""content"": ""X-m""}]"\n',
            "line 3: messages.0.role",
        ),
        (
            "jsonl",
            b'{"external_id": "q1", "prompt": "X-prompt"}\n{not json X-secret\n',
            "line 2: not valid JSON",
        ),
    ],
)
def test_a_bad_file_fails_naming_line_and_field_and_writes_nothing(
    client, manager, pool, db, fmt, data, where
):
    sid = create_set(client, manager, "strict")["id"]
    job = import_file(client, manager, sid, data, fmt)
    assert job["status"] == "failed"
    assert where in job["error"], job["error"]
    assert "X-" not in job["error"]  # the file is private: no value is echoed
    got = ok(client.get(f"{API}/eval-sets/{sid}", headers=manager.headers))
    assert got["version"] == 0 and got["item_count"] == 0
    from sqlalchemy import func, select

    from assay.evaluation import models

    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(models.EvalSetItem)) == 0
        assert session.scalar(select(func.count()).select_from(models.EvalSetUpload)) == 0


def test_export_carries_the_canary_every_owner_read_is_logged(client, manager, accounts, pool):
    sid = create_set(client, manager, "logged")["id"]
    co_owner = accounts.make("manager")
    ok(
        client.post(
            f"{API}/eval-sets/{sid}/owners",
            json={"user_id": co_owner.user.id},
            headers=manager.headers,
        )
    )
    import_file(client, manager, sid, jsonl([item(n, "E") for n in range(5)]), "jsonl")
    canary = ok(client.get(f"{API}/eval-sets/{sid}", headers=manager.headers))["canary"]

    page = ok(
        client.get(f"{API}/eval-sets/{sid}/items", params={"limit": 3}, headers=manager.headers)
    )
    one = ok(
        client.get(
            f"{API}/eval-sets/{sid}/items/{page['items'][0]['id']}", headers=co_owner.headers
        )
    )
    exported = client.get(f"{API}/eval-sets/{sid}/export", headers=co_owner.headers)
    assert exported.status_code == 200
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines[0]["assay_eval_set"]["canary"] == canary
    assert len(lines) == 6 and all(row["canary"] == canary for row in lines[1:])
    assert {row["external_id"] for row in lines[1:]} == {f"q{n}" for n in range(5)}
    # An export imports back unchanged (its header and canaries are skipped).
    again = import_file(client, manager, sid, exported.content, "jsonl")
    assert again["result"]["unchanged"] is True
    # And the canary check finds whose copy it is; another manager's check finds nothing.
    found = ok(
        client.post(
            f"{API}/eval-sets/canary-check",
            json={"text": exported.text[-500:]},
            headers=manager.headers,
        )
    )
    assert found["matches"] == [{"set_id": sid, "name": "logged"}]
    stranger = accounts.make("manager")
    assert (
        ok(
            client.post(
                f"{API}/eval-sets/canary-check",
                json={"text": exported.text},
                headers=stranger.headers,
            )
        )["matches"]
        == []
    )

    reads = ok(client.get(f"{API}/eval-sets/{sid}/reads", headers=manager.headers))["items"]
    logged = [(r["route"], r["user_id"], r["item_count"], r["item_ids"]) for r in reversed(reads)]
    assert logged == [
        ("items", manager.user.id, 3, [i["id"] for i in page["items"]]),
        ("item", co_owner.user.id, 1, [one["id"]]),
        ("export", co_owner.user.id, 5, None),
    ]
    assert all(r["key_id"] and r["version"] == 1 for r in reads)


def test_sealed_sets_show_owners_tags_and_hashes_only(client, manager, pool):
    sid = create_set(client, manager, "sealed", sealed=True)["id"]
    import_file(client, manager, sid, jsonl([item(1, "S", teaser=True)]), "jsonl")
    page = ok(client.get(f"{API}/eval-sets/{sid}/items", headers=manager.headers))
    (only,) = page["items"]
    assert only["content"] is None and only["tags"] == ["arith"] and len(only["content_hash"]) == 64
    refused = client.get(f"{API}/eval-sets/{sid}/export", headers=manager.headers)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "set_id"
    assert client.get(f"{API}/eval-sets/{sid}/teaser", headers=manager.headers).status_code == 404
    assert ok(client.get(f"{API}/eval-sets/{sid}/reads", headers=manager.headers))["items"] == []
    # Sealing is for good: an open set sealed later refuses its export from then on.
    open_id = create_set(client, manager, "open")["id"]
    import_file(client, manager, open_id, jsonl([item(1, "O")]), "jsonl")
    assert ok(client.post(f"{API}/eval-sets/{open_id}/seal", headers=manager.headers))["sealed"]
    assert (
        client.get(f"{API}/eval-sets/{open_id}/export", headers=manager.headers).status_code == 403
    )


def test_the_teaser_is_readable_by_any_signed_in_user_and_logged(client, manager, accounts, pool):
    sid = create_set(client, manager, "teasing")["id"]
    rows = [item(1, "T", teaser=True), item(2, "HIDDEN")]
    import_file(client, manager, sid, jsonl(rows), "jsonl")
    labeler = accounts.make("labeler")
    listed = ok(client.get(f"{API}/eval-sets", headers=labeler.headers))["items"]
    assert [(s["id"], s["canary"], s["owners"]) for s in listed] == [(sid, None, None)]
    teaser = ok(client.get(f"{API}/eval-sets/{sid}/teaser", headers=labeler.headers))
    assert [i["external_id"] for i in teaser["items"]] == ["q1"]
    assert "HIDDEN" not in json.dumps(teaser)
    assert client.get(f"{API}/eval-sets/{sid}/items", headers=labeler.headers).status_code == 404
    reads = ok(client.get(f"{API}/eval-sets/{sid}/reads", headers=manager.headers))["items"]
    assert [(r["route"], r["user_id"]) for r in reads] == [("teaser", labeler.user.id)]


def test_no_route_shows_a_private_or_sealed_item_to_anyone_it_should_not(
    client, manager, accounts, pool
):
    private = create_set(client, manager, "private")
    sealed = create_set(client, manager, "sealed", sealed=True)
    teasing = create_set(client, manager, "teasing")
    import_file(
        client, manager, private["id"], jsonl([item(n, "PRIVMARK") for n in range(3)]), "jsonl"
    )
    import_file(
        client, manager, sealed["id"], jsonl([item(n, "SEALMARK") for n in range(3)]), "jsonl"
    )
    teaser_rows = [item(0, "TEASEROK", teaser=True), item(1, "PRIVMARK")]
    job = import_file(client, manager, teasing["id"], jsonl(teaser_rows), "jsonl")
    private_markers = ["PRIVMARK", private["canary"], teasing["canary"], sealed["canary"]]
    sealed_markers = ["SEALMARK"]

    owner_items = all_items(client, manager, private["id"]) + all_items(
        client, manager, teasing["id"]
    )
    sealed_items = all_items(client, manager, sealed["id"])
    ids = {
        "set_id": [private["id"], sealed["id"], teasing["id"]],
        "item_id": [i["id"] for i in owner_items[:2] + sealed_items[:1]],
        "number": ["1"],
        "job_id": [job["id"]],
        "user_id": [manager.user.id],
    }
    query = {"version": "1", "set_id": private["id"]}
    routes = [path for path in _get_paths(client.app.routes) if "{sha256" not in path]
    assert {f"{API}/eval-sets/{{set_id}}/items", f"{API}/eval-sets/{{set_id}}/export"} <= set(
        routes
    )
    writes = _eval_set_writes(client.app.routes)
    assert len(writes) == 5

    labeler = accounts.make("labeler")
    other = accounts.make("manager")
    admin = accounts.make("admin")
    callers = {
        "labeler": labeler.headers,
        "labeler test key": labeler.test_headers,
        "other manager": other.headers,
        "admin, not an owner": admin.headers,
        "admin test key": admin.test_headers,
        "owner's test key": manager.test_headers,
        "no key": {},
    }
    statuses: set[int] = set()
    logged_before = {s["id"]: len(read_log(client, manager, s["id"])) for s in (private, teasing)}
    content_reads: Counter[tuple[str, str | None]] = Counter()
    content_route = re.compile(rf"{API}/eval-sets/(\w+)/(items|teaser|export)(/\w+)?$")

    def check(who: str, label: str, response, markers: list[str]) -> None:
        for marker in markers:
            assert marker not in response.text, (
                f"{who}: {label} showed {marker}: {response.text[:300]}"
            )
        statuses.add(response.status_code)
        read = content_route.match(label.split(" ", 1)[1])
        if read and response.status_code == 200:
            content_reads[(read.group(1), who)] += 1

    for route in routes:
        for path in _fill(route, ids):
            for who, headers in callers.items():
                check(
                    who,
                    f"GET {path}",
                    client.get(path, params=query, headers=headers),
                    private_markers + sealed_markers,
                )
            # The owner never sees a sealed set's content either.
            check(
                "owner",
                f"GET {path}",
                client.get(path, params=query, headers=manager.headers),
                sealed_markers,
            )
    for method, route, body in writes:
        for path in _fill(route, ids):
            for who, headers in callers.items():
                response = client.request(
                    method, path, json=body, params={"format": "jsonl"}, headers=headers
                )
                check(who, f"{method} {path}", response, private_markers + sealed_markers)
                assert response.status_code in (401, 403, 404, 422) or path.endswith(
                    "canary-check"
                ), (who, path, response.text)
    assert {200, 401, 403, 404} <= statuses
    # None of those callers changed a set.
    for found in (private, sealed, teasing):
        assert (
            ok(client.get(f"{API}/eval-sets/{found['id']}", headers=manager.headers))["version"]
            == 1
        )

    # Every read of content above is in the log — one row per answer that carried items —
    # and the only reads by others were of the public teaser.
    private_reads = read_log(client, manager, private["id"])
    new = len(private_reads) - logged_before[private["id"]]
    assert new == content_reads[(private["id"], "owner")] > 0
    assert {r["user_id"] for r in private_reads} == {manager.user.id}
    teaser_reads = read_log(client, manager, teasing["id"])
    assert len(teaser_reads) - logged_before[teasing["id"]] == sum(
        count for (set_id, _), count in content_reads.items() if set_id == teasing["id"]
    )
    assert {r["route"] for r in teaser_reads if r["user_id"] != manager.user.id} == {"teaser"}
    assert not any(set_id == sealed["id"] for set_id, _ in content_reads) or all(
        who == "owner" for set_id, who in content_reads if set_id == sealed["id"]
    )


def read_log(client, account, set_id: str) -> list[dict]:
    found, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = ok(
            client.get(f"{API}/eval-sets/{set_id}/reads", params=params, headers=account.headers)
        )
        found += page["items"]
        if not (cursor := page["next_cursor"]):
            return found


WRITE_BODIES = {
    "owners": {"user_id": "000000000000000000000000"},
    "remove": {"external_ids": ["q1"]},
    "canary-check": {"text": "assay-canary-00000000-0000-0000-0000-000000000000"},
}


def _eval_set_writes(routes: Any, prefix: str = "") -> list[tuple[str, str, dict]]:
    """Every write route under /eval-sets but creation, with a body its validation passes."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _eval_set_writes(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "routes"):
            found += _eval_set_writes(route.routes, prefix + getattr(route, "path", ""))
        else:
            path = prefix + getattr(route, "path", "")
            if not path.startswith(f"{API}/eval-sets/"):
                continue
            for method in sorted(set(getattr(route, "methods", None) or ()) - {"GET", "HEAD"}):
                found.append((method, path, WRITE_BODIES.get(path.rsplit("/", 1)[-1], {})))
    return found


def test_the_canary_is_a_guid_like_marker_unique_per_set(client, manager):
    first = create_set(client, manager, "a")["canary"]
    second = create_set(client, manager, "b")["canary"]
    pattern = r"assay-canary-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(pattern, first) and re.fullmatch(pattern, second) and first != second


def test_an_import_request_names_what_is_wrong(client, manager):
    sid = create_set(client, manager, "requests")["id"]
    url = f"{API}/eval-sets/{sid}/imports"
    headers = {**manager.headers, "content-type": "application/octet-stream"}
    wrong = client.post(url, params={"format": "xml"}, content=b"{}", headers=headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "format"
    empty = client.post(url, params={"format": "jsonl"}, content=b"", headers=headers)
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "body"
    missing = client.post(
        f"{API}/eval-sets/{sid}/items/remove",
        json={"external_ids": ["nope"]},
        headers=manager.headers,
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "external_ids[0]"
