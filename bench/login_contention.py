"""A labeler's heartbeat while others fail to sign in, against a real `assay serve`.

    python bench/login_contention.py [--attackers 8] [--beats 60] [--postgres]

The server hashes passwords at the production cost (Argon2id, 64 MiB). A labeler holds a
lease and sends heartbeats (a short write) one after another: first alone, then while
`--attackers` threads post wrong passwords to /login as fast as the server answers. A hash
checked inside the write transaction holds SQLite's one writer for its ~0.1-0.3 s, and the
heartbeat queues behind it; checked outside, the heartbeat only shares the CPU. Last line:
`login_contention: heartbeat p50 <ms> ms p95 <ms> ms alone, p50 <ms> ms p95 <ms> ms with N
bad logins at once (<n> logins)`.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import httpx
from _server import Postgres, Server, machine

TAXONOMY = {"labels": [{"name": "cat"}, {"name": "dog"}]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def beats(client: httpx.Client, task_id: str, token: str, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post(f"/tasks/{task_id}/heartbeat", json={"lease_token": token})
        response.raise_for_status()
        took.append((time.perf_counter() - started) * 1000)
    return took


def attack(url: str, stop: threading.Event, counter: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            form = client.get("/login")
            client.post(
                "/login",
                data={
                    "email": "labeler@example.test",
                    "password": "not-the-password",
                    "csrf": form.cookies.get("assay_login_csrf", ""),
                },
                follow_redirects=False,
            )
            counter[0] += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attackers", type=int, default=8)
    parser.add_argument("--beats", type=int, default=60)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    pg = Postgres() if args.postgres else None
    # No lockout: the point is the cost of each check, not how soon an attacker is stopped.
    server = Server(
        pg.url if pg else None,
        ASSAY_LOGIN_MAX_FAILURES_PER_ACCOUNT="0",
        ASSAY_LOGIN_MAX_FAILURES_PER_ADDRESS="0",
        ASSAY_WORKERS="0",
    )
    try:
        with server.api() as admin:
            project = admin.post(
                "/projects",
                json={"name": "bench", "task_type": "categorization", "taxonomy": TAXONOMY},
            ).json()
            admin.post(
                f"/projects/{project['id']}/tasks",
                json={"params": {"text": "a cat or a dog?"}},
            ).raise_for_status()
            labeler = admin.post(
                "/users",
                json={"email": "labeler@example.test", "role": "labeler", "password": "pw-123456"},
            ).json()
            admin.put(
                f"/projects/{project['id']}/members/{labeler['id']}", json={"role": "labeler"}
            ).raise_for_status()
            key = admin.post("/keys", json={"user_id": labeler["id"], "mode": "live"}).json()
        headers = {"Authorization": f"Bearer {key['key']}"}
        with httpx.Client(base_url=server.url + "/api/v1", headers=headers, timeout=60) as me:
            lease = me.post(f"/projects/{project['id']}/queue/next").json()
            task_id, token = lease["task"]["id"], lease["lease_token"]
            beats(me, task_id, token, 5)  # warm up
            alone = beats(me, task_id, token, args.beats)
            stop, counter = threading.Event(), [0]
            threads = [
                threading.Thread(target=attack, args=(server.url, stop, counter))
                for _ in range(args.attackers)
            ]
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # every attacker mid-hash
            contended = beats(me, task_id, token, args.beats)
            stop.set()
            for thread in threads:
                thread.join()
    finally:
        server.stop()
        if pg:
            pg.stop()
    dialect = "postgresql" if pg else "sqlite"
    print(f"# {machine()}, {dialect}")
    print(
        f"login_contention: heartbeat p50 {statistics.median(alone):.1f} ms "
        f"p95 {percentile(alone, 0.95):.1f} ms alone, "
        f"p50 {statistics.median(contended):.1f} ms p95 {percentile(contended, 0.95):.1f} ms "
        f"with {args.attackers} bad logins at once ({counter[0]} logins)"
    )


if __name__ == "__main__":
    main()
