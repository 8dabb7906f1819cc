"""A run survives `kill -9` of `assay serve` (its worker runs in the server process): the
restarted server re-claims the job when its lease runs out and finishes the run, and no
(item, sample) answered before the kill is asked again. The stand-in model answers slowly and
counts every call it receives per (item, sample); the only calls made twice are those that
were in flight at the kill, at most the run's concurrency."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa

from tests.support.openai_server import ChatCompletionsServer, user_text
from tests.support.polling import wait_for
from tests.support.servers import LiveServer

pytestmark = pytest.mark.live

ITEMS = 30
SAMPLES = 2
CONCURRENCY = 4
DELAY = 0.15


def answer(request: dict) -> str:
    return user_text(request).split()[-1]


def api(url: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=url + "/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def recorded(db, run_id: str) -> set[tuple[str, int]]:
    with db.read() as session:
        rows = session.execute(
            sa.text("SELECT item_id, sample FROM eval_run_results WHERE run_id = :run"),
            {"run": run_id},
        )
        return {(item_id, sample) for item_id, sample in rows}


def test_kill_9_mid_run_resumes_without_asking_a_recorded_item_again(
    db, dialect, settings, admin, tmp_path
):
    stand_in = ChatCompletionsServer(answer)
    stand_in.delay = DELAY
    with stand_in:
        server = LiveServer(settings, tmp_path / "serve-1.log")
        try:
            with api(server.url, admin.key) as http:
                eval_set = http.post("/eval-sets", json={"name": "crash"}).json()
                lines = "\n".join(
                    json.dumps({"external_id": f"q{n}", "prompt": f"repeat item-{n}"})
                    for n in range(ITEMS)
                )
                job = http.post(
                    f"/eval-sets/{eval_set['id']}/imports",
                    params={"format": "jsonl"},
                    content=lines.encode(),
                    headers={"content-type": "application/octet-stream"},
                ).json()
                wait_for(
                    lambda: http.get(f"/jobs/{job['id']}").json()["status"] == "succeeded",
                    timeout=60,
                )
                provider = http.post(
                    "/providers", json={"name": "slow", "base_url": stand_in.base_url}
                ).json()
                run = http.post(
                    "/eval-runs",
                    json={
                        "set_id": eval_set["id"],
                        "provider_id": provider["id"],
                        "model": "tiny",
                        "scorers": [{"name": "exact_match"}],
                        # seed + sample tells the two samples of an item apart at the stand-in
                        "params": {"samples": SAMPLES, "concurrency": CONCURRENCY, "seed": 0},
                    },
                )
                assert run.status_code == 201, run.text
                run = run.json()
            wait_for(lambda: len(recorded(db, run["id"])) >= ITEMS // 2, timeout=60)
            server.kill9()
        finally:
            server.stop()
        before_kill = recorded(db, run["id"])
        calls_at_kill = stand_in.calls
        assert ITEMS // 2 <= len(before_kill) < ITEMS * SAMPLES
        time.sleep(DELAY * 2)  # the calls in flight at the kill reach the stand-in's count

        restarted = LiveServer(settings, tmp_path / "serve-2.log")
        try:
            with api(restarted.url, admin.key) as http:
                wait_for(
                    lambda: http.get(f"/eval-runs/{run['id']}").json()["status"] == "succeeded",
                    timeout=120,
                )
                done = http.get(f"/eval-runs/{run['id']}").json()
        finally:
            restarted.stop()

    with db.read() as session:
        items = dict(
            session.execute(
                sa.text("SELECT id, external_id FROM eval_set_items WHERE set_id = :s"),
                {"s": eval_set["id"]},
            ).all()
        )
    asked = Counter(
        (user_text(body).split()[-1], body["seed"])
        for body in stand_in.bodies()
        if body["model"] == "tiny"
    )
    # Every (item, sample) was answered and recorded once.
    assert len(recorded(db, run["id"])) == ITEMS * SAMPLES
    assert done["done_calls"] == ITEMS * SAMPLES and done["error_calls"] == 0
    assert set(asked) == {(f"item-{n}", s) for n in range(ITEMS) for s in range(SAMPLES)}
    # Nothing recorded before the kill was asked again.
    for item_id, sample in before_kill:
        name = f"item-{items[item_id][1:]}"
        assert asked[(name, sample)] == 1, (name, sample)
    # The only repeats are calls in flight at the kill: at most the run's concurrency.
    repeats = sum(count - 1 for count in asked.values())
    assert repeats <= CONCURRENCY, asked
    assert stand_in.calls == ITEMS * SAMPLES + repeats
    assert calls_at_kill <= ITEMS * SAMPLES
    assert done["summary"]["scores"]["exact_match"]["mean"] == 0.0  # "item-n" is no reference
