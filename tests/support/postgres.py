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
from pathlib import Path


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
