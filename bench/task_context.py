"""The labeling page's context calls at scale, against a real `assay serve`.

    python bench/task_context.py [--tasks 100000] [--requests 20] [--postgres]

Seeds one project straight into the database: a label → review pipeline and one batch of
`--tasks` tasks (60 % completed, 20 % waiting for review, 20 % waiting to be labeled), and a
worker with 5,000 submissions (300 of them today) who holds a lease on a task of the batch.
Then times `GET /tasks/{id}/context` (the first call reads the batch's counts; later ones
reuse them for 30 s), `GET /projects/{id}/queue/summary` for both stages,
`GET /projects/{id}/queue/previous` and `GET /projects/{id}/progress`. Last line: medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

import sqlalchemy as sa
from _server import Postgres, Server, machine
from quality_stats import insert

from assay.core import models as core_models
from assay.core.db import Database
from assay.core.ids import new_ids
from assay.labeling import models

HISTORY = 5_000
TODAY = 300


def seed(url: str, tasks: int) -> tuple[str, str]:
    """Returns (project id, the id of the task the worker holds)."""
    db = Database(url)
    now = dt.datetime.now(dt.UTC)
    with db.write() as session:
        worker = session.scalar(sa.select(core_models.User.id).limit(1))
        project = models.Project(
            name="context-bench",
            task_type="categorization",
            taxonomy={"labels": [{"name": "a"}, {"name": "b"}]},
            pipeline={
                "stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]
            },
            quality={},
            params={},
            created_by=worker,
        )
        session.add(project)
        session.flush()
        batch = models.Batch(project_id=project.id, name="context-bench week", status="in_progress")
        session.add(batch)
        session.flush()
        pid, bid = project.id, batch.id
    ids = new_ids(tasks)
    done, review = int(tasks * 0.6), int(tasks * 0.8)
    held = ids[review]

    unset = dict.fromkeys(
        (
            "completed_at",
            "labeled_by",
            "lease_user_id",
            "lease_token",
            "leased_at",
            "lease_expires_at",
        )
    )

    def state(i: int) -> dict:
        return {**unset, **_state(i)}

    def _state(i: int) -> dict:
        if i < done:
            return {
                "status": "completed",
                "stage": None,
                "completed_at": now - dt.timedelta(days=13 * (done - i) / done),
            }
        if i < review:
            return {"status": "pending", "stage": "review", "labeled_by": worker}
        if i == review:
            return {
                "status": "pending",
                "stage": "label",
                "lease_user_id": worker,
                "lease_token": "0" * 32,
                "leased_at": now,
                "lease_expires_at": now + dt.timedelta(hours=6),
            }
        return {"status": "pending", "stage": "label"}

    insert(
        db,
        models.Task.__table__,
        [
            {
                "id": task_id,
                "project_id": pid,
                "batch_id": bid,
                "mode": "live",
                "type": "categorization",
                "kind": "production",
                "priority": 0,
                "batch_priority": 0,
                "params": {"attachment": f"https://cdn.example.test/{i}.jpg"},
                "metadata": {},
                "tags": [],
                "round": 0,
                "restricted": False,
                "created_at": now,
                "updated_at": now,
                **state(i),
            }
            for i, task_id in enumerate(ids)
        ],
    )
    answer = {"annotations": [{"type": "category", "label": "a"}]}
    insert(
        db,
        models.TaskEvent.__table__,
        [
            {
                "task_id": ids[i],
                "stage": "label",
                "round": 0,
                "user_id": worker,
                "action": "submit",
                "response": answer,
                "duration_ms": 9e3,
                "created_at": now - dt.timedelta(days=20 * (HISTORY - TODAY - i) / HISTORY)
                if i < HISTORY - TODAY
                else now - dt.timedelta(minutes=HISTORY - i),
            }
            for i in range(HISTORY)
        ],
    )
    with db.engine.connect() as conn:  # fresh statistics, as autovacuum would give
        conn.execute(sa.text("ANALYZE"))
    db.dispose()
    return pid, held


def timed(api, path: str, params: dict, requests: int) -> tuple[float, float]:
    """(first call, median of the rest) in ms."""
    samples = []
    for _ in range(requests + 1):
        started = time.perf_counter()
        response = api.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (200, 204):
            raise SystemExit(f"{path} failed: {response.status_code} {response.text[:300]}")
    return samples[0], statistics.median(samples[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    postgres = Postgres() if args.postgres else None
    server = Server(postgres.url if postgres else None)
    try:
        started = time.perf_counter()
        pid, held = seed(server.database_url, args.tasks)
        print(f"seeded in {time.perf_counter() - started:.0f} s")
        with server.api() as api:
            api.get(f"/projects/{pid}")  # warm the process (rules cache, first connection)
            first, context = timed(api, f"/tasks/{held}/context", {}, args.requests)
            summary = f"/projects/{pid}/queue/summary"
            _, label = timed(api, summary, {"stage": "label"}, args.requests)
            _, review = timed(api, summary, {"stage": "review"}, args.requests)
            _, previous = timed(api, f"/projects/{pid}/queue/previous", {}, args.requests)
            _, progress = timed(api, f"/projects/{pid}/progress", {}, args.requests)
    finally:
        server.stop()
        if postgres:
            postgres.stop()
    dialect = "postgresql" if args.postgres else "sqlite"
    print(
        f"task_context ({dialect}, {args.tasks:,} tasks in one batch): context first call "
        f"{first:.0f} ms, then median {context:.1f} ms; summary label {label:.0f} ms, review "
        f"{review:.0f} ms; previous {previous:.1f} ms; progress {progress:.0f} ms"
    )


if __name__ == "__main__":
    main()
