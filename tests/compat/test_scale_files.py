"""`POST /v1/files/import` as an outbound request (in process, on SQLite and PostgreSQL): who
may import by URL, the production policy refusing internal destinations before any
connection, and failures as 4xx errors on `file_url` in our words, within size and time caps.
The official client's own import against a real `assay serve` is in test_scale_v1_projects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.origin import Origin, drip, redirect, send
from tests.support.postgres import free_port

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e5273fa70000000049454e44ae426082"
)


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin(lambda handler: send(handler, 200, PNG, Content_Type="image/png")) as running:
        yield running


@pytest.fixture
def production_policy(settings) -> None:
    """The defaults an operator gets: no internal destination allowed."""
    settings.outbound_allow = []


def import_file(client, account, url: str):
    return client.post("/v1/files/import", json={"file_url": url}, headers=account.headers)


def test_managers_import_files_by_url(client, accounts, origin):
    response = import_file(client, accounts.make("manager"), f"{origin.url}/pixel.png")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attachment_url"] == f"blob:{body['id']}"
    assert body["mime_type"] == "image/png" and body["filename"] == "pixel.png"


@pytest.mark.parametrize("role", ["labeler", "reviewer"])
def test_labelers_and_reviewers_may_not_import_by_url(client, accounts, origin, role):
    account = accounts.make(role)
    for headers in (account.headers, account.test_headers):
        response = client.post(
            "/v1/files/import", json={"file_url": f"{origin.url}/pixel.png"}, headers=headers
        )
        assert response.status_code == 403, response.text
    assert origin.connections == 0


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "2130706433", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]"],
)
def test_internal_destinations_are_refused_before_any_connection(
    client, accounts, origin, production_policy, host
):
    response = import_file(client, accounts.make("admin"), f"http://{host}:{origin.port}/a.png")
    assert response.status_code == 400, response.text
    assert "not an allowed destination" in response.json()["error"]
    assert origin.connections == 0


def test_open_and_closed_internal_ports_answer_alike(client, accounts, origin, production_policy):
    manager = accounts.make("manager")
    open_port = import_file(client, manager, f"http://127.0.0.1:{origin.port}/a.png")
    closed_port = import_file(client, manager, f"http://127.0.0.1:{free_port()}/a.png")
    assert open_port.status_code == closed_port.status_code == 400
    assert open_port.json() == closed_port.json()
    assert origin.connections == 0


def test_redirects_into_the_internal_network_are_refused(client, accounts, settings, origin):
    settings.outbound_allow = ["127.0.0.1"]  # the first hop is allowed, 127.0.0.2 is not
    with Origin(redirect(f"http://127.0.0.2:{origin.port}/pixel.png")) as start:
        response = import_file(client, accounts.make("manager"), f"{start.url}/go")
    assert response.status_code == 400, response.text
    assert "not an allowed destination" in response.json()["error"]
    assert origin.connections == 0


def test_failures_are_4xx_on_file_url_without_the_remote_answer(client, accounts, settings):
    manager = accounts.make("manager")
    with Origin(lambda handler: send(handler, 404, b"db password is hunter2")) as missing:
        response = import_file(client, manager, f"{missing.url}/gone.png")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("file_url:") and "HTTP 404" in error and "hunter2" not in error

    response = import_file(client, manager, f"http://127.0.0.1:{free_port()}/a.png")
    assert response.status_code == 400
    assert response.json()["error"] == "file_url: could not fetch the URL: could not connect"

    response = import_file(client, manager, "ftp://example.com/a.png")
    assert response.status_code == 400 and "file_url" in response.json()["error"]


def test_imports_are_capped_in_size_and_time(client, accounts, settings):
    manager = accounts.make("manager")
    settings.max_upload_bytes = 1000
    with Origin(lambda handler: send(handler, 200, b"x" * 5000)) as big:
        response = import_file(client, manager, f"{big.url}/big.bin")
    assert response.status_code == 413, response.text
    assert "1000 bytes" in response.json()["error"]

    settings.file_import_timeout_seconds = 1
    with Origin(drip(seconds=60)) as slow:
        response = import_file(client, manager, f"{slow.url}/slow.bin")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == (
        "file_url: could not fetch the URL: no complete answer within 1 s"
    )
