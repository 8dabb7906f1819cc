"""One settings tree, read from `ASSAY_*` environment variables, with zero-config defaults."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "assay-development-secret-change-me"


def _default_data_dir() -> Path:
    return Path.home() / ".assay"


class Settings(BaseSettings):
    """Everything an operator can configure. Each field documents itself in `assay --help`."""

    model_config = SettingsConfigDict(
        env_prefix="ASSAY_", env_file=None, extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses default secrets and insecure cookies.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the SQLite database, local blobs and logs live.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default is a SQLite file in the data directory. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    blob_store_url: str | None = Field(
        None,
        description="file:///path (default: <data_dir>/blobs) or "
        "s3://bucket/prefix?endpoint_url=http://host:port&region=us-east-1",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET),
        description="Signs session cookies, CSRF tokens, media URLs. Required in production.",
    )
    max_request_bytes: int = Field(
        32 * 1024 * 1024, description="Largest JSON request body accepted (413 above)."
    )
    max_upload_bytes: int = Field(
        512 * 1024 * 1024, description="Largest file accepted by the blob upload endpoint."
    )
    max_bulk_tasks: int = Field(
        50_000,
        ge=1,
        description="Most tasks one bulk create request may carry (all or nothing); "
        "larger sets go through a file import.",
    )
    max_append_items: int = Field(
        50_000,
        ge=1,
        description="Most items one dataset append may carry (all or nothing); larger sets go "
        "in several appends or through a file import.",
    )
    media_url_ttl_seconds: int = Field(300, description="How long a signed media URL stays valid.")
    session_ttl_seconds: int = Field(14 * 24 * 3600, description="How long a browser login lasts.")
    auth_cache_seconds: float = Field(
        5.0,
        description="How long a process may reuse an API key lookup; a revoked key or "
        "deactivated user is refused by every process within this time (0: no cache).",
    )
    queue_concurrency: int = Field(
        4,
        ge=1,
        description="Queue requests (next task, submit) each server process works on at once; "
        "the rest wait their turn. They are short database transactions: more at once only "
        "contend for the interpreter and SQLite's single writer (bench/labeling_queue.py). On "
        "PostgreSQL it is also the number of connections each process keeps for them.",
    )
    page_size_default: int = Field(50, description="Default page size of list endpoints.")
    page_size_max: int = Field(1000, description="Largest page size a client may ask for.")
    workers: int = Field(
        2, ge=0, description="Job worker threads inside `assay serve` (0: run `assay worker`)."
    )
    job_poll_seconds: float = Field(0.5, description="How often idle workers look for jobs.")
    warm_routes: bool = Field(
        True,
        description="Build every route's request handling when the server starts, so that no "
        "first request to a group of endpoints pays for it (the tests' servers skip it to "
        "start faster).",
    )
    job_lease_seconds: float = Field(
        30.0, description="A running job whose worker stops heartbeating is retried after this."
    )
    job_retry_base_seconds: float = Field(
        2.0, description="First retry delay of a failed job; doubles with each attempt."
    )
    job_retry_max_seconds: float = Field(3600.0, description="Upper bound of the retry delay.")
    compute: Literal["local", "ray"] = Field(
        "local",
        description="Where batch compute (computing embeddings, running hosted models) runs: "
        "`local`, in the job's worker thread; `ray`, as Ray tasks (the `ray` extra) on the "
        "cluster RAY_ADDRESS names, else on a local Ray instance.",
    )
    compute_in_flight: int = Field(
        8, ge=1, description="With ASSAY_COMPUTE=ray: batches of one job running at once."
    )
    webhook_timeout_seconds: float = Field(10.0, description="Timeout of one webhook attempt.")
    webhook_max_attempts: int = Field(8, description="Attempts before a delivery is failed.")
    outbound_allow: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("ASSAY_OUTBOUND_ALLOW", "ASSAY_WEBHOOK_ALLOW"),
        description="Hosts or CIDRs the server may send requests to although the built-in "
        "deny list covers them (internal webhook receivers, model servers): e.g. "
        '["10.0.0.5", "*.corp.example"]. Outbound requests are file imports, webhooks, '
        "callbacks. Old name: ASSAY_WEBHOOK_ALLOW.",
    )
    outbound_deny: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("ASSAY_OUTBOUND_DENY", "ASSAY_WEBHOOK_DENY"),
        description="Hosts or CIDRs refused in addition to the built-in deny list (loopback, "
        "private, link-local, unique-local, unspecified, multicast, reserved); they win over "
        "ASSAY_OUTBOUND_ALLOW. Old name: ASSAY_WEBHOOK_DENY.",
    )
    file_import_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest a file import by URL may take in all (the request waits for it); "
        "its size is capped by max_upload_bytes.",
    )
    default_image_embedder: str = Field(
        "tiny-image",
        min_length=1,
        description="The registered embedder a dataset's image index is computed with when "
        "none is named (Nucleus's create_image_index and continuous indexing); its space is "
        "named after it.",
    )
    import_root: Path | None = Field(
        None,
        description="A server directory whose folders a dataset import may read by path "
        "(`path` instead of an uploaded file); unset, no folder imports. Paths that lead "
        "outside it (.., symbolic links) are refused.",
    )
    max_import_expanded_bytes: int = Field(
        32 * 1024**3,
        ge=1,
        description="Most bytes the files of one archive (or folder) import may add up to "
        "once decompressed; each file is also capped by max_upload_bytes.",
    )
    max_import_entries: int = Field(
        1_000_000, ge=1, description="Most entries one archive (or folder) import may hold."
    )
    quality_feedback_delay_seconds: float = Field(
        6 * 3600.0,
        ge=0,
        description="A labeler's own evaluation (gold) results reach their dashboard and "
        "standing only once this old, on an hourly clock (finer when the delay is under an "
        "hour), so their figures before and after a submit are the same whether it was a gold "
        "task or not. Managers and reviewers see every result at once (0: no delay).",
    )
    quality_feedback_group_size: int = Field(
        5,
        ge=1,
        description="A labeler's own evaluation results are shown in groups of this many "
        "attempts, in the order submitted: their accuracy moves by a whole group's mean, "
        "never by one task's score.",
    )
    plugins: list[str] = Field(
        default_factory=list,
        description="Python modules imported at start; they register job kinds, "
        "storage backends and other extensions.",
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    log_level: str = Field("INFO", description="Root log level.")
    password_hash_memory_kib: int = Field(
        65536, description="Argon2id memory cost per password hash."
    )
    password_hash_concurrency: int = Field(
        1,
        ge=1,
        description="Password checks each server process runs at once; more sign-ins wait "
        "their turn, so a burst of them cannot starve other requests of CPU.",
    )
    login_max_failures_per_account: int = Field(
        5,
        ge=0,
        description="Failed sign-ins to one email within `login_failure_window_seconds` that "
        "lock it for `login_lockout_seconds` (known and unknown emails alike; 0: no limit).",
    )
    login_max_failures_per_address: int = Field(
        50,
        ge=0,
        description="Failed sign-ins from one client address within the window that lock "
        "that address out (behind a proxy, every client may share one address; 0: no limit).",
    )
    login_failure_window_seconds: float = Field(
        900.0, gt=0, description="The window over which failed sign-ins are counted."
    )
    login_lockout_seconds: float = Field(
        900.0,
        ge=0,
        description="How long an account or address stays locked after too many "
        "failed sign-ins; then the count starts over.",
    )

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        if self.environment != "development" and (
            self.secret_key.get_secret_value() == DEFAULT_SECRET
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "ASSAY_SECRET_KEY must be set to a random string of at least 32 characters "
                "when ASSAY_ENVIRONMENT=production (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)"
            )
        return self

    def refuse_default_secret_beyond_loopback(self, host: str) -> None:
        """The development secret is public: with it anyone could forge sessions and media
        URLs, so a server that listens beyond this machine must have its own."""
        if self.secret_key.get_secret_value() != DEFAULT_SECRET or is_loopback(host):
            return
        raise ValueError(
            f"refusing to listen on {host} with the development secret key, which anyone can "
            "read in Assay's source: set ASSAY_SECRET_KEY to a random string of 32 characters "
            "or more (e.g. `export ASSAY_SECRET_KEY=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')`), or listen on 127.0.0.1 only"
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'assay.db'}"

    @property
    def resolved_blob_store_url(self) -> str:
        return self.blob_store_url or (self.data_dir / "blobs").resolve().as_uri()


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1, localhost); a name that is
    not `localhost` may resolve anywhere, so it is not."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache
def get_settings() -> Settings:
    return Settings()
