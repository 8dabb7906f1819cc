"""Tables of the evaluate pillar: model providers and their response cache, evaluation sets,
judges (prompt versions, the verdict cache, probe reports), judge calibrations, human
evaluations, evaluation runs and their results.

Evaluation sets (`eval_sets.py`): a set's items are versioned without copying them per
version. An item row is live in the versions `[first_version, until_version)` (`until_version`
NULL while it is current), so version N is the rows with `first_version <= N` and
`until_version` NULL or above N: an import that changes 10 items of a million writes 10 rows
and stamps 10 old ones, and reading "version N" always gives the same items.

Calibrations and human evaluations send work to a labeling project through labeling's
services and keep only the labeling ids (project, batch, task) they need to read the answers
back — never a foreign key into labeling's tables (a pillar reaches another only through its
services). What a human must not see (a criterion's points, the judge's verdict) lives here
and never in the tasks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from assay.core.db import Base, JSONType, JSONWhole, UTCDateTime, utcnow
from assay.core.db import created_column as _created
from assay.core.db import id_column as _id
from assay.core.ids import new_id

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


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


class EvalSet(Base):
    __tablename__ = "eval_sets"
    __table_args__ = (Index("ix_eval_sets_mode", "mode", "id"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    # Sealed: item content leaves the server only in requests to the model under test.
    sealed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Embedded in every export (header and rows) so a leaked copy can be traced to the set.
    canary: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # The newest version's number (0: nothing imported yet).
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class EvalSetOwner(Base):
    """Who may read a set's items: Assay has roles and live/test sandboxes but no teams, so a
    private set names its owners."""

    __tablename__ = "eval_set_owners"
    __table_args__ = (Index("ix_eval_set_owners_user", "user_id", "set_id"),)

    set_id: Mapped[str] = mapped_column(
        ForeignKey("eval_sets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[dt.datetime] = _created()


class EvalSetVersion(Base):
    __tablename__ = "eval_set_versions"

    # A time-ordered id besides the number: lists page by it like every other list.
    id: Mapped[str] = mapped_column(String(24), nullable=False, unique=True, default=new_id)
    set_id: Mapped[str] = mapped_column(
        ForeignKey("eval_sets.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    message: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    item_count: Mapped[int] = mapped_column(BIG_ID, nullable=False)
    teaser_count: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    # The sum of the live items' sha256s mod 2**256, as hex: order-free, kept up to date from
    # the items an edit adds and retires, so a version of a million items costs its changes.
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    added: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    retired: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class EvalSetItem(Base):
    __tablename__ = "eval_set_items"
    __table_args__ = (
        UniqueConstraint("set_id", "external_id", "first_version"),
        Index("ix_eval_set_items_set", "set_id", "id"),
        Index("ix_eval_set_items_live", "set_id", "until_version", "external_id"),
    )

    id: Mapped[str] = _id()
    set_id: Mapped[str] = mapped_column(
        ForeignKey("eval_sets.id", ondelete="CASCADE"), nullable=False
    )
    external_id: Mapped[str] = mapped_column(String(200), nullable=False)
    first_version: Mapped[int] = mapped_column(Integer, nullable=False)
    until_version: Mapped[int | None] = mapped_column(Integer)
    # {"prompt"} or {"messages"}, with "reference" and "rubric" when given: read and written
    # whole, never queried inside (JSONWhole: text JSON on PostgreSQL, no jsonb round trip).
    content: Mapped[dict[str, Any]] = mapped_column(JSONWhole, nullable=False)
    domain: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(35))
    difficulty: Mapped[str | None] = mapped_column(String(50))
    tags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    teaser: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # sha256 of the item's canonical JSON (content, tags and teaser flag).
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class EvalSetRead(Base):
    """One read of item content: who, when, which set and version, which items, which route."""

    __tablename__ = "eval_set_reads"
    __table_args__ = (Index("ix_eval_set_reads_set", "set_id", "id"),)

    id: Mapped[str] = _id()
    set_id: Mapped[str] = mapped_column(
        ForeignKey("eval_sets.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    key_id: Mapped[str | None] = mapped_column(String(24))
    route: Mapped[str] = mapped_column(String(100), nullable=False)
    item_count: Mapped[int] = mapped_column(BIG_ID, nullable=False)
    # The items' ids when there are few enough to list (a page, one item); NULL for exports,
    # which read the whole version (`item_count` says how many).
    item_ids: Mapped[list[str] | None] = mapped_column(JSONWhole)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class EvalSetUpload(Base):
    """A file waiting for its import job. Kept out of the blob store on purpose: blobs are
    readable by their uploader and by admins, and a sealed set's items must not be."""

    __tablename__ = "eval_set_uploads"

    id: Mapped[str] = _id()
    set_id: Mapped[str] = mapped_column(
        ForeignKey("eval_sets.id", ondelete="CASCADE"), nullable=False
    )
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = _created()


class Calibration(Base):
    """A sample of judge verdicts sent to humans as rubric_grading tasks (one labeling batch)."""

    __tablename__ = "eval_calibrations"
    __table_args__ = (Index("ix_eval_calibrations_mode", "mode", "id"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    project_id: Mapped[str] = mapped_column(String(24), nullable=False)
    batch_id: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    tasks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    verdicts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class CalibrationVerdict(Base):
    """One sampled judge verdict: the criterion the humans grade in task `task_id`."""

    __tablename__ = "eval_calibration_verdicts"
    __table_args__ = (
        UniqueConstraint("calibration_id", "position"),
        Index("ix_eval_calibration_verdicts_task", "calibration_id", "task_id"),
    )

    id: Mapped[str] = _id()
    calibration_id: Mapped[str] = mapped_column(
        ForeignKey("eval_calibrations.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # order in the request
    task_id: Mapped[str] = mapped_column(String(24), nullable=False)
    criterion_id: Mapped[str] = mapped_column(String(200), nullable=False)
    category: Mapped[str] = mapped_column(String(200), nullable=False)
    judge_met: Mapped[bool] = mapped_column(Boolean, nullable=False)
    judge_version: Mapped[str] = mapped_column(String(200), nullable=False)
    source: Mapped[str | None] = mapped_column(String(200))  # e.g. a run item id


class HumanEvaluation(Base):
    """Model responses sent to people for rubric grading or pairwise comparison."""

    __tablename__ = "eval_human_evaluations"
    __table_args__ = (Index("ix_eval_human_evaluations_mode", "mode", "id"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # rubric_grading | pairwise
    project_id: Mapped[str] = mapped_column(String(24), nullable=False)
    batch_id: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    # The labeling worker group of the raters the profile chose (None: any project labeler).
    group_id: Mapped[str | None] = mapped_column(String(24))
    raters: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    items: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class HumanEvaluationItem(Base):
    """One item of a human evaluation and the labeling task that carries it."""

    __tablename__ = "eval_human_evaluation_items"
    __table_args__ = (UniqueConstraint("human_evaluation_id", "position"),)

    id: Mapped[str] = _id()
    human_evaluation_id: Mapped[str] = mapped_column(
        ForeignKey("eval_human_evaluations.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    task_id: Mapped[str] = mapped_column(String(24), nullable=False)
    source: Mapped[str | None] = mapped_column(String(200))
    # Which of the two shown responses is `response_b` (pairwise: the order is shuffled so
    # position never favours a model); criteria's points for rubric grading. Never sent out.
    swapped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    points: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)


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
