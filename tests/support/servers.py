"""Real `assay` processes on loopback for tests that cross a process boundary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from assay.core.settings import Settings
from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[2]


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ASSAY_DATA_DIR": str(settings.data_dir),
            "ASSAY_DATABASE_URL": settings.resolved_database_url,
            "ASSAY_BLOB_STORE_URL": settings.resolved_blob_store_url,
            "ASSAY_SECRET_KEY": settings.secret_key.get_secret_value(),
            "ASSAY_PASSWORD_HASH_MEMORY_KIB": str(settings.password_hash_memory_kib),
            "ASSAY_JOB_POLL_SECONDS": str(settings.job_poll_seconds),
            "ASSAY_WARM_ROUTES": "false",  # built on first use instead: faster to start
            "ASSAY_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
            "ASSAY_JOB_RETRY_BASE_SECONDS": str(settings.job_retry_base_seconds),
            "ASSAY_OUTBOUND_ALLOW": json.dumps(settings.outbound_allow),
            "ASSAY_OUTBOUND_DENY": json.dumps(settings.outbound_deny),
            "ASSAY_QUALITY_FEEDBACK_DELAY_SECONDS": str(settings.quality_feedback_delay_seconds),
            "ASSAY_QUALITY_FEEDBACK_GROUP_SIZE": str(settings.quality_feedback_group_size),
            "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(
                os.pathsep
            ),
        }
    )
    env.update(extra)
    return env


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assay", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class LiveServer(Process):
    """`assay serve` on a free loopback port, ready when /readyz answers 200."""

    def __init__(self, settings: Settings, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env_for(settings, **env),
            log_path,
        )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()  # no server left behind when it never became ready
            raise

    def wait_ready(self, timeout: float = 120) -> None:
        # Generous: on a busy 2-core machine a start has taken over a minute, and a module's
        # tests all wait on its one server.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"assay serve exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"assay serve not ready after {timeout}s:\n{self.output()}")
