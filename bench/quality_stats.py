"""The quality pages' reads at scale, against a real `assay serve`.

    python bench/quality_stats.py [--tasks 1000000] [--events 100000] [--requests 20] [--postgres]
    python bench/quality_stats.py --database-url postgresql+psycopg://user@127.0.0.1:port/db

With `--database-url` the bench uses that database and seeds it only once: a later run finds
the project it seeded there (named after the sizes) and times it again.

Seeds one project straight into the database (bulk INSERTs, not the API — this measures the
reads): `--tasks` tasks, `--events` submissions by 50 labelers over 30 days (with times per
task), a review decision on every fifth, 10,000 evaluation attempts over 200 gold tasks and
2,000 audits. Then times `GET /api/v1/projects/{id}/quality/overview` (all time and the last
7 days) and one labeler's dashboard. Last line: medians of each, with the CPU time the server
(and, on PostgreSQL, the cluster's processes) spent per request: on a shared machine the
wall time is mostly the wait for a core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import time
from pathlib import Path

import sqlalchemy as sa
from _server import Postgres, Server, machine

from assay.core import schemas, users
from assay.core.db import Database
from assay.core.ids import new_ids
from assay.labeling import models

CHUNK = 10_000
LABELERS = 50


def insert(db: Database, table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        with db.engine.begin() as conn:
            conn.execute(table.insert(), rows[start : start + CHUNK])


def seeded(url: str, name: str) -> tuple[str, str] | None:
    """(project id, one labeler's id) of a project seeded earlier, if there is one."""
    db = Database(url)
    with db.read() as session:
        pid = session.scalar(sa.select(models.Project.id).where(models.Project.name == name))
        labeler = session.scalar(
            sa.select(users.models.User.id).where(users.models.User.email == "l7@bench.test")
        )
    db.dispose()
    return (pid, labeler) if pid and labeler else None


def seed(url: str, tasks: int, events: int) -> tuple[str, str]:
    """One project with its history; returns (project id, one labeler's id)."""
    name = f"quality-bench-{tasks}-{events}"
    found = seeded(url, name)
    if found:
        return found
    rng = random.Random(3)
    db = Database(url)
    now = dt.datetime.now(dt.UTC)
    with db.write() as session:
        admin = session.scalar(sa.select(users.models.User.id).limit(1))
        people = [
            users.create_user(
                session=session,
                user_in=schemas.UserCreate(email=f"l{i}@bench.test", role="labeler"),
            ).id
            for i in range(LABELERS)
        ]
        project = models.Project(
            name=name,
            task_type="categorization",
            taxonomy={"labels": [{"name": "a"}, {"name": "b"}]},
            pipeline={},
            quality={},
            params={},
            created_by=admin,
        )
        session.add(project)
        session.flush()
        session.add_all(
            models.ProjectMember(project_id=project.id, user_id=u, role="labeler") for u in people
        )
        pid = project.id
    ids = new_ids(tasks)
    gold = new_ids(200)
    common = {
        "project_id": pid,
        "mode": "live",
        "type": "categorization",
        "priority": 0,
        "batch_priority": 0,
        "params": {"text": "x"},
        "metadata": {},
        "tags": [],
        "round": 0,
        "restricted": False,
        "created_at": now,
        "updated_at": now,
    }
    insert(
        db,
        models.Task.__table__,
        [
            {
                **common,
                "id": task_id,
                "kind": "production",
                "status": "completed" if i < events else "pending",
                "stage": None if i < events else "label",
                "labeled_by": people[i % LABELERS] if i < events else None,
            }
            for i, task_id in enumerate(ids)
        ]
        + [
            {
                **common,
                "id": task_id,
                "kind": "evaluation",
                "status": "pending",
                "stage": None,
                "expected_response": {"annotations": []},
            }
            for task_id in gold
        ],
    )
    answer = {"annotations": [{"type": "category", "label": "a"}]}

    def when(i: int, total: int) -> dt.datetime:
        return now - dt.timedelta(days=30) + dt.timedelta(seconds=30 * 86400 * i / total)

    event_rows = []
    for i in range(events):
        at = when(i, events)
        event_rows.append(
            {
                "task_id": ids[i],
                "project_id": pid,
                "stage": "label",
                "round": 0,
                "user_id": people[i % LABELERS],
                "action": "submit",
                "response": answer,
                "duration_ms": rng.uniform(2e3, 6e4),
                "created_at": at,
            }
        )
        if i % 5 == 0:
            event_rows.append(
                {
                    "task_id": ids[i],
                    "project_id": pid,
                    "stage": "review",
                    "round": 0,
                    "user_id": people[0],
                    "action": "accept" if rng.random() < 0.8 else "reject",
                    "response": None,
                    "duration_ms": 5e3,
                    "created_at": at + dt.timedelta(minutes=5),
                }
            )
    insert(db, models.TaskEvent.__table__, event_rows)
    attempts = 10_000
    insert(
        db,
        models.QualityAttempt.__table__,
        [
            {
                "id": attempt_id,
                "project_id": pid,
                "task_id": gold[i % len(gold)],
                "user_id": people[i % LABELERS],
                "kind": "evaluation",
                "round": 1,
                "stage": "label",
                "response": answer,
                "score": score,
                "passed": score >= 0.8,
                "duration_ms": 9e3,
                "created_at": when(i, attempts),
                "submitted_at": when(i, attempts),
            }
            for i, attempt_id in enumerate(new_ids(attempts))
            for score in [rng.choice((0.0, 1.0, 1.0, 1.0))]
        ],
    )
    insert(
        db,
        models.Audit.__table__,
        [
            {
                "id": audit_id,
                "project_id": pid,
                "task_id": ids[i * 7],
                "labeler_id": people[(i * 7) % LABELERS],
                "auditor_id": people[1],
                "status": rng.choice(("accepted", "accepted", "rejected", "fixed")),
                "created_at": when(i, 2000),
                "decided_at": when(i, 2000),
            }
            for i, audit_id in enumerate(new_ids(2000))
        ],
    )
    with db.engine.begin() as conn:  # fresh statistics, as autovacuum would give
        conn.execute(sa.text("ANALYZE"))
    db.dispose()
    return pid, people[7]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes (and their threads) used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a backend that ended
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_data(url: str) -> Path | None:
    """A local PostgreSQL cluster's data directory (its backends do the queries)."""
    if sa.make_url(url).get_backend_name() != "postgresql":
        return None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return Path(conn.exec_driver_sql("SHOW data_directory").scalar_one())
    except sa.exc.DBAPIError:
        return None  # not a superuser: the server's CPU only
    finally:
        engine.dispose()


def serving_pids(server: Server, data: Path | None) -> list[int]:
    """The server, and the PostgreSQL cluster's processes (its backends do the queries)."""
    pids = [server.proc.pid]
    try:
        postmaster = (data / "postmaster.pid").read_text().split()[0] if data else None
    except OSError:
        postmaster = None  # another machine's, or not readable
    if postmaster is not None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == postmaster:
                pids.append(int(stat.parent.name))
    return pids


def timed(api, path: str, params: dict, requests: int, pids: list[int]) -> tuple[float, float]:
    """Median wall time of the requests and the serving processes' CPU per request (ms):
    on a shared machine the wall time is mostly the wait for a core, the CPU time is not."""
    samples = []
    used = cpu_seconds(pids)
    for _ in range(requests):
        started = time.perf_counter()
        response = api.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} failed: {response.status_code} {response.text[:300]}")
    return statistics.median(samples), (cpu_seconds(pids) - used) * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url", help="an existing database, seeded once and kept")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    postgres = Postgres() if args.postgres and not args.database_url else None
    server = Server(args.database_url or (postgres.url if postgres else None))
    try:
        started = time.perf_counter()
        pid, labeler = seed(server.database_url, args.tasks, args.events)
        print(f"seeded in {time.perf_counter() - started:.0f} s")
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).isoformat()
        data = postgres_data(server.database_url)
        pids = serving_pids(server, data)
        with server.api() as api:
            api.get(f"/projects/{pid}/quality/overview")  # connections opened, caches filled
            overview = timed(api, f"/projects/{pid}/quality/overview", {}, args.requests, pids)
            week = timed(
                api, f"/projects/{pid}/quality/overview", {"since": since}, args.requests, pids
            )
            dashboard = timed(
                api, f"/projects/{pid}/quality/labelers/{labeler}", {}, args.requests, pids
            )
            pids = serving_pids(server, data)  # backends opened during the requests
    finally:
        server.stop()
        if postgres:
            postgres.stop()
    dialect = sa.make_url(server.database_url).get_backend_name()
    print(
        f"quality_stats ({dialect}, {args.tasks:,} tasks, {args.events:,} submissions): "
        f"overview median {overview[0]:.0f} ms ({overview[1]:.0f} ms CPU), last 7 days "
        f"{week[0]:.0f} ms ({week[1]:.0f} ms CPU), one labeler's dashboard {dashboard[0]:.0f} ms "
        f"({dashboard[1]:.0f} ms CPU); load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
