"""Appending items with their boxes and metadata through the API, against a real `assay serve`.

    python bench/curation_ingest.py [--items 1000000] [--boxes 5] [--chunk 10000]
                                    [--postgres | --database-url postgresql+psycopg://…]

Generates items like a driving dataset's (a URL, width and height, a dozen metadata fields:
numbers, strings, a list, a nested object; 0 to 10 boxes each, `--boxes` on average) and posts
them `--chunk` items per request, two requests in flight, the way a loader script would
(the bodies are generated once per size into the temp directory and read from there). Reports
items/s and objects/s over the whole run, the server's peak RSS and how it grew, and the
time of a request at the start and at the end (does it slow down as the tables grow?).
Last line: the summary.

FiftyOne 1.22 on this kind of machine ingested 412 samples/s (issue 16); the goal here is
≥ 20,000 items/s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from _server import Postgres, Server, machine
from curation_data import SEED, make_items


def cached_bodies(items: int, boxes: int, chunk: int) -> list[Path]:
    """The request bodies, generated once per size into the temp directory (generating and
    encoding them costs the client more than sending them)."""
    folder = Path(tempfile.gettempdir()) / f"assay-bench-ingest-{items}-{boxes}-{chunk}"
    folder.mkdir(exist_ok=True)
    rng = random.Random(SEED)
    paths = []
    for n, start in enumerate(range(0, items, chunk)):
        path = folder / f"{n:05d}.json"
        count = min(chunk, items - start)
        if not path.exists():
            body = json.dumps({"items": make_items(start, count, boxes, rng)}).encode()
            partial = path.with_suffix(".part")
            partial.write_bytes(body)
            partial.rename(path)
        paths.append(path)
    return paths


def tree(pid: int) -> list[int]:
    """The process and its descendants (`assay serve --processes N` runs N children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def own_cpu_seconds(pid: int) -> float:
    """User and system CPU time of one process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process tree has used (all threads, all children)."""
    return sum(own_cpu_seconds(member) for member in tree(pid))


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set of the process tree, KiB (peaks summed)."""
    current = peak = 0
    for member in tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        current += int(fields["VmRSS"].split()[0])
        peak += int(fields["VmHWM"].split()[0])
    return current, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--boxes", type=int, default=5, help="average boxes per item")
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster")
    parser.add_argument(
        "--database-url",
        help="an existing, empty database to fill (kept for bench/curation_explore.py)",
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="`assay serve --processes` (one per core)"
    )
    args = parser.parse_args()

    print(f"machine: {machine()}")
    pg = Postgres() if args.postgres else None
    url = pg.url if pg else args.database_url
    server = Server(url, processes=args.processes)
    dialect = "postgresql" if url and url.startswith("postgresql") else "sqlite"
    try:
        api = server.api()
        dataset = api.post("/datasets", json={"name": "ingest-bench"}).json()
        url = f"{server.url}/api/v1/datasets/{dataset['id']}/items"
        headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"}
        bodies = cached_bodies(args.items, args.boxes, args.chunk)

        http = httpx.Client(timeout=600)
        times: list[float] = []
        objects = 0
        rss_start = rss_kib(server.proc.pid)[0]
        cpu_start = cpu_seconds(server.proc.pid)
        cpu_at_start = {pid: own_cpu_seconds(pid) for pid in tree(server.proc.pid)}
        # The throwaway cluster's postmaster and its backends (PostgreSQL's share of the work).
        postmaster = (
            int((pg.cluster.data / "postmaster.pid").read_text().split()[0]) if pg else None
        )
        db_cpu_start = cpu_seconds(postmaster) if postmaster else 0.0

        def post(path: Path) -> dict:
            data = path.read_bytes()
            started = time.perf_counter()
            response = http.post(url, content=data, headers=headers)
            times.append(time.perf_counter() - started)
            response.raise_for_status()
            return response.json()

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for n, result in enumerate(pool.map(post, bodies), 1):
                objects += result["annotations"]
                if n % 20 == 0:
                    done = n * args.chunk
                    print(f"  {done:,} items, {done / (time.perf_counter() - started):,.0f}/s")
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.proc.pid) - cpu_start
        db_cpu = cpu_seconds(postmaster) - db_cpu_start if postmaster else None
        # Is the work spread over the serving processes? (One process taking both requests
        # would serialise them on its GIL.)
        shares = {
            pid: own_cpu_seconds(pid) - cpu_at_start.get(pid, 0.0) for pid in tree(server.proc.pid)
        }
        print(
            "  server CPU per process over the run: "
            + ", ".join(f"{s:.1f} s" for s in sorted(shares.values(), reverse=True) if s >= 0.1)
        )
        rss_end, rss_peak = rss_kib(server.proc.pid)
        count = api.get(f"/datasets/{dataset['id']}").json()
        assert count["item_count"] == args.items, count
        assert count["annotation_count"] == objects, count
        first = statistics.median(times[:5])
        last = statistics.median(times[-5:])
        print(
            f"curation_ingest ({dialect}, {args.items:,} items, {objects:,} boxes, "
            f"{args.chunk:,} per request): {args.items / elapsed:,.0f} items/s, "
            f"{objects / elapsed:,.0f} boxes/s; a request {first:.2f} s at the start, "
            f"{last:.2f} s at the end; server CPU {cpu:.1f} s "
            f"({args.items / cpu:,.0f} items per CPU-second); "
            f"server RSS {rss_start // 1024} MiB at start, "
            f"peak {rss_peak // 1024} MiB, end {rss_end // 1024} MiB"
        )
        if db_cpu is not None:
            print(
                f"  PostgreSQL CPU {db_cpu:.1f} s ({args.items / db_cpu:,.0f} items per "
                f"CPU-second); server and PostgreSQL {args.items / (cpu + db_cpu):,.0f} items "
                "per CPU-second"
            )
        print(f"  the database stays for bench/curation_explore.py: {server.database_url}")
    finally:
        server.stop()
        if pg:
            pg.stop()


if __name__ == "__main__":
    main()
