"""The Label Studio anchor: import rate and N annotators doing next + submit against LS 1.23.

    python bench/labelstudio_anchor.py --ls /work/ls-venv/bin/label-studio [--postgres]
        [--annotators 32] [--seconds 60] [--tasks 100000]

Label Studio is installed in its own venv (never a dependency of Assay) and runs as a separate
server process with its default `label-studio start` (Django's threaded development server,
SQLite in a fresh data dir; with --postgres, LS's documented DJANGO_DB/POSTGRE_* variables
against a throwaway cluster). This script only speaks HTTP to it. It measures the import rate
of image-classification tasks, then every annotator loops `GET /api/projects/{id}/next/` →
`POST /api/tasks/{id}/annotations/` and we count tasks handed to two annotators although the
project wants one annotation per task (maximum_annotations=1, LS's default). Last line:
`labelstudio_anchor: import <x> tasks/s; <y> cycles/s p99 next <z> ms; <w>% tasks handed to
two annotators (<dialect>, <n> annotators)`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from _server import Postgres, free_port, machine

LABEL_CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<Choices name="choice" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices>'
    "</View>"
)
PASSWORD = "Anchor-bench-pass-7431"
# Variables LS reads (also with LABEL_STUDIO_/HEARTEX_ prefixes) that must not leak in from the
# caller's shell and change what "default" means.
_LS_ENV = {"HOST", "PORT", "USERNAME", "PASSWORD", "USER_TOKEN", "DATABASE_NAME", "DJANGO_DB"}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LabelStudio:
    """`label-studio start` on loopback with a fresh data dir and an admin with a legacy token."""

    def __init__(self, executable: str, postgres: Postgres | None = None) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="ls-anchor-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(20)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _LS_ENV
            and not k.startswith(("LABEL_STUDIO_", "HEARTEX_"))
            and k not in {"PYTHONPATH", "VIRTUAL_ENV"}
        }
        env["LABEL_STUDIO_BASE_DATA_DIR"] = str(self.data_dir)
        if postgres is not None:
            cluster = postgres.cluster
            env.update(
                DJANGO_DB="default",
                POSTGRE_NAME="assay_bench",
                POSTGRE_USER=cluster.superuser,
                POSTGRE_PASSWORD="unused-trust-auth",
                POSTGRE_HOST="127.0.0.1",
                POSTGRE_PORT=str(cluster.port),
            )
        self.log_path = self.data_dir / "server.log"
        self._log = self.log_path.open("wb")
        started = time.monotonic()
        # The admin account and its legacy API token come from LS's own start flags; the
        # organization gets legacy tokens enabled so annotators can use `Token <t>` as well.
        self.proc = subprocess.Popen(
            [
                executable,
                "start",
                "--no-browser",
                "--port",
                str(self.port),
                "--username",
                "admin@anchor.test",
                "--password",
                PASSWORD,
                "--user-token",
                self.token,
                "--enable-legacy-api-token",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 900  # first start runs all migrations
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"label-studio exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    self.startup_seconds = time.monotonic() - started
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"label-studio did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=900, headers={"Authorization": f"Token {self.token}"}
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def ok(response: httpx.Response) -> dict:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response.json()


def import_tasks(api: httpx.Client, project_id: int, tasks: int, batch: int) -> float:
    """POST /api/projects/{id}/import in batches; returns tasks per second."""
    started = time.monotonic()
    for start in range(0, tasks, batch):
        size = min(tasks, start + batch) - start
        body = [{"image": f"https://example.test/{i}.jpg"} for i in range(start, start + size)]
        created = ok(api.post(f"/api/projects/{project_id}/import", json=body))
        if created["task_count"] != size:
            raise RuntimeError(f"import created {created['task_count']} of {size} tasks")
    return tasks / (time.monotonic() - started)


def sign_up(url: str, invite_url: str, email: str) -> str:
    """An annotator joins through the organization's invite link; returns their API token."""
    with httpx.Client(base_url=url, timeout=300) as browser:
        browser.get(invite_url).raise_for_status()  # sets the csrftoken cookie
        response = browser.post(
            invite_url,
            data={
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                "email": email,
                "password": PASSWORD,
            },
        )
        if response.status_code != 302:
            raise RuntimeError(f"signup of {email}: {response.status_code} {response.text[:300]}")
        return ok(browser.get("/api/current-user/token"))["token"]


@dataclass
class Grant:
    task_id: int
    user: str
    sent: float  # client monotonic clock
    received: float


@dataclass
class Submit:
    task_id: int
    user: str
    sent: float
    done: float


@dataclass
class Results:
    duration: float = 0.0
    grants: list[Grant] = field(default_factory=list)
    submits_ok: list[Submit] = field(default_factory=list)
    next_latencies: list[float] = field(default_factory=list)
    submit_latencies: list[float] = field(default_factory=list)
    empty: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def cycles_per_second(self) -> float:
        return len(self.submits_ok) / self.duration if self.duration else 0.0

    def percentile(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[max(0, int(len(ordered) * q) - 1)] * 1000 if ordered else 0.0


def choice_result(task_id: int) -> list[dict]:
    label = "cat" if task_id % 2 else "dog"
    return [
        {
            "from_name": "choice",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


async def _annotator(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    user: str,
    project_id: int,
    deadline: float,
    results: Results,
) -> None:
    headers = {"Authorization": f"Token {token}"}
    while time.monotonic() < deadline:
        sent = time.monotonic()
        try:
            async with session.get(f"{base}/api/projects/{project_id}/next/", headers=headers) as r:
                body = await r.read()
                status = r.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            results.errors.append(f"next {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.5)
            continue
        received = time.monotonic()
        results.next_latencies.append(received - sent)
        if status == 404:
            results.empty += 1
            await asyncio.sleep(0.5)
            continue
        if status != 200:
            results.errors.append(f"next {status} {body[:200]!r}")
            await asyncio.sleep(0.5)
            continue
        task_id = json.loads(body)["id"]
        results.grants.append(Grant(task_id, user, sent, received))
        started = time.monotonic()
        try:
            async with session.post(
                f"{base}/api/tasks/{task_id}/annotations/",
                headers=headers,
                json={"result": choice_result(task_id), "lead_time": received - sent},
            ) as r:
                body = await r.read()
                status = r.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            results.errors.append(f"submit {type(exc).__name__}: {exc}")
            continue
        done = time.monotonic()
        results.submit_latencies.append(done - started)
        if status == 201:
            results.submits_ok.append(Submit(task_id, user, started, done))
        else:
            results.errors.append(f"submit {status} task {task_id} by {user}: {body[:200]!r}")


async def run(url: str, annotators: list[tuple[str, str]], project_id: int, seconds: float):
    """Every annotator loops next → submit until `seconds` ran out; in-flight cycles finish."""
    results = Results()
    connector = aiohttp.TCPConnector(limit=0)
    # LS's next-task latency reaches tens of seconds on SQLite: don't cut requests short.
    timeout = aiohttp.ClientTimeout(total=900)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _annotator(session, url, token, user, project_id, deadline, results)
                for user, token in annotators
            )
        )
        results.duration = time.monotonic() - started
    return results


def double_handouts(results: Results) -> tuple[int, set[int], set[int], set[int]]:
    """Tasks handed out; those handed to ≥2 annotators; of those, the ones whose holds overlap
    (each annotator's /next was sent before the other's submit returned, so the server may have
    granted it while the other's lock existed); and the ones certainly held by two at the same
    moment (each got the task before the other had even started submitting)."""
    by_task: dict[int, list[Grant]] = defaultdict(list)
    for grant in results.grants:
        by_task[grant.task_id].append(grant)
    submits = {(s.task_id, s.user): s for s in results.submits_ok}
    to_two: set[int] = set()
    overlapping: set[int] = set()
    certain: set[int] = set()
    for task_id, grants in by_task.items():
        if len({g.user for g in grants}) < 2:
            continue
        to_two.add(task_id)
        for a in grants:
            for b in grants:
                if a.user == b.user:
                    continue
                a_submit = submits.get((task_id, a.user))
                b_submit = submits.get((task_id, b.user))
                a_sent = a_submit.sent if a_submit else math.inf
                b_sent = b_submit.sent if b_submit else math.inf
                a_done = a_submit.done if a_submit else math.inf
                b_done = b_submit.done if b_submit else math.inf
                if b.sent < a_done and a.sent < b_done:
                    overlapping.add(task_id)
                if b.received <= a_sent and a.received <= b_sent:
                    certain.add(task_id)
    return len(by_task), to_two, overlapping, certain


def annotation_counts(api: httpx.Client, project_id: int, task_ids: set[int]) -> dict:
    """What LS itself stored: project counters and annotations of the doubly handed tasks."""
    project = ok(api.get(f"/api/projects/{project_id}/"))
    with_two = sum(1 for t in task_ids if len(ok(api.get(f"/api/tasks/{t}/annotations/"))) >= 2)
    return {
        "total_annotations": project["total_annotations_number"],
        "tasks_with_annotations": project["num_tasks_with_annotations"],
        "tasks_with_two_or_more": with_two,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ls", required=True, help="path to the label-studio executable")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="tasks per import request")
    args = parser.parse_args()
    dialect = "postgresql" if args.postgres else "sqlite"

    print(f"machine: {machine()}")
    print(f"load before: {uptime()}")
    postgres = Postgres() if args.postgres else None
    server = LabelStudio(args.ls, postgres)
    try:
        with server.admin() as api:
            version = ok(api.get("/api/version/")).get("release", "?")
            print(
                f"Label Studio {version}; {dialect}; server ready in {server.startup_seconds:.0f}s"
            )
            project = ok(
                api.post(
                    "/api/projects/",
                    json={"title": f"anchor-{time.time_ns()}", "label_config": LABEL_CONFIG},
                )
            )
            print(
                "project defaults: "
                + ", ".join(
                    f"{k}={project.get(k)}"
                    for k in ("maximum_annotations", "sampling", "skip_queue", "show_overlap_first")
                )
            )
            import_rate = import_tasks(api, project["id"], args.tasks, args.batch)
            print(
                f"import: {args.tasks} tasks in batches of {args.batch}: {import_rate:.0f} tasks/s"
            )
            invite_url = ok(api.get("/api/invite"))["invite_url"]
            stamp = time.time_ns()
            accounts = []
            for i in range(args.annotators):
                email = f"annotator{i}-{stamp}@anchor.test"
                accounts.append((email, sign_up(server.url, invite_url, email)))
            print(f"{len(accounts)} annotators signed up through the invite link")
            print(f"load at queue start: {uptime()}")
            cpu_before = cpu_seconds(server.proc.pid)
            results = asyncio.run(run(server.url, accounts, project["id"], args.seconds))
            server_cpu = cpu_seconds(server.proc.pid) - cpu_before
            handed, to_two, overlapping, certain = double_handouts(results)
            stored = annotation_counts(api, project["id"], to_two)
    finally:
        server.stop()
        if postgres:
            postgres.stop()

    p50 = statistics.median(results.next_latencies) * 1000 if results.next_latencies else 0
    p99 = results.percentile(results.next_latencies, 0.99)
    share = 100 * len(to_two) / handed if handed else 0.0
    print(f"load after: {uptime()}")
    print(
        f"{args.annotators} annotators, {args.seconds:.0f}s window, {results.duration:.1f}s "
        f"until in-flight cycles finished; LS server CPU {server_cpu:.0f}s "
        f"({100 * server_cpu / max(results.duration, 1e-9):.0f}% of one core)"
    )
    print(
        f"submits acknowledged {len(results.submits_ok)}, next answers {len(results.grants)}, "
        f"empty queue answers {results.empty}, errors {len(results.errors)} {results.errors[:3]}"
    )
    print(
        f"next p50 {p50:.0f} ms, p99 {p99:.0f} ms, max "
        f"{max(results.next_latencies, default=0) * 1000:.0f} ms; submit p50 "
        f"{statistics.median(results.submit_latencies or [0]) * 1000:.0f} ms, p99 "
        f"{results.percentile(results.submit_latencies, 0.99):.0f} ms"
    )
    print(
        f"tasks handed out {handed}; to >=2 different annotators {len(to_two)} ({share:.1f}%), "
        f"of which with overlapping holds {len(overlapping)}, certainly held by two at the "
        f"same moment {len(certain)}"
    )
    extra = stored["total_annotations"] - stored["tasks_with_annotations"]
    print(
        f"LS stored {stored['total_annotations']} annotations on "
        f"{stored['tasks_with_annotations']} tasks (maximum_annotations=1): {extra} extra; "
        f"tasks with >=2 annotations {stored['tasks_with_two_or_more']}"
    )
    print(
        f"labelstudio_anchor: import {import_rate:.0f} tasks/s; {results.cycles_per_second:.1f} "
        f"cycles/s p99 next {p99:.0f} ms; {share:.1f}% tasks handed to two annotators "
        f"({dialect}, {args.annotators} annotators)"
    )


if __name__ == "__main__":
    main()
