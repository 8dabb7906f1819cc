"""Issue 16 acceptance 3: `kill -9` of `assay serve` during dataset appends loses no item it
acknowledged and duplicates none.

Appends of 2,000 items run back to back until the server is killed (the kill lands inside
one: SQLite holding the write lock, PostgreSQL writing item rows); a new server on the same
database must hold every acknowledged item once, the cut append whole or not at all, and a
retry of every append on the new server must duplicate nothing (appends update by
reference id).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.polling import wait_for
from tests.support.servers import LiveServer
from tests.support.writers import writing

pytestmark = pytest.mark.live

CHUNK = 2_000
TABLES = ("dataset_items", "dataset_annotations")
ROUNDS = 40


def items(round_: int) -> list[dict[str, Any]]:
    return [
        {
            "reference_id": f"r{round_}-{n}",
            "media": f"https://media.example.test/{round_}/{n}.jpg",
            "metadata": {"round": round_, "n": n},
            "annotations": [
                {"type": "box", "label": "car", "x": n % 50, "y": 1, "width": 5, "height": 5}
            ],
        }
        for n in range(CHUNK)
    ]


def stored(db, dataset_id: str) -> tuple[dict[int, int], int, int]:
    """Items per round, items in all, annotations in all."""
    with db.engine.connect() as conn:
        refs = conn.execute(
            sa.text("SELECT reference_id FROM dataset_items WHERE dataset_id = :d"),
            {"d": dataset_id},
        ).scalars()
        per_round: dict[int, int] = {}
        total = 0
        for ref in refs:
            per_round[int(ref[1:].split("-")[0])] = per_round.get(int(ref[1:].split("-")[0]), 0) + 1
            total += 1
        shapes = conn.execute(
            sa.text(
                "SELECT coalesce(sum(a.count), 0) FROM dataset_annotations a "
                "JOIN dataset_items i ON i.id = a.item_id WHERE i.dataset_id = :d"
            ),
            {"d": dataset_id},
        ).scalar()
    return per_round, total, int(shapes)


def test_kill_9_during_appends_loses_and_duplicates_nothing(db, dialect, settings, admin, tmp_path):
    server = LiveServer(settings, tmp_path / "serve-1.log", ASSAY_WORKERS="0")
    restarted = None
    headers = {"Authorization": f"Bearer {admin.key}"}
    acknowledged: list[int] = []
    outcome: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=server.url + "/api/v1", headers=headers, timeout=120) as http:
            dataset_id = http.post("/datasets", json={"name": "crash"}).json()["id"]

        def append_until_killed() -> None:
            with httpx.Client(
                base_url=server.url + "/api/v1", headers=headers, timeout=120
            ) as http:
                for round_ in range(ROUNDS):
                    try:
                        response = http.post(
                            f"/datasets/{dataset_id}/items", json={"items": items(round_)}
                        )
                    except httpx.TransportError as exc:
                        outcome["cut"] = (round_, exc)
                        return
                    if response.status_code == 200:
                        acknowledged.append(round_)
                    else:
                        outcome["failed"] = (round_, response.status_code, response.text)
                        return

        sender = threading.Thread(target=append_until_killed)
        sender.start()
        wait_for(lambda: len(acknowledged) >= 2, timeout=120, interval=0.01)
        wait_for(
            lambda: writing(db, dialect, TABLES) or not sender.is_alive(),
            timeout=60,
            interval=0.002,
        )
        server.kill9()
        sender.join(60)
        assert not sender.is_alive()
        assert "failed" not in outcome, outcome
        assert "cut" in outcome, "every append finished before the kill"

        restarted = LiveServer(settings, tmp_path / "serve-2.log")
        per_round, total, shapes = stored(db, dataset_id)
        for round_ in acknowledged:
            assert per_round.get(round_) == CHUNK, (round_, per_round)
        cut_round = outcome["cut"][0]
        assert per_round.get(cut_round, 0) in (0, CHUNK)  # all or nothing
        assert set(per_round) <= {*acknowledged, cut_round}
        assert shapes == total  # one box per item, none duplicated or lost

        # Every append again on the new server: nothing duplicated, the cut one completed.
        with httpx.Client(base_url=restarted.url + "/api/v1", headers=headers, timeout=120) as http:
            for round_ in [*acknowledged, cut_round]:
                assert (
                    http.post(
                        f"/datasets/{dataset_id}/items", json={"items": items(round_)}
                    ).status_code
                    == 200
                )
            counts = http.get(f"/datasets/{dataset_id}").json()
        per_round, total, shapes = stored(db, dataset_id)
        assert total == (len(acknowledged) + 1) * CHUNK == counts["item_count"]
        assert shapes == total == counts["annotation_count"]
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
