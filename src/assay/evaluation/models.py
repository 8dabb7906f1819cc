"""Tables of the evaluate pillar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assay.core.db import Base, JSONType, UTCDateTime, utcnow
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


class Judge(Base):
    """A judge as a record (`evaluation/judge_records.py`): one model of a provider with a
    versioned prompt (`kind="single"`), a panel of single judges, or a cascade from a cheap
    judge to a strong one. `flagged` when its latest probe report found a probe credited."""

    __tablename__ = "eval_judges"
    __table_args__ = (
        UniqueConstraint("mode", "name", name="uq_eval_judges_mode_name"),
        Index("ix_eval_judges_mode", "mode", "id"),
    )

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="single")
    provider_id: Mapped[str | None] = mapped_column(
        ForeignKey("eval_providers.id", ondelete="RESTRICT")
    )
    model: Mapped[str | None] = mapped_column(String(200))
    grading_mode: Mapped[str] = mapped_column(String(16), nullable=False, default="explicit")
    temperature: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    # Sample k of a question asks with seed + k (a cascade's cheap samples can differ).
    seed: Mapped[int | None] = mapped_column(Integer)
    # Panels: {"rule": "majority"|"mean", "members": [judge ids]}; cascades: {"cheap": id,
    # "strong": id, "samples": n, "min_confidence": c}.
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # Learned criterion weights: {"criterion_ids": [...], "weights": [...], "pairs", ...}.
    weights: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    flagged: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class JudgePromptVersion(Base):
    """One version of a single judge's prompt texts; the newest is the one in use."""

    __tablename__ = "eval_judge_prompts"
    __table_args__ = (UniqueConstraint("judge_id", "number", name="uq_eval_judge_prompts_number"),)

    id: Mapped[str] = _id()
    judge_id: Mapped[str] = mapped_column(
        ForeignKey("eval_judges.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    system: Mapped[str] = mapped_column(Text, nullable=False)
    criterion: Mapped[str] = mapped_column(Text, nullable=False)
    rubric: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[str] = mapped_column(String(300), nullable=False)
    created_at: Mapped[dt.datetime] = _created()


class CachedVerdict(Base):
    """A judge version's verdict on one question, keyed by `grading.verdict_key`."""

    __tablename__ = "eval_verdict_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    judge_version: Mapped[str] = mapped_column(Text, nullable=False)
    met: Mapped[bool] = mapped_column(Boolean, nullable=False)
    credit: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text, nullable=False, default="")
    escalated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = _created()


class ProbeReport(Base):
    """A probe-suite run against a judge (a job): the report once it is done."""

    __tablename__ = "eval_probe_reports"
    __table_args__ = (Index("ix_eval_probe_reports_judge", "judge_id", "created_at"),)

    id: Mapped[str] = _id()
    judge_id: Mapped[str] = mapped_column(
        ForeignKey("eval_judges.id", ondelete="CASCADE"), nullable=False
    )
    job_id: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    request: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    judge_version: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    flagged: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
