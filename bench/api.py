"""Authenticated GET throughput and latency against a real `assay serve` on loopback.

    python bench/api.py [--url URL --key KEY] [--concurrency 32] [--seconds 20]
                        [--path /api/v1/me] [--postgres | --database-url URL]

Without --url it starts `assay serve` on a fresh SQLite data directory (or the given
database). The load generator runs on the same machine, so on a small machine the two share
the CPU; the last line is the summary: `api_get: <req/s> req/s p99 <ms> ms`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import time

import httpx
from _server import Postgres, Server, machine


async def run(
    url: str, key: str, path: str, concurrency: int, seconds: float, warmup: float
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30
    ) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def user() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop_at:
                response = await client.get(path)
                done = time.perf_counter()
                if done >= measure_from and now >= measure_from:
                    if response.status_code == 200:
                        latencies.append(done - now)
                    else:
                        errors += 1

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return len(latencies), latencies, errors


def run_wrk(
    url: str, key: str, path: str, concurrency: int, seconds: float, warmup: float
) -> tuple[float, float, float, int]:
    """wrk (C, event-driven) leaves far more CPU to the server than a Python client."""
    header = f"Authorization: Bearer {key}"
    if warmup:
        subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{warmup:.0f}s", "-H", header, url + path],
            capture_output=True,
            check=True,
        )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-H",
            header,
            url + path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _wrk_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _wrk_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(bad.group(1)) if bad else 0


def _wrk_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--key")
    parser.add_argument("--database-url")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway local PostgreSQL cluster and use it",
    )
    parser.add_argument("--path", default="/api/v1/me")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument(
        "--python-client",
        action="store_true",
        help="use the httpx client even when wrk is installed",
    )
    args = parser.parse_args()

    server = postgres = None
    if args.postgres:
        postgres = Postgres()
        args.database_url = postgres.url
    if args.url:
        url, key = args.url, args.key
    else:
        server = Server(args.database_url)
        url, key = server.url, server.key
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    try:
        if use_wrk:
            rps, p50, p99, errors = run_wrk(
                url, key, args.path, args.concurrency, args.seconds, args.warmup
            )
        else:
            count, latencies, errors = asyncio.run(
                run(url, key, args.path, args.concurrency, args.seconds, args.warmup)
            )
            latencies.sort()
            rps = count / args.seconds
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    finally:
        if server:
            server.stop()
        if postgres:
            postgres.stop()
    dialect = (args.database_url or "sqlite").split(":")[0].split("+")[0]
    print(f"machine: {machine()}")
    client = "wrk" if use_wrk else "httpx (apt-get install wrk for a lighter client)"
    print(
        f"GET {args.path}, {args.concurrency} connections, {args.seconds:.0f}s, {dialect}, "
        f"client {client}, errors {errors}"
    )
    print(f"p50 {p50:.1f} ms")
    print(f"api_get: {rps:.0f} req/s p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
