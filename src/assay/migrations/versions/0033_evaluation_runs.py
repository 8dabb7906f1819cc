"""evaluation: model runs over an evaluation set version (`eval_runs`), their per-(item,
sample) results (`eval_run_results`) and the results' tags (`eval_run_result_tags`). See
`evaluation/models.py` and `evaluation/runs.py`.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assay.core.db import UTCDateTime

revision: str = "0033"
# Chained after this branch's head so the tests can migrate; the merge re-chains it.
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("set_id", sa.String(length=24), nullable=False),
        sa.Column("set_version", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=24), nullable=True),
        sa.Column("model", sa.String(length=400), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=24), nullable=True),
        sa.Column("total_calls", sa.Integer(), nullable=False),
        sa.Column("done_calls", sa.Integer(), nullable=False),
        sa.Column("error_calls", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("judge_calls", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["eval_providers.id"],
            name=op.f("fk_eval_runs_provider_id_eval_providers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_eval_runs_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_runs")),
    )
    op.create_index("ix_eval_runs_mode", "eval_runs", ["mode", "id"])
    op.create_index("ix_eval_runs_set", "eval_runs", ["set_id", "set_version"])
    op.create_table(
        "eval_run_results",
        sa.Column("run_id", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("sample", sa.Integer(), nullable=False),
        sa.Column("prompt_preview", sa.String(length=300), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=True),
        sa.Column("rubric_score", sa.Float(), nullable=True),
        sa.Column("judge_version", sa.String(length=400), nullable=True),
        sa.Column("judge_error", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["eval_runs.id"],
            name=op.f("fk_eval_run_results_run_id_eval_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_eval_run_results")),
    )
    op.create_index("ix_eval_run_results_errors", "eval_run_results", ["run_id", "failed", "seq"])
    op.create_index("ix_eval_run_results_score", "eval_run_results", ["run_id", "score"])
    op.create_table(
        "eval_run_result_tags",
        sa.Column("run_id", sa.String(length=24), nullable=False),
        sa.Column("tag", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["eval_runs.id"],
            name=op.f("fk_eval_run_result_tags_run_id_eval_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "tag", "seq", name=op.f("pk_eval_run_result_tags")),
    )


def downgrade() -> None:
    op.drop_table("eval_run_result_tags")
    op.drop_index("ix_eval_run_results_score", table_name="eval_run_results")
    op.drop_index("ix_eval_run_results_errors", table_name="eval_run_results")
    op.drop_table("eval_run_results")
    op.drop_index("ix_eval_runs_set", table_name="eval_runs")
    op.drop_index("ix_eval_runs_mode", table_name="eval_runs")
    op.drop_table("eval_runs")
