"""Tables of the evaluation pillar.

Calibrations and human evaluations send work to a labeling project through labeling's
services and keep only the labeling ids (project, batch, task) they need to read the answers
back — never a foreign key into labeling's tables (a pillar reaches another only through its
services). What a human must not see (a criterion's points, the judge's verdict) lives here
and never in the tasks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assay.core.db import Base, JSONType
from assay.core.db import created_column as _created
from assay.core.db import id_column as _id


class Calibration(Base):
    """A sample of judge verdicts sent to humans as rubric_grading tasks (one labeling batch)."""

    __tablename__ = "evaluation_calibrations"
    __table_args__ = (Index("ix_evaluation_calibrations_mode", "mode", "id"),)

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

    __tablename__ = "evaluation_calibration_verdicts"
    __table_args__ = (
        UniqueConstraint("calibration_id", "position"),
        Index("ix_evaluation_calibration_verdicts_task", "calibration_id", "task_id"),
    )

    id: Mapped[str] = _id()
    calibration_id: Mapped[str] = mapped_column(
        ForeignKey("evaluation_calibrations.id", ondelete="CASCADE"), nullable=False
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

    __tablename__ = "evaluation_human_evaluations"
    __table_args__ = (Index("ix_evaluation_human_evaluations_mode", "mode", "id"),)

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

    __tablename__ = "evaluation_human_evaluation_items"
    __table_args__ = (UniqueConstraint("human_evaluation_id", "position"),)

    id: Mapped[str] = _id()
    human_evaluation_id: Mapped[str] = mapped_column(
        ForeignKey("evaluation_human_evaluations.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    task_id: Mapped[str] = mapped_column(String(24), nullable=False)
    source: Mapped[str | None] = mapped_column(String(200))
    # Which of the two shown responses is `response_b` (pairwise: the order is shuffled so
    # position never favours a model); criteria's points for rubric grading. Never sent out.
    swapped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    points: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
