"""A large body is parsed and checked off the event loop: while an 11 MB submission is being
processed, a small request to the same `assay serve` is answered (before the large one)."""

from __future__ import annotations

import json
import random
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assay.core.settings import Settings
from tests.support.polling import wait_for
from tests.support.servers import LiveServer

pytestmark = pytest.mark.live

API = "/api/v1"
TAXONOMY = {"labels": [{"name": "car", "geometries": ["polygon"]}]}


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(settings, tmp_path / "serve.log")
    try:
        yield live
    finally:
        live.stop()


def _leased_task(server: LiveServer, accounts) -> tuple[str, str, str]:
    """(task id, lease token, labeler key) of a task leased by a labeler."""
    manager, labeler = accounts.make("manager"), accounts.make("labeler")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        project = http.post(
            f"{API}/projects",
            json={
                "name": "big",
                "task_type": "image",
                "taxonomy": TAXONOMY,
                "params": {"image_width": 640, "image_height": 480},
            },
            headers=manager.headers,
        ).json()
        added = http.put(
            f"{API}/projects/{project['id']}/members/{labeler.user.id}",
            json={"role": "labeler"},
            headers=manager.headers,
        )
        assert added.status_code < 300, added.text
        created = http.post(
            f"{API}/projects/{project['id']}/tasks/bulk",
            json={"tasks": [{"params": {"attachment": "https://example.test/1.jpg"}}]},
            headers=manager.headers,
        )
        assert created.status_code == 201, created.text
        lease = http.post(
            f"{API}/projects/{project['id']}/queue/next", headers=labeler.headers
        ).json()
    return lease["task"]["id"], lease["lease_token"], labeler.key


def _large_submission(token: str) -> bytes:
    rng = random.Random(7)
    annotations = [
        {
            "type": "polygon",
            "label": "car",
            "vertices": [
                {"x": round(rng.uniform(0, 639), 2), "y": round(rng.uniform(0, 479), 2)}
                for _ in range(200)
            ],
        }
        for _ in range(2_000)
    ]
    body = json.dumps({"lease_token": token, "response": {"annotations": annotations}})
    return body.encode()


def _unread_by_server(server_port: int, client_port: int) -> int | None:
    """Bytes the kernel holds for the server's side of a connection (its rx_queue)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == server_port and (
                int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                return int(fields[4].split(":")[1], 16)
    return None


def _request(host: str, port: int, head: str) -> socket.socket:
    conn = socket.create_connection((host, port))
    conn.sendall(head.encode())
    return conn


def _read_response(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the kernel's TCP table")
def test_a_small_request_is_answered_while_an_11_mb_submit_is_processed(server, accounts):
    task_id, token, key = _leased_task(server, accounts)
    body = _large_submission(token)
    assert len(body) > 10 * 1024 * 1024
    host, port = "127.0.0.1", server.port

    # The whole body but its last byte, and wait until the server has read all of it: the
    # last byte then starts the processing, with nothing else left to read.
    large = _request(
        host,
        port,
        f"POST {API}/tasks/{task_id}/submit HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n",
    )
    large.sendall(body[:-1])
    client_port = large.getsockname()[1]
    wait_for(lambda: _unread_by_server(port, client_port) == 0, timeout=60)
    with httpx.Client(base_url=server.url, timeout=120) as http:
        assert http.get("/healthz").status_code == 200  # the loop went round; connected
        large.sendall(body[-1:])
        # Small requests, one after another, until the large one's answer is there: each
        # answered before it counts. With the large body parsed and checked on the event
        # loop (SQLite runs queue work there), none was.
        answered = 0
        while not select.select([large], [], [], 0)[0]:
            assert http.get("/healthz").status_code == 200
            if not select.select([large], [], [], 0)[0]:
                answered += 1
    print(f"small requests answered while the large one was processed: {answered}")
    assert answered >= 10

    answer = _read_response(large)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:500]
    assert b'"status":"completed"' in answer
    large.close()
