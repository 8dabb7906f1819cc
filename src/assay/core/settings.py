"""One settings tree, read from `ASSAY_*` environment variables, with zero-config defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "assay-development-secret-change-me"


def _default_data_dir() -> Path:
    return Path.home() / ".assay"


class Settings(BaseSettings):
    """Everything an operator can configure. Each field documents itself in `assay --help`."""

    model_config = SettingsConfigDict(env_prefix="ASSAY_", env_file=None, extra="ignore")

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
    job_lease_seconds: float = Field(
        30.0, description="A running job whose worker stops heartbeating is retried after this."
    )
    job_retry_base_seconds: float = Field(
        2.0, description="First retry delay of a failed job; doubles with each attempt."
    )
    job_retry_max_seconds: float = Field(3600.0, description="Upper bound of the retry delay.")
    webhook_timeout_seconds: float = Field(10.0, description="Timeout of one webhook attempt.")
    webhook_max_attempts: int = Field(8, description="Attempts before a delivery is failed.")
    webhook_allow: list[str] = Field(
        default_factory=list,
        description="If set, webhook targets must match one of these hosts or CIDRs.",
    )
    webhook_deny: list[str] = Field(
        default_factory=lambda: ["169.254.0.0/16", "fe80::/10", "0.0.0.0/32"],
        description="Webhook targets matching these hosts or CIDRs are refused "
        "(default: link-local, where cloud metadata services live).",
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

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'assay.db'}"

    @property
    def resolved_blob_store_url(self) -> str:
        return self.blob_store_url or (self.data_dir / "blobs").resolve().as_uri()


@lru_cache
def get_settings() -> Settings:
    return Settings()
