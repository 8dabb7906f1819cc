"""Tables of the evaluate pillar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    # How an `openai` provider is called: "openai" (the client) or "lean" (`lean_chat.py`).
    transport: Mapped[str] = mapped_column(
        String(16), nullable=False, default="openai", server_default="openai"
    )
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
