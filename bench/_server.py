"""Benchmark helpers: a seeded data directory and a real `assay serve` on loopback."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from assay.core import keys, migrate, schemas, users
from assay.core.db import Database

# Benchmarks reuse the test harness's helpers (PostgreSQL cluster, simulated labelers).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(database_url: str) -> str:
    """Migrate and create an admin with a live key; returns the key."""
    db = Database(database_url)
    migrate.upgrade(db)
    with db.write() as session:
        user = users.create_user(
            session=session,
            user_in=schemas.UserCreate(email=f"bench-{time.time_ns()}@example.test", role="admin"),
        )
        _, raw = keys.create_key(session=session, user=user, mode="live")
    db.dispose()
    return raw


class Postgres:
    """A throwaway, durable PostgreSQL cluster on loopback (the test harness's)."""

    def __init__(self) -> None:
        from tests.support.postgres import PostgresCluster, find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
        self.cluster = PostgresCluster(bindir, durable=True)
        self.cluster.start()
        engine = sa.create_engine(self.cluster.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE assay_bench")
        engine.dispose()
        self.url = self.cluster.url("assay_bench")

    def stop(self) -> None:
        self.cluster.stop()


class Server:
    def __init__(
        self,
        database_url: str | None = None,
        *,
        seed_admin: bool = True,
        processes: int = 1,
        **env: str,
    ) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="assay-bench-"))
        self.database_url = database_url or f"sqlite:///{self.data_dir}/assay.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = seed(self.database_url) if seed_admin else ""
        full_env = {
            **os.environ,
            "ASSAY_DATA_DIR": str(self.data_dir),
            "ASSAY_DATABASE_URL": self.database_url,
            "ASSAY_LOG_LEVEL": "WARNING",
            **env,
        }
        # The server's log goes to a file: a pipe nobody reads would stop the server once
        # full. Shown if it does not start.
        self.log = self.data_dir / "serve.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "assay",
                    "serve",
                    "--port",
                    str(self.port),
                    *(["--processes", str(processes)] if processes > 1 else []),
                ],
                env=full_env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"assay serve did not become ready; its log ends:\n{tail}")

    def api(self) -> httpx.Client:
        """A client for the native API, authenticated as the seeded admin."""
        return httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=600,
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def logged_in_page(playwright, url: str, email: str, password: str, *, height: int = 800):
    """Headless Chromium (Debian's) at `url`, through the login form: (browser, page)."""
    from tests.web.conftest import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    if executable is None:
        raise SystemExit("Chromium not found: apt-get install chromium")
    browser = playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
    page = browser.new_page(viewport={"width": 1280, "height": height})
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return browser, page
