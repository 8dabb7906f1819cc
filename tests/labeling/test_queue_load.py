"""The queue under load: 64 labelers against real `assay serve` processes.

Runs for ASSAY_LOAD_SECONDS (default 15; bench/labeling_queue.py runs the same harness for
60 s and records throughput). Checked after every run: no task leased to two people at
once, every acknowledged submission stored exactly once and nothing else stored, expired
leases handed to someone else, submits after an expired lease refused with 409.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import pytest
import sqlalchemy as sa

from tests.support import aio
from tests.support import labelers as harness
from tests.support.servers import LiveServer

SECONDS = float(os.environ.get("ASSAY_LOAD_SECONDS", "15"))
LEASE_SECONDS = 10


def database_state(db, project_id: str):
    with db.read() as session:
        events = session.execute(
            sa.text(
                "SELECT e.task_id, e.user_id, e.action, e.response FROM task_events e "
                "JOIN tasks t ON t.id = e.task_id WHERE t.project_id = :p"
            ),
            {"p": project_id},
        ).all()
        tasks = session.execute(
            sa.text("SELECT id, status, response FROM tasks WHERE project_id = :p"),
            {"p": project_id},
        ).all()

    def decode(value):
        return json.loads(value) if isinstance(value, str) else value

    return (
        [(t, u, a, decode(r)) for t, u, a, r in events],
        {t: (s, decode(r)) for t, s, r in tasks},
    )


# Two servers of two processes each: four processes leasing from one database (on SQLite,
# writing one file through the writer lock). One server of one process is the same code
# with less contention; tests/labeling/test_queue.py::test_no_task_is_leased_twice_under_concurrency
# covers leasing under concurrency in one process.
@pytest.mark.parametrize(("servers", "processes"), [(2, 2)], ids=["two-servers-two-processes-each"])
def test_64_labelers_no_double_leases_no_lost_work(
    db, settings, admin, tmp_path, servers, processes
):
    """Also with two `assay serve` instances of two processes each on one database (on
    SQLite, four processes writing one file through the writer lock)."""
    running = [
        LiveServer(
            settings,
            tmp_path / f"serve{i}.log",
            ASSAY_WORKERS="1",
            ASSAY_PROCESSES=str(processes),
        )
        for i in range(servers)
    ]
    try:
        project_id, accounts = harness.setup_queue(
            running[0].url, admin.key, labelers=64, tasks=20_000, lease_seconds=LEASE_SECONDS
        )
        results = aio.run(
            harness.run(
                [s.url for s in running],
                accounts,
                project_id,
                seconds=SECONDS,
                abandon_every=16,
                abandon_rate=0.3,
                lease_seconds=LEASE_SECONDS,
            )
        )
    finally:
        for server in running:
            server.stop()
    events, tasks = database_state(db, project_id)

    problems = harness.check_consistency(results, events, tasks, LEASE_SECONDS)
    assert (results.errors, problems) == ([], [])
    assert len(results.submits_ok) > 100
    stored_submits = [e for e in events if e[2] == "submit"]
    assert len(stored_submits) == len(results.submits_ok)
    # Abandoned leases ran out, were refused on late submit, and went to someone else.
    assert results.stale_refused >= 1
    holders = defaultdict(set)
    for grant in results.grants:
        holders[grant.task_id].add(grant.user)
    assert any(len(users) > 1 for users in holders.values())
    if servers == 2:
        used = {grant.user for grant in results.grants}
        assert len(used) == 64
