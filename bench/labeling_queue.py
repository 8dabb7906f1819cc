"""64 labelers doing next + submit over HTTP against a real `assay serve`.

    python bench/labeling_queue.py [--labelers 64] [--seconds 60] [--warmup 5]
                                   [--rate 300 | --rate 0] [--processes 2]
                                   [--postgres [--servers 2]]

The labelers first work `--warmup` seconds unmeasured: a server just started opens its
database connections and fills its caches (API keys, project rules) under the first
requests, a one-off that is not the queue's steady latency. The consistency check covers
the warm-up too.

Two ways to load the server. `--rate R` (default 300) paces the labelers to offer R cycles/s
together, as a latency target is stated at a throughput: next-task latency counts from when
each cycle was due, so a server that falls behind shows it. `--rate 0` loops them flat out
with no pause, which measures the most the server does; there, by Little's law, each
labeler waits about 64 / throughput per cycle, whatever the server's speed per request.

Prints throughput, next-task latency, and a consistency check of the run (no double leases,
no lost or duplicated submissions, stale submits refused). Last line:
`labeling_queue: <cycles/s> cycles/s p99 next <ms> ms (<dialect>, <n> server(s) x <p>
processes, offered <rate>)`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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


def _event_loop_run(coroutine):
    try:
        import uvloop
    except ImportError:  # not on this platform: asyncio's loop
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60, help="the measured window")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5,
        help="seconds of the same load before the window (new connections, caches): not measured",
    )
    parser.add_argument("--tasks", type=int, default=40_000)
    parser.add_argument("--lease-seconds", type=int, default=10)
    parser.add_argument(
        "--abandon-every",
        type=int,
        default=16,
        help="every Nth labeler abandons 20%% of its leases (0: none)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=300,
        help="target cycles/s: labelers are paced to offer this load (0: flat out, no pauses)",
    )
    parser.add_argument(
        "--combined",
        action="store_true",
        help="submit with ?next=true: the next lease comes back with the submission (one "
        "round trip per task; the UI's way)",
    )
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--servers", type=int, default=1, help="`assay serve` instances")
    parser.add_argument(
        "--processes", type=int, default=2, help="processes per `assay serve` (--processes)"
    )
    args = parser.parse_args()

    postgres = Postgres() if args.postgres else None
    database_url = postgres.url if postgres else None
    servers = [Server(database_url, ASSAY_WORKERS="1", ASSAY_PROCESSES=str(args.processes))]
    database_url = servers[0].database_url
    for _ in range(args.servers - 1):
        servers.append(
            Server(
                database_url,
                seed_admin=False,
                ASSAY_WORKERS="1",
                ASSAY_PROCESSES=str(args.processes),
            )
        )
    try:
        project_id, accounts = harness.setup_queue(
            servers[0].url,
            servers[0].key,
            labelers=args.labelers,
            tasks=args.tasks,
            lease_seconds=args.lease_seconds,
        )
        # The load generator's own pauses must not count as the server's latency: its collector,
        # scanning tens of thousands of results, stopped it for 90-120 ms at a time (measured
        # with gc.callbacks). uvloop (uvicorn's loop) also costs it less CPU than asyncio's.
        gc.collect()
        gc.freeze()
        gc.disable()
        results = _event_loop_run(
            harness.run(
                [s.url for s in servers],
                accounts,
                project_id,
                seconds=args.seconds,
                abandon_every=args.abandon_every,
                lease_seconds=args.lease_seconds,
                rate=args.rate or None,
                combined=args.combined,
                warmup=args.warmup,
            )
        )
        gc.enable()
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
    offered = f"offered {args.rate:.0f} cycles/s" if args.rate else "flat out"
    if args.combined:
        offered += ", submit?next=true"
    print(
        f"{args.labelers} labelers, {args.seconds:.0f}s after {args.warmup:.0f}s of warm-up, "
        f"{dialect}, {len(servers)} server(s) "
        f"x {args.processes} processes, {offered}"
    )
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
        f"{len(servers)} server(s) x {args.processes} processes, {offered})"
    )
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
