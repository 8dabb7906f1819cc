"""evaluation: judges as records (`eval_judges`, their prompt versions `eval_judge_prompts`),
the grading service's verdict cache (`eval_verdict_cache`) and probe reports
(`eval_probe_reports`). See `evaluation/judge_records.py`, `evaluation/verdict_cache.py`,
`evaluation/probe_reports.py`.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from assay.core.db import UTCDateTime

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "eval_judges",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=24), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("grading_mode", sa.String(length=16), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("weights", JSON, nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["eval_providers.id"],
            name=op.f("fk_eval_judges_provider_id_eval_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_eval_judges_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_judges")),
        sa.UniqueConstraint("mode", "name", name="uq_eval_judges_mode_name"),
    )
    op.create_index("ix_eval_judges_mode", "eval_judges", ["mode", "id"], unique=False)
    op.create_table(
        "eval_judge_prompts",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("judge_id", sa.String(length=24), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("criterion", sa.Text(), nullable=False),
        sa.Column("rubric", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["judge_id"],
            ["eval_judges.id"],
            name=op.f("fk_eval_judge_prompts_judge_id_eval_judges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_judge_prompts")),
        sa.UniqueConstraint("judge_id", "number", name="uq_eval_judge_prompts_number"),
    )
    op.create_table(
        "eval_verdict_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("judge_version", sa.Text(), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("credit", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_eval_verdict_cache")),
    )
    op.create_table(
        "eval_probe_reports",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("judge_id", sa.String(length=24), nullable=False),
        sa.Column("job_id", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("judge_version", sa.Text(), nullable=True),
        sa.Column("report", JSON, nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["judge_id"],
            ["eval_judges.id"],
            name=op.f("fk_eval_probe_reports_judge_id_eval_judges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_probe_reports")),
    )
    op.create_index(
        "ix_eval_probe_reports_judge",
        "eval_probe_reports",
        ["judge_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_eval_probe_reports_judge", table_name="eval_probe_reports")
    op.drop_table("eval_probe_reports")
    op.drop_table("eval_verdict_cache")
    op.drop_table("eval_judge_prompts")
    op.drop_index("ix_eval_judges_mode", table_name="eval_judges")
    op.drop_table("eval_judges")
