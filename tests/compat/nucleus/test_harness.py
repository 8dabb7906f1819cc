"""The harness itself: each pinned client line runs in its env, reaches the live server at
`/v1/nucleus` with HTTP Basic, and its exceptions come back as data."""

from __future__ import annotations

import pytest

from tests.conftest import Account
from tests.support.nucleus_clients import ClientRaised, client_env, run_client

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
