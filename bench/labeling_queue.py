"""64 labelers doing next + submit over HTTP against a real `assay serve`.

    python bench/labeling_queue.py [--labelers 64] [--seconds 60] [--postgres [--servers 2]]

Prints throughput, next-task latency, and a consistency check of the run (no double leases,
no lost or duplicated submissions, stale submits refused). Last line:
`labeling_queue: <cycles/s> cycles/s p99 next <ms> ms (<dialect>, <n> server(s))`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import sqlalchemy as sa
from _server import Postgres, Server, machine
from tests.support import labelers as harness


def database_state(url: str, project_id: str):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        events = [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT e.task_id, e.user_id, e.action, e.response FROM task_events e "
                    "JOIN tasks t ON t.id = e.task_id WHERE t.project_id = :p"
                ),
                {"p": project_id},
            )
        ]
        tasks = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                sa.text("SELECT id, status, response FROM tasks WHERE project_id = :p"),
                {"p": project_id},
            )
        }
    engine.dispose()
    decode = __import__("json").loads
    events = [(t, u, a, decode(r) if isinstance(r, str) else r) for t, u, a, r in events]
    tasks = {k: (s, decode(r) if isinstance(r, str) else r) for k, (s, r) in tasks.items()}
    return events, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tasks", type=int, default=40_000)
    parser.add_argument("--lease-seconds", type=int, default=10)
    parser.add_argument(
        "--abandon-every",
        type=int,
        default=16,
        help="every Nth labeler abandons 20%% of its leases (0: none)",
    )
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--servers", type=int, default=1)
    args = parser.parse_args()

    postgres = Postgres() if args.postgres else None
    database_url = postgres.url if postgres else None
    servers = [Server(database_url, ASSAY_WORKERS="1")]
    database_url = servers[0].database_url
    for _ in range(args.servers - 1):
        servers.append(Server(database_url, seed_admin=False, ASSAY_WORKERS="1"))
    try:
        project_id, accounts = harness.setup_queue(
            servers[0].url,
            servers[0].key,
            labelers=args.labelers,
            tasks=args.tasks,
            lease_seconds=args.lease_seconds,
        )
        results = asyncio.run(
            harness.run(
                [s.url for s in servers],
                accounts,
                project_id,
                seconds=args.seconds,
                abandon_every=args.abandon_every,
                lease_seconds=args.lease_seconds,
            )
        )
        events, tasks = database_state(database_url, project_id)
        problems = harness.check_consistency(results, events, tasks, args.lease_seconds)
    finally:
        for server in servers:
            server.stop()
        if postgres:
            postgres.stop()
    dialect = "postgresql" if args.postgres else "sqlite"
    p50 = statistics.median(results.next_latencies) * 1000 if results.next_latencies else 0
    print(f"machine: {machine()}")
    print(f"{args.labelers} labelers, {args.seconds:.0f}s, {dialect}, {len(servers)} server(s)")
    print(
        f"submits acknowledged {len(results.submits_ok)}, leases {len(results.grants)}, "
        f"stale submits refused {results.stale_refused}, empty queue answers "
        f"{results.empty}, errors {len(results.errors)} {results.errors[:3]}"
    )
    print(
        f"next p50 {p50:.1f} ms, p99 {results.percentile(results.next_latencies, 0.99):.1f}"
        f" ms; submit p99 {results.percentile(results.submit_latencies, 0.99):.1f} ms"
    )
    print(f"consistency: {'OK' if not problems else problems[:10]}")
    print(
        f"labeling_queue: {results.cycles_per_second:.0f} cycles/s p99 next "
        f"{results.percentile(results.next_latencies, 0.99):.0f} ms ({dialect}, "
        f"{len(servers)} server(s))"
    )
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
