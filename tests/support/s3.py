"""A real S3 endpoint on loopback for tests: `moto_server` in a subprocess.

Moto speaks the S3 wire protocol over HTTP, so the code under test goes through boto3,
botocore's signing and HTTP stack exactly as it would against AWS or MinIO.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.support.postgres import free_port

# Any values work with moto; the config-file paths keep a developer's ~/.aws out of tests.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "assay-test-key",
    "AWS_SECRET_ACCESS_KEY": "assay-test-secret",
    "AWS_CONFIG_FILE": "/nonexistent/assay-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/assay-test-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REGION = "us-east-1"


class MotoServer:
    """`python -m moto.server` on a free loopback port, with one bucket."""

    def __init__(self, log_path: Path, bucket: str = "assay-test") -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log_path

    def start(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"moto_server not listening after {timeout}s")
        self.client().create_bucket(Bucket=self.bucket)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}),
        )

    def store_url(self, prefix: str | None = None) -> str:
        """An `ASSAY_BLOB_STORE_URL` under a fresh prefix, so tests never share objects."""
        prefix = prefix or f"t-{uuid.uuid4().hex[:12]}"
        return f"s3://{self.bucket}/{prefix}?endpoint_url={self.endpoint}&region={REGION}"

    def keys(self, prefix: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
