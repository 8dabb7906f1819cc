"""Issue 3 acceptance: `kill -9` of `assay serve` loses nothing it acknowledged.

The server is killed while bulk imports and labelers run, and (second test) in the middle of
one 20,000-task bulk transaction; a new server is started on the same database and the
database is checked against what clients were told. What is killed is the application
process, not the database: SQLite's WAL with synchronous=NORMAL keeps every commit across a
process kill (not across a power cut), and the PostgreSQL test cluster runs with fsync off,
which a process kill of the app server does not touch. So this tests that Assay never answers
2xx before its commit and never commits part of a request, not the database's own durability.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support import labelers as harness
from tests.support.polling import wait_for
from tests.support.servers import LiveServer
from tests.support.writers import writing

pytestmark = pytest.mark.live

LEASE_SECONDS = 30
BULK_SIZE = 500
BIG_BULK = 20_000


def task_params(i: int) -> dict[str, Any]:
    return {"attachment": f"https://example.test/{i}.jpg", "attachment_type": "image"}


def api(url: str, key: str) -> httpx.Client:
    # No retries: a request is acknowledged only by a 2xx answer to it.
    return httpx.Client(
        base_url=url + "/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=120
    )


class Load:
    """What the clients were told before the server died, and anything that went wrong
    before the kill."""

    def __init__(self) -> None:
        self.killed = threading.Event()
        self.imported: list[list[str]] = []  # unique_ids of every bulk request, in order
        self.acknowledged: set[str] = set()
        self.submits_ok: list[tuple[str, str, dict[str, Any]]] = []
        self.problems: list[str] = []

    def cut_off(self, what: str, exc: Exception) -> None:
        if not self.killed.is_set():
            self.problems.append(f"{what}: {exc!r} while the server was up")


def import_until_cut_off(url: str, key: str, project_id: str, load: Load) -> None:
    """Bulk creates of BULK_SIZE tasks, one after another, until the server is gone."""
    with api(url, key) as http:
        for n in itertools.count():
            if load.problems:  # a labeler stopped on an error: no kill will come to end this
                return
            unique_ids = [f"bulk-{n}-{i}" for i in range(BULK_SIZE)]
            load.imported.append(unique_ids)
            body = {
                "tasks": [
                    {"params": task_params(i), "unique_id": unique_id}
                    for i, unique_id in enumerate(unique_ids)
                ]
            }
            try:
                answer = http.post(f"/projects/{project_id}/tasks/bulk", json=body)
            except httpx.TransportError as exc:
                return load.cut_off(f"bulk {n}", exc)
            if answer.status_code != 201:
                load.problems.append(f"bulk {n}: {answer.status_code} {answer.text[:300]}")
                return
            load.acknowledged.update(unique_ids)


def label_until_cut_off(url: str, user: str, key: str, project_id: str, load: Load) -> None:
    """next + submit until the server is gone."""
    with api(url, key) as http:
        while not load.problems:  # another worker stopped on an error: no kill will come
            try:
                leased = http.post(f"/projects/{project_id}/queue/next")
                if leased.status_code == 204:
                    time.sleep(0.02)  # the importer has not caught up: ask again
                    continue
                if leased.status_code != 200:
                    load.problems.append(f"next: {leased.status_code} {leased.text[:300]}")
                    return
                lease = leased.json()
                task = lease["task"]
                answer = harness.category_response(task)
                submitted = http.post(
                    f"/tasks/{task['id']}/submit",
                    json={"lease_token": lease["lease_token"], "response": answer},
                )
            except httpx.TransportError as exc:
                return load.cut_off(f"labeler {user}", exc)
            if submitted.status_code != 200:
                load.problems.append(f"submit: {submitted.status_code} {submitted.text[:300]}")
                return
            load.submits_ok.append((task["id"], user, answer))


def stored_unique_ids(db, project_id: str) -> Counter[str]:
    with db.read() as session:
        rows = session.execute(
            sa.text(
                "SELECT unique_id, COUNT(*) FROM tasks "
                "WHERE project_id = :p AND unique_id IS NOT NULL GROUP BY unique_id"
            ),
            {"p": project_id},
        ).all()
    return Counter(dict(rows))


def check_sqlite_integrity(db, dialect: str) -> None:
    if dialect == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_kill_9_during_imports_and_labeling_loses_nothing_acknowledged(
    db, dialect, settings, admin, tmp_path
):
    """Bulk imports of 500 tasks back to back and four labelers, killed after ~3 s."""
    server = LiveServer(settings, tmp_path / "serve-1.log")
    restarted = None
    try:
        project_id, labelers = harness.setup_queue(
            server.url, admin.key, labelers=4, tasks=200, lease_seconds=LEASE_SECONDS, name="kill"
        )
        load = Load()
        with ThreadPoolExecutor(1 + len(labelers)) as pool:
            running = [pool.submit(import_until_cut_off, server.url, admin.key, project_id, load)]
            running += [
                pool.submit(label_until_cut_off, server.url, user, key, project_id, load)
                for user, key in labelers
            ]
            wait_for(lambda: load.acknowledged and load.submits_ok, timeout=60)
            time.sleep(3)  # let both loads run for a while; then pull the plug mid-request
            load.killed.set()
            server.kill9()
            for future in running:
                future.result(timeout=60)
        assert load.problems == []

        restarted = LiveServer(settings, tmp_path / "serve-2.log")

        # Every acknowledged bulk request is stored, each unique_id once; a request the
        # server died in is there whole or not at all.
        stored = stored_unique_ids(db, project_id)
        assert [u for u, count in stored.items() if count > 1] == []
        assert load.acknowledged - set(stored) == set()
        for unique_ids in load.imported:
            assert sum(u in stored for u in unique_ids) in (0, len(unique_ids))

        # Every acknowledged submit is stored once, and its task completed with that answer.
        events, tasks = harness.database_state(db, project_id)
        results = harness.Results(submits_ok=load.submits_ok)
        assert harness.check_consistency(results, events, tasks, LEASE_SECONDS) == []
        check_sqlite_integrity(db, dialect)

        # The restarted server takes new tasks and serves the queue as before.
        _, key = labelers[0]
        with api(restarted.url, admin.key) as http:
            created = http.post(
                f"/projects/{project_id}/tasks/bulk",
                json={"tasks": [{"params": task_params(0), "unique_id": "after-restart"}]},
            )
            assert created.status_code == 201, created.text
        with api(restarted.url, key) as http:
            leased = http.post(f"/projects/{project_id}/queue/next")
            assert leased.status_code == 200, leased.text
            lease = leased.json()
            answer = harness.category_response(lease["task"])
            submitted = http.post(
                f"/tasks/{lease['task']['id']}/submit",
                json={"lease_token": lease["lease_token"], "response": answer},
            )
            assert submitted.status_code == 200, submitted.text
            assert submitted.json()["status"] == "completed"
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()


def writer_in_transaction(db, dialect: str) -> bool:
    """True while another connection is inside a write transaction (SQLite: it holds the
    write lock; PostgreSQL: its open transaction is writing task rows)."""
    return writing(db, dialect, ("INSERT INTO tasks", "COPY tasks"))


def test_kill_9_inside_a_bulk_transaction_is_all_or_nothing(db, dialect, settings, admin, tmp_path):
    """Killed while one 20,000-task request is inside its transaction (SQLite: holding the
    write lock; PostgreSQL: writing task rows): all of it or none survives, and a retry on the
    restarted server creates each task once."""
    # No job workers: the bulk request is the only thing that writes while it runs.
    server = LiveServer(settings, tmp_path / "serve-1.log", ASSAY_WORKERS="0")
    restarted = None
    try:
        project_id, _ = harness.setup_queue(
            server.url, admin.key, labelers=0, tasks=0, lease_seconds=LEASE_SECONDS, name="cut"
        )
        body = {
            "tasks": [{"params": task_params(i), "unique_id": f"big-{i}"} for i in range(BIG_BULK)]
        }
        outcome: dict[str, Any] = {}

        def send() -> None:
            with api(server.url, admin.key) as http:
                try:
                    outcome["status"] = http.post(
                        f"/projects/{project_id}/tasks/bulk", json=body
                    ).status_code
                except httpx.TransportError as exc:
                    outcome["error"] = exc

        def mid_transaction() -> bool:
            if writer_in_transaction(db, dialect):
                outcome["caught"] = True
                return True
            return not sender.is_alive()

        sender = threading.Thread(target=send)
        sender.start()
        wait_for(mid_transaction, timeout=120, interval=0.005)
        assert outcome.get("caught"), f"the bulk request ended before the kill: {outcome}"
        server.kill9()
        sender.join(60)
        assert not sender.is_alive()

        restarted = LiveServer(settings, tmp_path / "serve-2.log")
        stored = sum(stored_unique_ids(db, project_id).values())
        assert stored in (0, BIG_BULK)
        if outcome.get("status") == 201:
            assert stored == BIG_BULK
        check_sqlite_integrity(db, dialect)

        # The client retries on the restarted server: created once, never twice.
        with api(restarted.url, admin.key) as http:
            retried = http.post(f"/projects/{project_id}/tasks/bulk", json=body)
        assert retried.status_code == (201 if stored == 0 else 409), retried.text
        assert sum(stored_unique_ids(db, project_id).values()) == BIG_BULK
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
