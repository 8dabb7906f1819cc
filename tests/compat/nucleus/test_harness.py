"""The harness itself: each pinned client line runs in its env, reaches the live server at
`/v1/nucleus` with HTTP Basic, and its exceptions come back as data."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account
from tests.support.nucleus_clients import LINES, ClientRaised, client_env, run_client
from tests.support.servers import LiveServer

pytestmark = pytest.mark.live


def test_each_line_runs_its_pinned_client(nucleus_line: str) -> None:
    env = client_env(nucleus_line)
    # No server needed: the snippet reads what is installed in the env it ran in.
    got = run_client(
        nucleus_line,
        "http://127.0.0.1:9",
        "unused",
        "import importlib.metadata as m\n"
        "result = {'version': m.version('scale-nucleus'), 'endpoint': client.endpoint,"
        " 'echo': args['echo']}",
        args={"echo": [1, "two"]},
    )
    assert got == {
        "version": env.pinned_version(),
        "endpoint": "http://127.0.0.1:9/v1/nucleus",
        "echo": [1, "two"],
    }


def test_unknown_job_is_the_clients_api_error_with_404(nucleus, manager: Account) -> None:
    with pytest.raises(ClientRaised) as raised:
        nucleus(manager.key, "client.get_job('job_does_not_exist')")
    assert raised.value.type == "NucleusAPIError"
    assert raised.value.module == "nucleus.errors"
    assert raised.value.status == 404
    # The client's message names the method and URL it tried, then the server's body.
    assert "Tried to get " in raised.value.message
    assert "/v1/nucleus/job/job_does_not_exist/info" in raised.value.message


def test_bad_key_is_the_clients_api_error_with_401(nucleus) -> None:
    with pytest.raises(ClientRaised) as raised:
        nucleus("not-a-key", "result = client.datasets")
    assert raised.value.type == "NucleusAPIError"
    assert raised.value.status == 401


LIMITED = """
import os
import nucleus
os.environ.pop("NUCLEUS_API_KEY")  # the client refuses a limited key beside a Basic one
limited = nucleus.NucleusClient(limited_access_key=args["key"], endpoint=client.endpoint)
made = limited.create_dataset("limited", is_scene=False)
result = {"made": made.id, "listed": [d.id for d in limited.datasets]}
try:
    nucleus.NucleusClient(limited_access_key="not-a-key", endpoint=client.endpoint).datasets
    result["bad"] = "accepted"
except nucleus.errors.NucleusAPIError as error:
    result["bad"] = error.status_code
"""


def test_a_limited_access_key_is_an_ordinary_key_on_the_nucleus_routes_only(
    nucleus, nucleus_line: str, dialect: str, manager: Account, server: LiveServer
) -> None:
    if nucleus_line != LINES[0]:
        pytest.skip(f"the {nucleus_line} client has no limited_access_key")
    if dialect != "sqlite":
        pytest.skip("reading a key from a header does not depend on the database")
    got = nucleus(manager.key, LIMITED, args={"key": manager.key})
    assert got["made"] in got["listed"] and got["bad"] == 401
    header = {"x-limited-access-key": manager.key}
    # The native API reads keys from Authorization only; both at once are refused.
    assert httpx.get(f"{server.url}/api/v1/datasets", headers=header).status_code == 401
    both = httpx.get(
        f"{server.url}/v1/nucleus/dataset/details", headers={**header, **manager.headers}
    )
    assert both.status_code == 401 and "once" in both.text
