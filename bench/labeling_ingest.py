"""Bulk task creation through the API against a real `assay serve`.

    python bench/labeling_ingest.py [--tasks 100000] [--per-request 10000] [--postgres]

Creates a project and a batch, then sends the tasks in bulk requests (each all-or-nothing,
durable when answered). Last line: `labeling_ingest: <tasks/s> tasks/s (<dialect>)`.
"""

from __future__ import annotations

import argparse
import json
import time

from _server import Postgres, Server, machine
from tests.support.labelers import CATEGORY_TAXONOMY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--per-request", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    postgres = Postgres() if args.postgres else None
    server = Server(postgres.url if postgres else None)
    try:
        with server.api() as api:
            project = api.post(
                "/projects",
                json={
                    "name": "ingest",
                    "task_type": "categorization",
                    "taxonomy": CATEGORY_TAXONOMY,
                },
            ).json()
            batch = api.post(
                f"/projects/{project['id']}/batches", json={"name": "ingest-batch"}
            ).json()
            bodies = [
                json.dumps(
                    {
                        "batch": batch["id"],
                        "tasks": [
                            {
                                "unique_id": f"item-{i}",
                                "params": {
                                    "attachment": f"https://images.example.test/{i}.jpg",
                                    "attachment_type": "image",
                                },
                                "metadata": {"source": "bench", "shard": i % 16},
                            }
                            for i in range(start, min(args.tasks, start + args.per_request))
                        ],
                    }
                ).encode()
                for start in range(0, args.tasks, args.per_request)
            ]
            started = time.perf_counter()
            per_request = []
            for body in bodies:
                t0 = time.perf_counter()
                response = api.post(
                    f"/projects/{project['id']}/tasks/bulk",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                per_request.append(time.perf_counter() - t0)
                if response.status_code >= 300:
                    raise SystemExit(
                        f"bulk create failed: {response.status_code} {response.text[:300]}"
                    )
            elapsed = time.perf_counter() - started
            total = api.get("/tasks", params={"project_id": project["id"], "limit": 1})
            assert total.status_code == 200
    finally:
        server.stop()
        if postgres:
            postgres.stop()
    dialect = "postgresql" if args.postgres else "sqlite"
    print(f"machine: {machine()}")
    print(
        f"{args.tasks} tasks in {len(bodies)} requests of {args.per_request}, {dialect}; "
        f"per request median {sorted(per_request)[len(per_request) // 2] * 1000:.0f} ms"
    )
    print(f"labeling_ingest: {args.tasks / elapsed:.0f} tasks/s ({dialect})")


if __name__ == "__main__":
    main()
