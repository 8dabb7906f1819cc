"""Simulated labelers for load tests and benchmarks: many people pulling from one queue.

Each labeler loops next → submit over HTTP, on a keep-alive connection of its own
(`http_load`, so the client takes little CPU from the server it shares the machine with).
Some labelers abandon a share of their leases and submit late, after the lease ran out, to
prove expired leases are reassigned and stale submits refused. Everything the server
acknowledged is recorded so a consistency check can compare it with the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tests.support.http_load import Connection


@dataclass
class Grant:
    task_id: str
    user: str
    token: str
    received_at: float  # client monotonic clock
    expires_at: dt.datetime


@dataclass
class Results:
    duration: float = 0.0  # the load window: abandoned leases may be submitted after it
    window_start: float = 0.0  # client monotonic clock; latencies count from here
    window_end: float = 0.0
    submit_times: list[float] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    submits_ok: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    # Submits refused with 409 because the lease had run out (abandoned, or a slow server).
    stale_refused: int = 0
    stale_accepted: int = 0
    next_latencies: list[float] = field(default_factory=list)
    submit_latencies: list[float] = field(default_factory=list)
    empty: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def cycles_per_second(self) -> float:
        """Submissions acknowledged inside the load window, per second of the window."""
        inside = sum(1 for t in self.submit_times if self.window_start <= t <= self.window_end)
        return inside / self.duration if self.duration else 0.0

    def percentile(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[max(0, int(len(ordered) * q) - 1)] * 1000 if ordered else 0.0


def category_response(task: dict[str, Any]) -> dict[str, Any]:
    label = "cat" if int(task["id"][-1], 16) % 2 else "dog"
    return {"annotations": [{"type": "category", "label": label}]}


async def _labeler(
    connection: Connection,
    key: str,
    user: str,
    project_id: str,
    deadline: float,
    results: Results,
    abandon_rate: float,
    lease_seconds: float,
    rng: random.Random,
    period: float | None = None,
    combined: bool = False,
    window_start: float = 0.0,
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    # `combined`: submit with ?next=true, so the next lease comes back with the submission;
    # its latency is that call's, counted from when the cycle was due.
    carried: dict[str, Any] | None = None
    next_url = f"/api/v1/projects/{project_id}/queue/next?stage=label"
    # Paced labelers start a cycle every `period` seconds (offsets spread the starts). A cycle
    # that is late starts at once, and its next-task latency counts from when it was due, so
    # a server falling behind shows in the latencies (no coordinated omission).
    due = time.monotonic() + (rng.random() * period if period else 0.0)
    while time.monotonic() < deadline:
        if period:
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            started = due
            due += period
        else:
            started = time.monotonic()
        if carried is not None:
            lease, carried = carried, None
        else:
            status, body = await connection.post(next_url, headers=headers)
            if started >= window_start:
                results.next_latencies.append(time.monotonic() - started)
            if status == 204:
                results.empty += 1
                await asyncio.sleep(0.05)
                continue
            if status != 200:
                results.errors.append(f"next {status} {body[:200]!r}")
                await asyncio.sleep(0.05)
                continue
            lease = json.loads(body)
        task = lease["task"]
        token = lease["lease_token"]
        results.grants.append(
            Grant(
                task["id"],
                user,
                token,
                time.monotonic(),
                dt.datetime.fromisoformat(lease["expires_at"]),
            )
        )
        if rng.random() < abandon_rate:
            # Close the tab; come back after the lease ran out and try to submit anyway.
            await asyncio.sleep(lease_seconds + 1.0)
            status, _ = await connection.post(
                f"/api/v1/tasks/{task['id']}/submit",
                headers=headers,
                json_body={"lease_token": token, "response": category_response(task)},
            )
            if status == 409:
                results.stale_refused += 1
            elif status == 200:
                results.stale_accepted += 1
            else:
                results.errors.append(f"late submit {status}")
            due = max(due, time.monotonic())  # the pause was this labeler's, not the server's
            continue
        answer = category_response(task)
        if not combined:
            started = time.monotonic()
        status, body = await connection.post(
            f"/api/v1/tasks/{task['id']}/submit" + ("?next=true" if combined else ""),
            headers=headers,
            json_body={"lease_token": token, "response": answer},
        )
        if started >= window_start:
            results.submit_latencies.append(time.monotonic() - started)
        expires = dt.datetime.fromisoformat(lease["expires_at"])
        if status == 200:
            results.submits_ok.append((task["id"], user, answer))
            results.submit_times.append(time.monotonic())
            if combined:
                carried = json.loads(body).get("next")
                if carried is not None and started >= window_start:
                    results.next_latencies.append(time.monotonic() - started)
        elif status == 409 and dt.datetime.now(dt.UTC) >= expires:
            # The server was slow enough that the lease ran out first: refusing is right.
            results.stale_refused += 1
        else:
            results.errors.append(
                f"submit {status} task {task['id']} by {user} "
                f"lease {lease['expires_at']}: {body[:300]!r}"
            )


async def run(
    urls: list[str],
    labelers: list[tuple[str, str]],
    project_id: str,
    *,
    seconds: float,
    abandon_every: int = 0,
    abandon_rate: float = 0.2,
    lease_seconds: float = 10.0,
    seed: int = 7,
    rate: float | None = None,
    combined: bool = False,
    warmup: float = 0.0,
) -> Results:
    """`labelers` are (user id, key) pairs, split round-robin over the server `urls`.
    Every `abandon_every`-th labeler abandons `abandon_rate` of its leases. With `rate`
    (cycles/s for all labelers together) each labeler is paced; without, they loop flat out.
    With `warmup`, the labelers work that many seconds before the measured `seconds` begin
    (connections opened, caches filled): throughput and latencies count the window only; the
    consistency check covers everything."""
    # The rate is offered by the labelers who work steadily (abandoners idle for a lease).
    steady = sum(1 for i in range(len(labelers)) if not (abandon_every and i % abandon_every == 0))
    period = steady / rate if rate else None
    results = Results()
    # One connection per labeler, as a browser tab keeps one.
    connections = [Connection(urls[i % len(urls)]) for i in range(len(labelers))]
    started = time.monotonic()
    window_start = started + warmup
    deadline = window_start + seconds
    rng = random.Random(seed)
    try:
        await asyncio.gather(
            *(
                _labeler(
                    connections[i],
                    key,
                    user,
                    project_id,
                    deadline,
                    results,
                    abandon_rate if abandon_every and i % abandon_every == 0 else 0.0,
                    lease_seconds,
                    random.Random(rng.random()),
                    period,
                    combined,
                    window_start,
                )
                for i, (user, key) in enumerate(labelers)
            )
        )
    finally:
        for connection in connections:
            connection.close()
    results.duration, results.window_start, results.window_end = seconds, window_start, deadline
    return results


def _labels(response: dict[str, Any] | None) -> list[tuple[str, str | None]]:
    """What was answered, ignoring what the server fills in (ids, defaults)."""
    return [(a["type"], a.get("label")) for a in (response or {}).get("annotations", [])]


def check_consistency(
    results: Results,
    events: list[tuple[str, str, str, dict | None]],
    tasks: dict[str, tuple[str, dict | None]],
    lease_seconds: float,
) -> list[str]:
    """Problems found comparing what the server acknowledged with the database.

    `events`: (task id, user id, action, response) from task_events; `tasks`: task id →
    (status, response)."""
    problems: list[str] = []
    submits = defaultdict(list)
    for task_id, user, action, response in events:
        if action == "submit":
            submits[task_id].append((user, response))
    for task_id, entries in submits.items():
        if len(entries) > 1:
            problems.append(f"task {task_id} has {len(entries)} submissions")
    for task_id, user, answer in results.submits_ok:
        stored = submits.get(task_id, [])
        if not any(u == user for u, _ in stored):
            problems.append(f"acknowledged submit of {task_id} by {user} is missing")
        status, response = tasks[task_id]
        if status != "completed" or _labels(response) != _labels(answer):
            problems.append(f"task {task_id} is {status} with {response}, expected {answer}")
    if results.stale_accepted:
        problems.append(f"{results.stale_accepted} submit(s) after an expired lease accepted")
    by_task = defaultdict(list)
    for grant in results.grants:
        by_task[grant.task_id].append(grant)
    for task_id, grants in by_task.items():
        grants.sort(key=lambda g: g.expires_at)
        for earlier, later in itertools.pairwise(grants):
            if earlier.user == later.user:
                continue
            later_start = later.expires_at - dt.timedelta(seconds=lease_seconds)
            if later_start < earlier.expires_at - dt.timedelta(milliseconds=50):
                problems.append(
                    f"task {task_id} leased to {earlier.user} and {later.user} at the same time"
                )
    return problems


def database_state(
    db: Any, project_id: str
) -> tuple[list[tuple[str, str, str, dict | None]], dict[str, tuple[str, dict | None]]]:
    """What `check_consistency` compares with: the project's task events and tasks."""
    with db.read() as session:
        events = session.execute(
            sa.text(
                "SELECT e.task_id, e.user_id, e.action, e.response FROM task_events e "
                "JOIN tasks t ON t.id = e.task_id WHERE t.project_id = :p"
            ),
            {"p": project_id},
        ).all()
        tasks = session.execute(
            sa.text("SELECT id, status, response FROM tasks WHERE project_id = :p"),
            {"p": project_id},
        ).all()

    def decode(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return (
        [(t, u, a, decode(r)) for t, u, a, r in events],
        {t: (s, decode(r)) for t, s, r in tasks},
    )


CATEGORY_TAXONOMY = {
    "labels": [
        {"name": "cat", "geometries": ["category"]},
        {"name": "dog", "geometries": ["category"]},
    ]
}


def setup_queue(
    url: str, admin_key: str, *, labelers: int, tasks: int, lease_seconds: int, name: str = "load"
) -> tuple[str, list[tuple[str, str]]]:
    """A categorization project with `tasks` queued tasks and `labelers` member accounts.
    Returns the project id and (user id, key) pairs. Uses only the public API."""
    import httpx

    with httpx.Client(
        base_url=url + "/api/v1", timeout=120, headers={"Authorization": f"Bearer {admin_key}"}
    ) as api:

        def ok(response: httpx.Response) -> dict[str, Any]:
            if response.status_code >= 300:
                raise RuntimeError(
                    f"{response.request.url}: {response.status_code} {response.text[:500]}"
                )
            return response.json()

        project = ok(
            api.post(
                "/projects",
                json={
                    "name": f"{name}-{time.time_ns()}",
                    "task_type": "categorization",
                    "taxonomy": CATEGORY_TAXONOMY,
                    "pipeline": {
                        "stages": [{"name": "label", "kind": "label"}],
                        "lease_seconds": lease_seconds,
                    },
                },
            )
        )
        batch = ok(
            api.post(
                f"/projects/{project['id']}/batches",
                json={"name": f"{name}-batch-{time.time_ns()}"},
            )
        )
        for start in range(0, tasks, 10_000):
            ok(
                api.post(
                    f"/projects/{project['id']}/tasks/bulk",
                    json={
                        "batch": batch["id"],
                        "tasks": [
                            {
                                "params": {
                                    "attachment": f"https://example.test/{i}.jpg",
                                    "attachment_type": "image",
                                }
                            }
                            for i in range(start, min(tasks, start + 10_000))
                        ],
                    },
                )
            )
        ok(api.post(f"/batches/{batch['id']}/finalize"))
        accounts = []
        stamp = time.time_ns()
        for i in range(labelers):
            user = ok(
                api.post(
                    "/users", json={"email": f"labeler{i}-{stamp}@example.test", "role": "labeler"}
                )
            )
            key = ok(api.post("/keys", json={"user_id": user["id"], "mode": "live"}))["key"]
            ok(api.put(f"/projects/{project['id']}/members/{user['id']}", json={"role": "labeler"}))
            accounts.append((user["id"], key))
        return project["id"], accounts
