"""A judge calibration of 5,000 verdicts (1,000 answers, 5 criteria each) against a real
`assay serve`: the create (1,000 rubric_grading tasks in a batch, the verdicts stored) and
the agreement report over every completed task.

    python bench/evaluation_calibration.py [--answers 1000] [--criteria 5] [--postgres]

The create is timed with a live key (tasks queued for people) and with a test key, whose
tasks complete at once with a synthetic response (the sandbox) — so every task is done
when that create returns and the report pairs all the verdicts. Last line:
`eval_calibration: create <s> s (test key <s> s), report p50 <ms> ms at <n> verdicts
(<dialect>)`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from _server import Postgres, Server, machine


def verdicts(answers: int, criteria: int) -> list[dict]:
    return [
        {
            "prompt": f"Question {a}",
            "response": f"Answer {a}",
            "criterion": f"Criterion {c}",
            "category": f"category {c % 3}",
            "judge_met": (a + c) % 2 == 0,
            "judge_version": "judge-1",
            "source": f"run-item-{a}",
        }
        for a in range(answers)
        for c in range(criteria)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--criteria", type=int, default=5)
    parser.add_argument("--reports", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    postgres = Postgres() if args.postgres else None
    server = Server(postgres.url if postgres else None)
    try:
        with server.api() as admin:
            test_key = admin.post("/keys", json={"mode": "test"}).json()["key"]
            project = admin.post(
                "/projects", json={"name": "calibration", "task_type": "rubric_grading"}
            ).json()
            body = {
                "name": "live calibration",
                "project_id": project["id"],
                "verdicts": verdicts(args.answers, args.criteria),
            }
            started = time.perf_counter()
            created = admin.post("/calibrations", json=body)
            live_seconds = time.perf_counter() - started
            if created.status_code != 201:
                raise SystemExit(f"create failed: {created.status_code} {created.text[:300]}")
        with httpx.Client(
            base_url=server.url + "/api/v1",
            timeout=600,
            headers={"Authorization": f"Bearer {test_key}"},
        ) as api:
            project = api.post(
                "/projects", json={"name": "calibration", "task_type": "rubric_grading"}
            ).json()
            body = {
                "name": "bench calibration",
                "project_id": project["id"],
                "verdicts": verdicts(args.answers, args.criteria),
            }
            started = time.perf_counter()
            created = api.post("/calibrations", json=body)
            create_seconds = time.perf_counter() - started
            if created.status_code != 201:
                raise SystemExit(f"create failed: {created.status_code} {created.text[:300]}")
            calibration = created.json()
            samples = []
            for _ in range(args.reports):
                started = time.perf_counter()
                report = api.get(f"/calibrations/{calibration['id']}/report")
                samples.append(time.perf_counter() - started)
                graded = report.json()["verdicts_graded"]
                if report.status_code != 200 or graded != len(body["verdicts"]):
                    raise SystemExit(f"report failed: {report.status_code} {report.text[:300]}")
    finally:
        server.stop()
        if postgres:
            postgres.stop()
    dialect = "postgresql" if args.postgres else "sqlite"
    print(machine())
    print(
        f"eval_calibration: create {live_seconds:.2f} s (test key {create_seconds:.2f} s), "
        f"report p50 "
        f"{statistics.median(samples) * 1000:.0f} ms at {len(body['verdicts'])} verdicts "
        f"({dialect})"
    )


if __name__ == "__main__":
    main()
