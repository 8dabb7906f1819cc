"""Evaluation runs: a whole run's throughput and Assay's CPU per call, and reading a large
run's results for the UI.

    /work/main/.venv/bin/python bench/evaluation_run.py [--items 1000] [--criteria 5]
        [--read-items 10000] [--repeats 3] [--inspect /tmp/inspect/bin/python]

Rows, side by side in one run (medians of `--repeats`):
- `run`: a fresh SQLite database; an evaluation set of N items, each with a rubric of C
  criteria; a run of the model under test with an explicit rubric judge (one call per
  criterion), both on the fast OpenAI-protocol stand-in (`tests/support/fast_openai_server.py`,
  its own process, answering at once), executed by the real job handler in this process with
  the provider's transport (`OpenAIChatModel` or whatever main's providers give). Wall time,
  verdicts/s, and this process's CPU (user + system, all threads: the worker, the event loop,
  the writer) per call — model and judge calls both counted.
- `read`: a run of M results (C verdicts and tags each, written with the run's own insert) read
  through the API in process (`GET /api/v1/eval-runs/{id}/results`, page of 100 + summary):
  the first page, a tag filter, a score range, errors only, and a page deep into the cursor.
- `inspect_ai` (when `--inspect` names a Python with inspect_ai installed): a plain N-sample
  eval with its mock model (usage preset so it runs offline), samples/s and CPU/sample.

Last line: `eval run: <s> s for N items x C criteria, <verdicts/s> verdicts/s, <µs> µs CPU/call;
results page <ms> ms at M results`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import aiohttp  # noqa: E402, F401  (imported before the clock starts, as in a running server)
import openai  # noqa: E402, F401
from tests.support.fast_openai_server import FastChatServer  # noqa: E402

from assay.api.app import build_context, create_app  # noqa: E402
from assay.core import keys, migrate, schemas, users  # noqa: E402
from assay.core.auth import Actor  # noqa: E402
from assay.core.settings import Settings  # noqa: E402
from assay.core.worker import JobContext  # noqa: E402
from assay.evaluation import eval_sets, models, providers, run_engine, runs  # noqa: E402
from assay.evaluation import jobs as _jobs  # noqa: E402, F401  (registers evaluation.run)
from assay.evaluation.eval_set_schemas import EvalItemIn, EvalSetCreate  # noqa: E402
from assay.evaluation.provider_schemas import ProviderCreate  # noqa: E402
from assay.evaluation.run_schemas import RunCreate  # noqa: E402

VERDICT = json.dumps({"explanation": "the response does it", "criteria_met": True})
SECRET = "bench-secret-key-with-enough-characters-0123456789"
TRANSPORT = "lean"  # set by --transport


def world(tmp: Path, items: int, criteria: int) -> tuple[Any, Actor, str]:
    settings = Settings(
        data_dir=tmp / "data",
        database_url=f"sqlite:///{tmp / 'assay.db'}",
        secret_key=SECRET,
        password_hash_memory_kib=1024,
        workers=0,
        outbound_allow=["127.0.0.0/8"],
        warm_routes=False,
    )
    ctx = build_context(settings)
    migrate.upgrade(ctx.db)
    with ctx.db.write() as session:
        user = users.create_user(
            session=session,
            user_in=schemas.UserCreate(email="bench@example.test", role="manager"),
        )
        _, key = keys.create_key(session=session, user=user, mode="live")
        owner = Actor(user_id=user.id, email=user.email, role="manager")
        eval_set = eval_sets.create_eval_set(
            session=session, actor=owner, set_in=EvalSetCreate(name="bench")
        )
        rubric = {
            "criteria": [
                {"id": f"c{k}", "text": f"criterion {k} of the rubric", "points": k + 1}
                for k in range(criteria)
            ]
        }
        eval_sets.apply_items(
            session=session,
            eval_set=eval_set,
            actor=owner,
            items=[
                EvalItemIn(
                    external_id=f"q{i}",
                    prompt=f"Question {i}: explain why the sky is blue, briefly.",
                    reference="Rayleigh scattering",
                    rubric=rubric,
                    domain=("physics", "chemistry", "biology")[i % 3],
                    tags=["short" if i % 2 else "long"],
                )
                for i in range(items)
            ],
        )
    return ctx, owner, eval_set.id, key


def start_run(ctx: Any, owner: Actor, set_id: str, base_url: str) -> str:
    with ctx.db.write() as session:
        provider = providers.create_provider(
            session=session,
            provider_in=ProviderCreate(
                name="fast", base_url=base_url, max_concurrency=64, transport=TRANSPORT
            ),
            actor=owner,
            settings=ctx.settings,
        )
        run_in = RunCreate(
            set_id=set_id,
            provider_id=provider.id,
            model="tiny",
            scorers=[{"name": "exact_match"}],
            judge={"provider_id": provider.id, "model": "judge"},
            params={"concurrency": 64},
        )
        eval_set = session.get(models.EvalSet, set_id)
        run = runs.create_run(
            session=session, actor=owner, eval_set=eval_set, provider=provider, run_in=run_in
        )
        return run.id, run.job_id


def bench_run(server: FastChatServer, items: int, criteria: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ctx, owner, set_id, _key = world(Path(tmp), items, criteria)
        run_id, job_id = start_run(ctx, owner, set_id, server.base_url)
        before = server.calls()
        job = JobContext(ctx, job_id, 1, "bench", threading.Event())
        cpu, wall = time.process_time(), time.perf_counter()
        result = run_engine.run_job(job, {"run_id": run_id})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        calls = server.calls() - before
        with ctx.db.read() as session:
            run = session.get(models.EvalRun, run_id)
            assert run.status == "succeeded" and run.done_calls == items, (run.status, result)
            assert run.judge_calls == items * criteria and run.error_calls == 0
            assert run.summary["scores"]["rubric"]["mean"] == 1.0
        ctx.db.dispose()
    assert calls == items * (1 + criteria), calls
    return {
        "wall_s": wall,
        "verdicts_per_s": items * criteria / wall,
        "cpu_us_per_call": cpu / calls * 1e6,
        "calls": calls,
    }


def fill_results(ctx: Any, run_id: str, set_id: str, n: int, criteria: int) -> None:
    """n results as the run's writer stores them (the same insert), one in 50 failed."""
    with ctx.db.read() as session:
        item_ids = [
            i.id
            for i in eval_sets.iter_version_items(
                session=session,
                eval_set=session.get(models.EvalSet, set_id),
                version=eval_sets.get_version(
                    session=session, eval_set=session.get(models.EvalSet, set_id)
                ),
            )
        ]
    plan = run_engine.Plan(
        run_id=run_id,
        model=None,
        judge=None,
        judge_mode="explicit",
        judge_models=[],
        scorers=[],
        corpus_scorers=[],
        items=[],
        samples=1,
        concurrency=1,
        params={},
    )
    writer = run_engine.Writer(ctx.db, plan, lambda _n, _cost: None)
    rows = []
    for seq in range(n):
        failed = seq % 50 == 7
        met = [(seq + k) % 3 != 0 for k in range(criteria)]
        rows.append(
            {
                "run_id": run_id,
                "seq": seq,
                "item_id": item_ids[seq % len(item_ids)],
                "sample": 0,
                "prompt_preview": f"Question {seq}: explain why the sky is blue.",
                "tags": ["short" if seq % 2 else "long", f"domain:{('a', 'b', 'c')[seq % 3]}"],
                "response": None if failed else "Because of Rayleigh scattering. " * 8,
                "error": "ProviderError: HTTP 500" if failed else None,
                "failed": failed,
                "prompt_tokens": 12,
                "completion_tokens": 40,
                "cost_usd": 1e-5,
                "latency_ms": None if failed else 100 + seq % 17,
                "cached": False,
                "score": None if failed else sum(met) / criteria,
                "scores": {} if failed else {"exact_match": float(seq % 4 == 0)},
                "verdicts": None
                if failed
                else [
                    {
                        "criterion_id": f"c{k}",
                        "met": m,
                        "credit": float(m),
                        "explanation": "the response says so in its second sentence",
                        "error": None,
                    }
                    for k, m in enumerate(met)
                ],
                "rubric_score": None if failed else sum(met) / criteria,
                "judge_version": None if failed else "rubric-v1@0123456789ab/fast/judge",
                "judge_error": None,
                "_judge_calls": criteria,
            }
        )
    for start in range(0, n, 1000):
        writer._write(rows[start : start + 1000])
    with ctx.db.write() as session:
        run = session.get(models.EvalRun, run_id)
        run.summary = run_engine.summarize(session=session, plan=plan)
        run.status = "succeeded"


def bench_read(server: FastChatServer, n: int, criteria: int, repeats: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        ctx, owner, set_id, key = world(Path(tmp), 100, criteria)
        run_id, _job = start_run(ctx, owner, set_id, server.base_url)
        started = time.perf_counter()
        fill_results(ctx, run_id, set_id, n, criteria)
        filled = time.perf_counter() - started
        app = create_app(context=ctx, migrate_on_start=False, run_workers=False)
        headers = {"Authorization": f"Bearer {key}"}
        timings: dict[str, list[float]] = {}
        with TestClient(app) as client:
            url = f"/api/v1/eval-runs/{run_id}/results"
            deep = None
            page = client.get(url, params={"limit": 100}, headers=headers).json()
            for _ in range(49):
                deep = page["next_cursor"]
                page = client.get(
                    url, params={"limit": 100, "cursor": deep}, headers=headers
                ).json()
            cases = {
                "first page": {"limit": 100},
                "tag filter": {"limit": 100, "tag": "domain:b"},
                "score range": {"limit": 100, "min_score": 0.5, "max_score": 0.7},
                "errors only": {"limit": 100, "errors_only": "true"},
                "page 50": {"limit": 100, "cursor": deep},
            }
            for _ in range(repeats):
                for name, params in cases.items():
                    t = time.perf_counter()
                    response = client.get(url, params=params, headers=headers)
                    timings.setdefault(name, []).append(time.perf_counter() - t)
                    body = response.json()
                    assert response.status_code == 200 and body["items"], (name, body)
                    assert body["summary"]["results"] == n
        ctx.db.dispose()
    out = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    out["fill_s"] = filled
    return out


INSPECT_SCRIPT = r"""
import json, sys, time, resource
from inspect_ai import Task, eval as inspect_eval
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, get_model, ModelUsage
from inspect_ai.scorer import match
from inspect_ai.solver import generate

n = int(sys.argv[1])
outputs = []
for i in range(n):
    out = ModelOutput.from_content(model="mockllm/model", content="Rayleigh scattering")
    out.usage = ModelUsage(input_tokens=12, output_tokens=3, total_tokens=15)
    outputs.append(out)
model = get_model("mockllm/model", custom_outputs=outputs)
task = Task(
    dataset=[Sample(input=f"Question {i}: why is the sky blue?", target="Rayleigh scattering")
             for i in range(n)],
    solver=generate(),
    scorer=match(),
)
cpu, wall = time.process_time(), time.perf_counter()
logs = inspect_eval(task, model=model, display="none", log_dir=sys.argv[2], max_connections=64)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
assert logs[0].status == "success", logs[0].status
print(json.dumps({"wall_s": wall, "samples_per_s": n / wall, "cpu_ms_per_sample": cpu / n * 1e3}))
"""


def bench_inspect(python: str, n: int) -> dict[str, float] | None:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [python, "-c", INSPECT_SCRIPT, str(n), tmp],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:
        print(f"inspect_ai failed: {done.stderr[-800:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--criteria", type=int, default=5)
    parser.add_argument("--read-items", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--inspect", default=None, help="a Python with inspect_ai installed")
    parser.add_argument("--transport", default="lean", choices=("lean", "openai"))
    args = parser.parse_args()
    global TRANSPORT
    TRANSPORT = args.transport
    with FastChatServer(answer=VERDICT) as server:
        runs_seen = []
        for k in range(args.repeats):
            row = bench_run(server, args.items, args.criteria)
            runs_seen.append(row)
            print(
                f"run {k + 1}: {row['wall_s']:.2f} s, {row['verdicts_per_s']:.0f} verdicts/s, "
                f"{row['cpu_us_per_call']:.0f} µs CPU/call ({row['calls']} calls)",
                flush=True,
            )
        ran = median_of(runs_seen)
        read = bench_read(server, args.read_items, args.criteria, args.repeats)
    for name, value in read.items():
        unit = "s" if name == "fill_s" else "ms"
        print(f"read {name:12s} {value:8.1f} {unit}")
    if args.inspect:
        rows = [
            r for r in (bench_inspect(args.inspect, args.items) for _ in range(args.repeats)) if r
        ]
        if rows:
            spot = median_of(rows)
            print(
                f"inspect_ai mockllm {args.items} samples: {spot['wall_s']:.2f} s, "
                f"{spot['samples_per_s']:.0f} samples/s, "
                f"{spot['cpu_ms_per_sample']:.1f} ms CPU/sample"
            )
    slowest = max(v for k, v in read.items() if k != "fill_s")
    print(
        f"eval run ({args.transport}): {ran['wall_s']:.2f} s for {args.items} items x "
        f"{args.criteria} criteria, "
        f"{ran['verdicts_per_s']:.0f} verdicts/s, {ran['cpu_us_per_call']:.0f} µs CPU/call; "
        f"results page {read['first page']:.1f} ms (slowest filter {slowest:.1f} ms) "
        f"at {args.read_items} results"
    )


if __name__ == "__main__":
    main()
