"""The shapes of evaluation sets, their items (with the rubric shape the rubric autoraters
read: `{"criteria": [{"id", "text", "points", "category"}]}`), versions and the read log."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.core.schemas import Page, Schema

FORMATS = ("jsonl", "csv", "parquet")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(Strict):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str = Field(max_length=1_000_000)


class Criterion(Strict):
    # Left out: c1, c2, … by position (as `evaluation/rubrics.py` reads a rubric).
    id: str | None = Field(default=None, min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=10_000)
    # Signed: negative points penalise an answer that meets the criterion.
    points: float = Field(ge=-1000, le=1000)
    category: str = Field(default="general", min_length=1, max_length=100)


class Rubric(Strict):
    criteria: list[Criterion] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        for number, criterion in enumerate(self.criteria, start=1):
            if criterion.id is None:
                criterion.id = f"c{number}"
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("criterion ids must be unique within a rubric")
        if not any(c.points > 0 for c in self.criteria):
            raise ValueError("a rubric needs at least one criterion with positive points")
        return self


class EvalItemIn(Strict):
    """One item as imported: a prompt or a conversation, and what grades its answers."""

    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: str | None = Field(default=None, min_length=1, max_length=1_000_000)
    messages: list[Message] | None = Field(default=None, min_length=1, max_length=1000)
    reference: str | None = Field(default=None, max_length=1_000_000)
    rubric: Rubric | None = None
    domain: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=35)
    difficulty: str | None = Field(default=None, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=100)
    teaser: bool = False
    # An export's marker on each row, accepted so an export imports back; never stored.
    canary: str | None = Field(default=None, max_length=100, exclude=True)

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> EvalItemIn:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give a prompt or messages, not both and not neither")
        return self


class EvalSetCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    sealed: bool = Field(
        default=False,
        description="Item content never leaves the server (only to the model under test).",
    )


class EvalSet(Schema):
    id: str
    name: str
    description: str
    mode: str
    sealed: bool
    version: int
    item_count: int = 0
    teaser_count: int = 0
    content_hash: str | None = None
    # The canary and the owners are shown to owners only (None to a teaser reader).
    canary: str | None = None
    owners: list[str] | None = None
    created_by: str | None
    created_at: dt.datetime


class EvalSetPage(Page[EvalSet]):
    pass


class EvalSetVersion(Schema):
    number: int
    message: str
    item_count: int
    teaser_count: int
    content_hash: str
    added: int
    retired: int
    created_by: str | None
    created_at: dt.datetime


class EvalSetVersionPage(Page[EvalSetVersion]):
    pass


class EvalSetImport(Schema):
    """Query parameters of an import; the file is the request body."""

    format: Literal["jsonl", "csv", "parquet"]
    message: str = Field(default="", max_length=500)
    replace: bool = Field(
        default=False, description="Retire the items the file does not name (a full snapshot)."
    )


class EvalItem(Schema):
    """An item with its content (`content` is None for a sealed set: tags and hash only)."""

    id: str
    external_id: str
    first_version: int
    until_version: int | None
    content: dict[str, Any] | None
    domain: str | None
    language: str | None
    difficulty: str | None
    tags: list[str]
    teaser: bool
    content_hash: str


class EvalItemPage(Page[EvalItem]):
    version: int


class EvalItemsRemove(Schema):
    external_ids: list[str] = Field(min_length=1, max_length=10_000)
    message: str = Field(default="", max_length=500)


class EvalSetOwnerAdd(Schema):
    user_id: str = Field(min_length=1, max_length=24)


class EvalSetOwners(Schema):
    user_ids: list[str]


class EvalSetRead(Schema):
    id: str
    version: int
    user_id: str | None
    key_id: str | None
    route: str
    item_count: int
    item_ids: list[str] | None
    created_at: dt.datetime


class EvalSetReadPage(Page[EvalSetRead]):
    pass


class CanaryCheck(Schema):
    text: str = Field(max_length=50_000_000)


class CanaryMatch(Schema):
    set_id: str
    name: str


class CanaryCheckResult(Schema):
    matches: list[CanaryMatch]
