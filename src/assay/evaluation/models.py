"""Tables of the evaluate pillar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from assay.core.db import Base, JSONType, JSONWhole, UTCDateTime, utcnow
from assay.core.db import created_column as _created
from assay.core.db import id_column as _id


class Provider(Base):
    """A model endpoint Assay calls (`evaluation/providers.py`). `api_key` is the Fernet
    token `core.crypto` made, never the key itself."""

    __tablename__ = "eval_providers"
    __table_args__ = (
        UniqueConstraint("mode", "name", name="uq_eval_providers_mode_name"),
        Index("ix_eval_providers_mode", "mode", "id"),
    )

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    kind: Mapped[str] = mapped_column(String(32), nullable=False, default="openai")
    base_url: Mapped[str | None] = mapped_column(String(2000))
    api_key: Mapped[str | None] = mapped_column(Text)
    timeout_s: Mapped[float] = mapped_column(Float, nullable=False, default=60.0)
    max_retries: Mapped[int] = mapped_column(Integer, nullable=False, default=4)
    max_concurrency: Mapped[int] = mapped_column(Integer, nullable=False, default=16)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    # USD per million tokens by model name: {"gpt-x": {"input": 0.15, "output": 0.6}}.
    prices: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    @property
    def has_api_key(self) -> bool:
        return self.api_key is not None


class ChatCacheEntry(Base):
    """One answer of one model to one request, keyed by `ChatRequest.cache_key(model)`."""

    __tablename__ = "eval_chat_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(400), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = _created()


class EvalRun(Base):
    """A model run over one version of an evaluation set (`evaluation/runs.py`): what it
    asks (`spec`: scorers, judge, parameters), how far it got and, when done, its summary."""

    __tablename__ = "eval_runs"
    __table_args__ = (
        Index("ix_eval_runs_mode", "mode", "id"),
        Index("ix_eval_runs_set", "set_id", "set_version"),
    )

    id: Mapped[str] = _id()
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    set_id: Mapped[str] = mapped_column(String(24), nullable=False)
    set_version: Mapped[int] = mapped_column(Integer, nullable=False)
    provider_id: Mapped[str | None] = mapped_column(
        ForeignKey("eval_providers.id", ondelete="SET NULL")
    )
    model: Mapped[str] = mapped_column(String(400), nullable=False)
    # Scorers (name + options), the judge and the parameters, as the run was created.
    spec: Mapped[dict[str, Any]] = mapped_column(JSONWhole, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    job_id: Mapped[str | None] = mapped_column(String(24))
    total_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    judge_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONWhole)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EvalRunResult(Base):
    """One (item, sample) of a run: the response, its accounting, its scores and verdicts.
    Written as answers arrive, a few per transaction; `seq` (item position x samples +
    sample) orders the results table and is what a resumed run skips."""

    __tablename__ = "eval_run_results"
    __table_args__ = (
        PrimaryKeyConstraint("run_id", "seq"),
        Index("ix_eval_run_results_errors", "run_id", "failed", "seq"),
        Index("ix_eval_run_results_score", "run_id", "score"),
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    item_id: Mapped[str] = mapped_column(String(200), nullable=False)
    sample: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    prompt_preview: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    failed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    cached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The headline: the rubric score when the run has a judge, else the first scorer's value.
    score: Mapped[float | None] = mapped_column(Float)
    # {scorer name: value}; [{criterion_id, met, credit, explanation, error}]
    scores: Mapped[dict[str, Any]] = mapped_column(JSONWhole, nullable=False, default=dict)
    verdicts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONWhole)
    rubric_score: Mapped[float | None] = mapped_column(Float)
    judge_version: Mapped[str | None] = mapped_column(String(400))
    judge_error: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONWhole, nullable=False, default=list)


class EvalRunResultTag(Base):
    """A result's tags, one row each, for the results table's tag filter."""

    __tablename__ = "eval_run_result_tags"
    __table_args__ = (PrimaryKeyConstraint("run_id", "tag", "seq"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(200), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
