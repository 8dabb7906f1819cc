"""A throwaway PostgreSQL cluster on loopback: initdb into a temp dir, start, stop, delete."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa


def find_bindir() -> Path | None:
    for candidate in ("pg_config",):
        exe = shutil.which(candidate)
        if exe:
            out = subprocess.run([exe, "--bindir"], capture_output=True, text=True)
            bindir = Path(out.stdout.strip())
            if (bindir / "initdb").exists():
                return bindir
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    exe = shutil.which("initdb")
    return Path(exe).resolve().parent if exe else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        self.bindir = bindir
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        # initdb refuses to run as root; run the server as the `postgres` OS user then.
        self.run_as: str | None = "postgres" if os.geteuid() == 0 else None

    @property
    def superuser(self) -> str:
        return self.run_as or pwd.getpwuid(os.geteuid()).pw_name

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        if self.run_as:
            shutil.chown(self.root, self.run_as, self.run_as)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "-U",
            self.superuser,
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c max_connections=300 "
            "-c shared_buffers=128MB"
        )
        if not self.durable:
            # Test data only: skip the fsyncs. Benchmarks and crash tests ask for durable.
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts, "-w", "start"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start; see " + str(self.root / "log"))

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class TemplateClones:
    """Fresh databases cloned from a migrated template (CREATE DATABASE … TEMPLATE), the next
    one made in the background while the current test runs, and dropped in the background.

    CREATE DATABASE copies the template's ~400 relations block by block in the server
    process: most of a PostgreSQL test's set-up, time the test's own thread can spend
    running the previous test instead. One thread does the cloning and dropping in order,
    so nothing ever connects to the template while it is being copied.
    """

    def __init__(self, cluster: PostgresCluster, template: str, *, prefix: str = "t") -> None:
        self.cluster = cluster
        self.template = template
        self.prefix = prefix
        self.admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pg-clones")
        self._ahead: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def _create(self) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:16]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return name

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def take(self) -> str:
        """The name of a fresh clone no one else has been given."""
        ready = self._ahead or self._executor.submit(self._create)
        self._ahead = self._executor.submit(self._create)
        return ready.result()

    def give_back(self, name: str) -> None:
        """Drop a clone taken from here (in the background; errors surface on the next call
        or at close)."""
        self._check_drops()
        self._drops.append(self._executor.submit(self._drop, name))

    def _check_drops(self) -> None:
        done = [f for f in self._drops if f.done()]
        self._drops = [f for f in self._drops if not f.done()]
        for future in done:
            future.result()

    def close(self) -> None:
        """Drop what is left and stop the thread; the template is free to drop after it."""
        try:
            if self._ahead is not None:
                with contextlib.suppress(Exception):
                    self._drops.append(self._executor.submit(self._drop, self._ahead.result()))
                self._ahead = None
            for future in self._drops:
                future.result()
            self._drops = []
        finally:
            self._executor.shutdown(wait=True)
            self.admin.dispose()
