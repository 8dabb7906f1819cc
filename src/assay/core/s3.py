"""S3-compatible blob store (AWS S3, MinIO, Ceph, R2 …). boto3 comes with `assay[s3]`.

Credentials come from the standard AWS chain (environment, shared config, instance role);
the store URL carries only where to talk to:
`s3://bucket/prefix?endpoint_url=http://host:9000&region=us-east-1&addressing_style=path`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from assay.core.blobs import CHUNK, check_sha256
from assay.core.errors import NotFound, Unavailable

URL_OPTIONS = ("endpoint_url", "region", "addressing_style")
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    """Objects at <prefix>/<ab>/<cd>/<sha256> in one bucket."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str | None = None,
    ) -> None:
        try:
            import boto3
            import boto3.exceptions
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError as exc:
            raise RuntimeError("the S3 blob store needs boto3: pip install 'assay[s3]'") from exc
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # Self-hosted endpoints (MinIO, moto, Ceph) rarely resolve bucket subdomains.
        style = addressing_style or ("path" if endpoint_url else "auto")
        config = Config(
            s3={"addressing_style": style}, retries={"mode": "standard", "max_attempts": 3}
        )
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self._transfer = TransferConfig(
            multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024
        )
        self._failures: tuple[type[Exception], ...] = (
            BotoCoreError,
            boto3.exceptions.S3UploadFailedError,
        )
        self._client_error = ClientError

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an S3 store URL (s3://bucket/prefix?...): {url!r}")
        options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = sorted(set(options) - set(URL_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} in ASSAY_BLOB_STORE_URL; known: {list(URL_OPTIONS)}"
            )
        if options.get("addressing_style", "path") not in ("auto", "path", "virtual"):
            raise ValueError("addressing_style must be auto, path or virtual")
        return cls(bucket=parts.netloc, prefix=parts.path, **options)

    def key_for(self, sha256: str) -> str:
        check_sha256(sha256)
        key = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _errors(self, sha256: str) -> Iterator[None]:
        """botocore failures as domain errors: a missing object is NotFound, the rest 503."""
        try:
            yield
        except self._client_error as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise NotFound(f"no stored bytes for blob {sha256}", field="sha256") from exc
            raise Unavailable(
                f"blob store error ({code or 'unknown'}) on bucket {self.bucket!r}: {exc}"
            ) from exc
        except self._failures as exc:
            raise Unavailable(f"blob store unreachable or failing: {exc}") from exc

    def put_file(self, sha256: str, path: Path) -> None:
        if self.exists(sha256):
            return
        with self._errors(sha256):
            # A completed PutObject / CompleteMultipartUpload is durable in S3.
            self.client.upload_file(
                str(path), self.bucket, self.key_for(sha256), Config=self._transfer
            )

    def exists(self, sha256: str) -> bool:
        try:
            self.size(sha256)
        except NotFound:
            return False
        return True

    def open(self, sha256: str, *, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        if length == 0:
            self.size(sha256)  # still NotFound for a missing object
            return iter(())
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key_for(sha256)}
        if length is not None:
            request["Range"] = f"bytes={start}-{start + length - 1}"
        elif start:
            request["Range"] = f"bytes={start}-"
        with self._errors(sha256):
            # Eager, so a missing object is NotFound before any response starts.
            body = self.client.get_object(**request)["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                with self._errors(sha256):
                    yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks()

    def size(self, sha256: str) -> int:
        with self._errors(sha256):
            head = self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256))
        return int(head["ContentLength"])

    def delete(self, sha256: str) -> None:
        with self._errors(sha256):
            self.client.delete_object(Bucket=self.bucket, Key=self.key_for(sha256))
