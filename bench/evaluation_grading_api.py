"""The grading service's latency over HTTP (issue: evaluate, acceptance 4): a batch of 256
(prompt, response, rubric) triples with 5 criteria each (1,280 judge calls) posted to a real
`assay serve` on loopback, the judge a provider record pointing at the fast OpenAI-protocol
stand-in (`tests/support/fast_openai_server.py`, its own process, answering at once).

    /work/main/.venv/bin/python bench/evaluation_grading_api.py [--triples 256] [--runs 3]

Rows, side by side in one run:
- cold: every triple new (no verdict cached), so 1,280 judge calls through `OpenAIChatModel`,
  the verdicts then stored in the database verdict cache;
- cached: the same batch again: every verdict read from `eval_verdict_cache`, no call.
Medians of `--runs`; the stand-in's call count checks that the cached run made none.
Last line: `grading-api: cold <ms> ms cached <ms> ms ...`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench._server import Postgres, Server, machine  # noqa: E402
from tests.support.fast_openai_server import FastChatServer  # noqa: E402

VERDICT = json.dumps({"explanation": "rule", "criteria_met": True, "confidence": 0.95})


def batch(run: int, triples: int, criteria: int) -> list[dict]:
    return [
        {
            "conversation": f"Question {i} of run {run}: tell me everything about topic {i}.",
            "response": f"Run {run}, answer {i}: " + "and more text " * 20,
            "rubric": [
                {"text": f"Mentions the fact w{i}x{k}", "points": -2 if k == criteria - 1 else 3}
                for k in range(criteria)
            ],
        }
        for i in range(triples)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triples", type=int, default=256)
    parser.add_argument("--criteria", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    print(machine())
    postgres = Postgres() if args.postgres else None
    with FastChatServer(answer=VERDICT) as stand_in:
        server = Server(
            postgres.url if postgres else None,
            ASSAY_OUTBOUND_ALLOW='["127.0.0.0/8"]',
        )
        try:
            api = server.api()
            provider = api.post(
                "/providers",
                json={
                    "name": "fast",
                    "base_url": stand_in.base_url,
                    "max_concurrency": args.concurrency,
                    "max_retries": 0,
                },
            ).json()
            judge = api.post(
                "/judges", json={"name": "bench", "provider_id": provider["id"], "model": "j"}
            ).json()
            # warm-up: the server's first call imports the client libraries
            api.post("/grading", json={"judge_id": judge["id"], "items": batch(-1, 4, 5)})
            cold, cached = [], []
            verdicts = args.triples * args.criteria
            for run in range(args.runs):
                body = {
                    "judge_id": judge["id"],
                    "items": batch(run, args.triples, args.criteria),
                    "concurrency": args.concurrency,
                }
                before = stand_in.calls()
                started = time.perf_counter()
                first = api.post("/grading", json=body)
                cold.append(time.perf_counter() - started)
                assert first.status_code == 200, first.text
                assert first.json()["judged"] == verdicts
                assert stand_in.calls() - before == verdicts
                started = time.perf_counter()
                again = api.post("/grading", json=body)
                cached.append(time.perf_counter() - started)
                assert again.json()["cache_hits"] == verdicts
                assert stand_in.calls() - before == verdicts  # no call on the repeat
            cold_ms = statistics.median(cold) * 1000
            cached_ms = statistics.median(cached) * 1000
            database = "PostgreSQL" if postgres else "SQLite"
            print(
                f"{args.triples} triples x {args.criteria} criteria ({verdicts} verdicts), "
                f"{database}, runs {[round(c * 1000) for c in cold]} / "
                f"{[round(c * 1000) for c in cached]} ms"
            )
            print(
                f"grading-api: cold {cold_ms:.0f} ms ({verdicts / (cold_ms / 1000):,.0f} "
                f"verdicts/s) cached {cached_ms:.0f} ms"
            )
        finally:
            server.stop()
            if postgres:
                postgres.stop()


if __name__ == "__main__":
    main()
