"""The official `scale-nucleus` client, run unchanged in its own venv against a live server.

Issue 16 asks that two release lines work against `<server>/v1/nucleus`: 0.22.x (current)
and 0.18.x. Their pins clash with the dev extra and with each other, so each line lives in
its own venv at the repo root, `.venv-nucleus-<line>`, built by `make nucleus-envs` from
`tests/compat/nucleus/requirements-<line>.txt` (`make test` builds them first). Set
ASSAY_NUCLEUS_ENVS to a directory holding the venvs to use others (e.g. /work/main's).

Conventions of `run_client(line, server_url, api_key, code, *, script=None, args=None)`:
- The code runs in a process of its own of that venv's python, through
  tests/compat/nucleus/scripts/_driver.py: forked, for each call, from one driver per line
  and test worker that has imported the client already (`--fork-server`; a fresh
  interpreter and `import nucleus` were most of a call's time), with these names bound:
  `nucleus` (the package), `client` (`nucleus.NucleusClient(api_key=api_key,
  endpoint=f"{server_url}/v1/nucleus")`) and `args` (the `args` mapping, sent as JSON: `{}`
  when not given).
  `script=` (a path, or a file name under tests/compat/nucleus/scripts/) runs a file
  instead of `code`, with the same names.
- The code sets `result` to what the test should see; it travels back as JSON. Client
  objects are rendered through their `to_payload()` / `dict()` / `to_json()`, else
  dataclass fields, else `repr`. So prefer returning plain values: `result =
  {"id": ds.id, "name": ds.name}`.
- If the code raises, `run_client` raises `ClientRaised` here with the client's exception
  class name (`type`, e.g. "NucleusAPIError"), its module, message, and `status` (the
  client's `status_code` attribute: the HTTP status for NucleusAPIError, else None).
- Everything the client prints (tqdm bars, logs, `print` in the snippet) goes to stderr,
  kept on `ClientRaised.stderr` and in the assertion message of a crashed driver.
- NUCLEUS_API_KEY and NUCLEUS_ENDPOINT are set to the test's values, so nothing can
  reach Scale's production endpoint even if a snippet builds its own client.
- The client retries 503/504/520/524 with sleeps of up to ~80 s in total: a test
  expecting those codes should keep in mind the retries (see docs/nucleus-wire.md).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tests" / "compat" / "nucleus" / "scripts"
DRIVER = SCRIPTS / "_driver.py"
LINES = ("0.22", "0.18")


class ClientRaised(Exception):
    """The snippet raised inside the client env: the client's exception, as data."""

    def __init__(self, type: str, module: str, message: str, status: int | None, stderr: str):
        super().__init__(f"{module}.{type} (status {status}): {message}")
        self.type = type
        self.module = module
        self.message = message
        self.status = status
        self.stderr = stderr


@dataclass(frozen=True)
class ClientEnv:
    line: str
    python: Path
    requirements: Path

    def pinned_version(self) -> str:
        """The scale-nucleus version its requirements file pins."""
        for raw in self.requirements.read_text().splitlines():
            if raw.startswith("scale-nucleus=="):
                return raw.split("==", 1)[1].strip()
        raise AssertionError(f"{self.requirements} pins no scale-nucleus")


def _required() -> bool:
    # Same switch as PostgreSQL's: `make test` and CI must not silently skip these tests.
    return os.environ.get("ASSAY_TEST_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"


def client_env(line: str) -> ClientEnv:
    """The venv of one release line; skips (fails under `make test`/CI) when it is missing."""
    if line not in LINES:
        raise ValueError(f"unknown scale-nucleus line {line!r}; known: {LINES}")
    root = Path(os.environ.get("ASSAY_NUCLEUS_ENVS") or REPO)
    python = root / f".venv-nucleus-{line}" / "bin" / "python"
    requirements = REPO / "tests" / "compat" / "nucleus" / f"requirements-{line}.txt"
    if not (python.parent.parent / ".installed").exists():
        message = f"{python.parent.parent} is not built: run `make nucleus-envs`"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    return ClientEnv(line, python, requirements)


def run_client(
    line: str,
    server_url: str,
    api_key: str,
    code: str | None = None,
    *,
    script: str | Path | None = None,
    args: Mapping[str, Any] | None = None,
    timeout: float = 300,
) -> Any:
    """Run `code` (or `script`) with the `line` client against `server_url`; return `result`.

    Raises ClientRaised when the client (or the snippet) raised. See the module docstring.
    """
    if (code is None) == (script is None):
        raise ValueError("pass exactly one of code and script")
    env = client_env(line)
    if script is not None:
        path = Path(script)
        script = str(path if path.is_absolute() else SCRIPTS / path)
    endpoint = f"{server_url.rstrip('/')}/v1/nucleus"
    spec = {
        "endpoint": endpoint,
        "api_key": api_key,
        "code": code,
        "script": script,
        "args": dict(args or {}),
    }
    child_env = _base_env()
    child_env.update({"NUCLEUS_API_KEY": api_key, "NUCLEUS_ENDPOINT": endpoint})
    returncode, stdout, stderr = _fork_server(env).run(spec, child_env, timeout)
    lines = stdout.strip().splitlines()
    if returncode != 0 or not lines:
        raise AssertionError(
            f"the scale-nucleus {line} driver crashed (exit {returncode}):\n{stderr}"
        )
    out = json.loads(lines[-1])
    if out["ok"]:
        return out["value"]
    err = out["error"]
    raise ClientRaised(err["type"], err["module"], err["message"], err["status"], stderr)


def _base_env() -> dict[str, str]:
    """The client's environment: this process's, without NUCLEUS_* or our PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUCLEUS_")}
    env.pop("PYTHONPATH", None)
    return env


class _ForkServer:
    """`_driver.py --fork-server` of one line: each request runs in a child it forks."""

    def __init__(self, env: ClientEnv) -> None:
        self.proc = subprocess.Popen(
            [str(env.python), str(DRIVER), "--fork-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_base_env(),
            start_new_session=True,  # a timeout kills the server and the child it forked
        )
        self.lock = threading.Lock()
        self._read(timeout=120)  # {"ready": true} once the client is imported

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise subprocess.TimeoutExpired(self.proc.args, timeout)
        line = self.proc.stdout.readline()
        if not line:
            self.kill()
            raise AssertionError(f"the scale-nucleus fork server exited ({self.proc.poll()})")
        return json.loads(line)

    def run(
        self, spec: dict[str, Any], env: dict[str, str], timeout: float
    ) -> tuple[int, str, str]:
        assert self.proc.stdin is not None
        with self.lock:
            self.proc.stdin.write((json.dumps({"spec": spec, "env": env}) + "\n").encode())
            self.proc.stdin.flush()
            answer = self._read(timeout)
        return answer["returncode"], answer["stdout"], answer["stderr"]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.alive():
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the server's loop ends at end of input
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


_servers: dict[str, _ForkServer] = {}
_servers_lock = threading.Lock()


def _fork_server(env: ClientEnv) -> _ForkServer:
    with _servers_lock:
        server = _servers.get(env.line)
        if server is None or not server.alive():
            server = _servers[env.line] = _ForkServer(env)
        return server


@atexit.register
def _close_servers() -> None:
    for server in _servers.values():
        server.close()
