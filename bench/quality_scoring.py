"""What scoring an evaluation task adds to a submit (issue 5: ≤ 5 ms p99).

    python bench/quality_scoring.py [--tasks 400] [--boxes 20] [--postgres]

Two measurements:
1. In process: `score_response` alone on realistic responses — 20 boxes with attributes
   (noisy copies of the expected ones), 10 polygons, 30 spans, categories, a transcription.
2. Over HTTP against a real `assay serve`: one labeler submits image responses of `--boxes`
   boxes to real tasks and to evaluation tasks (the project serves evaluation tasks at a
   50 % rate, so both kinds are interleaved under the same conditions); submit latency
   median and p99 of each, and the difference.

The last line is the summary.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from _server import Postgres, Server, machine

from assay.metrics.matching import score_response


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def boxes(rng: random.Random, count: int, jitter: float = 0.0) -> list[dict[str, Any]]:
    found = []
    for i in range(count):
        x, y = 10 + 40.0 * (i % 20), 10 + 40.0 * (i // 20)
        found.append(
            {
                "type": "box",
                "label": ("cat", "dog")[i % 2],
                "x": x + rng.uniform(-jitter, jitter),
                "y": y + rng.uniform(-jitter, jitter),
                "width": 30.0,
                "height": 30.0,
                "attributes": {"occluded": ("no", "yes")[i % 3 == 0]},
            }
        )
    return found


def in_process(repeat: int) -> dict[str, tuple[float, float]]:
    rng = random.Random(7)
    cases: dict[str, tuple[dict, dict]] = {}
    cases["20 boxes"] = (
        {"annotations": boxes(rng, 20)},
        {"annotations": boxes(rng, 20, jitter=3.0)},
    )
    polygon = [[0, 0], [40, 0], [50, 30], [20, 45], [0, 30]]
    cases["10 polygons"] = (
        {
            "annotations": [
                {
                    "type": "polygon",
                    "label": "cat",
                    "vertices": [{"x": x + 60 * i, "y": y} for x, y in polygon],
                }
                for i in range(10)
            ]
        },
        {
            "annotations": [
                {
                    "type": "polygon",
                    "label": "cat",
                    "vertices": [{"x": x + 60 * i + 2, "y": y + 1} for x, y in polygon],
                }
                for i in range(10)
            ]
        },
    )
    cases["30 spans"] = (
        {
            "annotations": [
                {"type": "span", "label": "PER", "start": 10 * i, "end": 10 * i + 5}
                for i in range(30)
            ]
        },
        {
            "annotations": [
                {"type": "span", "label": "PER", "start": 10 * i + (i % 4 == 0), "end": 10 * i + 5}
                for i in range(30)
            ]
        },
    )
    cases["categories"] = (
        {"annotations": [{"type": "category", "label": "cat"}]},
        {"annotations": [{"type": "category", "label": "dog"}]},
    )
    text = "the quick brown fox jumps over the lazy dog " * 12
    cases["transcription"] = (
        {"annotations": [{"type": "text", "field": "text", "text": text}]},
        {"annotations": [{"type": "text", "field": "text", "text": text.replace("fox", "f0x")}]},
    )
    results = {}
    for name, (expected, actual) in cases.items():
        score_response(expected, actual)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            score_response(expected, actual)
            times.append((time.perf_counter() - start) * 1000)
        results[name] = (statistics.median(times), p99(times))
    return results


TAXONOMY = {
    "labels": [
        {
            "name": name,
            "geometries": ["box"],
            "attributes": [{"name": "occluded", "type": "choice", "choices": ["no", "yes"]}],
        }
        for name in ("cat", "dog")
    ]
}


def over_http(server: Server, tasks: int, box_count: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    with server.api() as api:
        project = api.post(
            "/projects",
            json={
                "name": f"scoring-{time.time_ns()}",
                "task_type": "image",
                "taxonomy": TAXONOMY,
                "params": {"image_width": 1000, "image_height": 1000},
                "quality": {"evaluation_rate": 0.5, "recycle_after_hours": None},
            },
        ).json()
        pid = project["id"]
        expected = {"annotations": boxes(rng, box_count)}
        for i in range(tasks):
            api.post(
                f"/projects/{pid}/evaluation_tasks",
                json={
                    "params": {"attachment": f"https://example.com/g{i}.jpg"},
                    "expected_response": expected,
                },
            ).raise_for_status()
        api.post(
            f"/projects/{pid}/tasks/bulk",
            json={
                "tasks": [
                    {"params": {"attachment": f"https://example.com/r{i}.jpg"}}
                    for i in range(tasks)
                ]
            },
        ).raise_for_status()
        gold = {
            t["id"]
            for page in [api.get(f"/projects/{pid}/quality_tasks", params={"limit": 1000}).json()]
            for t in page["items"]
        }
        latency: dict[str, list[float]] = {"real": [], "evaluation": []}
        for _ in range(tasks):
            lease = api.post(f"/projects/{pid}/queue/next")
            if lease.status_code == 204:
                break
            body = lease.json()
            answer = {"annotations": boxes(rng, box_count, jitter=2.0)}
            start = time.perf_counter()
            done = api.post(
                f"/tasks/{body['task']['id']}/submit",
                json={"lease_token": body["lease_token"], "response": answer},
            )
            elapsed = (time.perf_counter() - start) * 1000
            done.raise_for_status()
            latency["evaluation" if body["task"]["id"] in gold else "real"].append(elapsed)
        return latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--boxes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    scoring = in_process(args.repeat)
    for name, (median, tail) in scoring.items():
        print(f"score_response {name:>14}: median {median:.3f} ms, p99 {tail:.3f} ms")
    postgres = Postgres() if args.postgres else None
    server = Server(postgres.url if postgres else None)
    try:
        latency = over_http(server, args.tasks, args.boxes)
    finally:
        server.stop()
        if postgres:
            postgres.stop()
    real, gold = latency["real"], latency["evaluation"]
    print(
        f"submit, real tasks ({len(real)}): median {statistics.median(real):.2f} ms, "
        f"p99 {p99(real):.2f} ms"
    )
    print(
        f"submit, evaluation tasks ({len(gold)}): median {statistics.median(gold):.2f} ms, "
        f"p99 {p99(gold):.2f} ms"
    )
    worst = max(tail for _, tail in scoring.values())
    dialect = "postgresql" if args.postgres else "sqlite"
    print(
        f"quality_scoring ({dialect}): score_response p99 {worst:.2f} ms (worst case above); "
        f"evaluation submit adds {statistics.median(gold) - statistics.median(real):+.2f} ms "
        f"median, {p99(gold) - p99(real):+.2f} ms p99 over a real submit ({args.boxes} boxes)"
    )


if __name__ == "__main__":
    main()
