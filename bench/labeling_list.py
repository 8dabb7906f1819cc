"""The first page of a filtered task list at 1,000,000 tasks, against a real `assay serve`.

    python bench/labeling_list.py [--tasks 1000000] [--requests 200] [--postgres]

Loads the tasks through the bulk API into two batches, then times
`GET /api/v1/tasks?project_id=…&status=…&limit=50` and friends. Last line:
`labeling_list: p50 <ms> ms p99 <ms> ms at <n> tasks (<dialect>)`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx
from _server import Postgres, Server, machine
from tests.support.labelers import CATEGORY_TAXONOMY


def timed(api: httpx.Client, params: dict, requests: int) -> list[float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = api.get("/tasks", params=params)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200 or not response.json()["items"]:
            raise SystemExit(f"list failed: {response.status_code} {response.text[:300]}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    postgres = Postgres() if args.postgres else None
    server = Server(postgres.url if postgres else None)
    try:
        with server.api() as api:
            project = api.post(
                "/projects",
                json={"name": "list", "task_type": "categorization", "taxonomy": CATEGORY_TAXONOMY},
            ).json()
            batches = [
                api.post(f"/projects/{project['id']}/batches", json={"name": f"list-{i}"}).json()
                for i in range(2)
            ]
            started = time.perf_counter()
            for start in range(0, args.tasks, 10_000):
                batch = batches[(start // 10_000) % 2]
                body = json.dumps(
                    {
                        "batch": batch["id"],
                        "tasks": [
                            {
                                "params": {"attachment": f"https://images.example.test/{i}.jpg"},
                                "metadata": {"shard": i % 100},
                                "tags": [f"t{i % 7}"],
                            }
                            for i in range(start, min(args.tasks, start + 10_000))
                        ],
                    }
                ).encode()
                response = api.post(
                    f"/projects/{project['id']}/tasks/bulk",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                if response.status_code >= 300:
                    raise SystemExit(f"load failed: {response.text[:300]}")
            load_seconds = time.perf_counter() - started
            pid = project["id"]
            cases = {
                "project+status": {"project_id": pid, "status": "pending", "limit": 50},
                "batch+status": {"batch_id": batches[1]["id"], "status": "pending", "limit": 50},
                "project only": {"project_id": pid, "limit": 50},
            }
            results = {name: timed(api, params, args.requests) for name, params in cases.items()}
    finally:
        server.stop()
        if postgres:
            postgres.stop()
    dialect = "postgresql" if args.postgres else "sqlite"
    print(f"machine: {machine()}")
    print(
        f"loaded {args.tasks} tasks in {load_seconds:.0f}s "
        f"({args.tasks / load_seconds:.0f} tasks/s), {dialect}"
    )
    for name, samples in results.items():
        samples.sort()
        print(
            f"  {name}: p50 {statistics.median(samples) * 1000:.1f} ms, "
            f"p99 {samples[int(len(samples) * 0.99) - 1] * 1000:.1f} ms"
        )
    main_case = sorted(results["project+status"])
    print(
        f"labeling_list: p50 {statistics.median(main_case) * 1000:.1f} ms p99 "
        f"{main_case[int(len(main_case) * 0.99) - 1] * 1000:.1f} ms at {args.tasks} tasks "
        f"({dialect})"
    )


if __name__ == "__main__":
    main()
