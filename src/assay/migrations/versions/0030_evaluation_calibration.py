"""evaluation: judge calibrations (`eval_calibrations`, the sampled judge verdicts in
`eval_calibration_verdicts`), human evaluations (`eval_human_evaluations`,
`eval_human_evaluation_items`) and labeling's rater profiles (`rater_profiles`).
See `evaluation/calibration.py` and `evaluation/human_evaluations.py`.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _created_by(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["created_by"], ["users.id"], name=op.f(f"fk_{table}_created_by_users"), ondelete="SET NULL"
    )


def upgrade() -> None:
    op.create_table(
        "eval_calibrations",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("batch_id", sa.String(length=24), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("verdicts", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        _created_by("eval_calibrations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_calibrations")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_eval_calibrations_batch_id")),
    )
    op.create_index("ix_eval_calibrations_mode", "eval_calibrations", ["mode", "id"], unique=False)
    op.create_table(
        "eval_calibration_verdicts",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("calibration_id", sa.String(length=24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=24), nullable=False),
        sa.Column("criterion_id", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("judge_met", sa.Boolean(), nullable=False),
        sa.Column("judge_version", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["calibration_id"],
            ["eval_calibrations.id"],
            name=op.f("fk_eval_calibration_verdicts_calibration_id_eval_calibrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_calibration_verdicts")),
        sa.UniqueConstraint(
            "calibration_id",
            "position",
            name=op.f("uq_eval_calibration_verdicts_calibration_id_position"),
        ),
    )
    op.create_index(
        "ix_eval_calibration_verdicts_task",
        "eval_calibration_verdicts",
        ["calibration_id", "task_id"],
        unique=False,
    )
    op.create_table(
        "eval_human_evaluations",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("batch_id", sa.String(length=24), nullable=False),
        sa.Column("group_id", sa.String(length=24), nullable=True),
        sa.Column("raters", JSON, nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        _created_by("eval_human_evaluations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_human_evaluations")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_eval_human_evaluations_batch_id")),
    )
    op.create_index(
        "ix_eval_human_evaluations_mode",
        "eval_human_evaluations",
        ["mode", "id"],
        unique=False,
    )
    op.create_table(
        "eval_human_evaluation_items",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("human_evaluation_id", sa.String(length=24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("swapped", sa.Boolean(), nullable=False),
        sa.Column("points", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["human_evaluation_id"],
            ["eval_human_evaluations.id"],
            name=op.f("fk_eval_human_evaluation_items_human_evaluation_id_eval_human_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_human_evaluation_items")),
        sa.UniqueConstraint(
            "human_evaluation_id",
            "position",
            name=op.f("uq_eval_human_evaluation_items_human_evaluation_id_position"),
        ),
    )
    op.create_table(
        "rater_profiles",
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("languages", JSON, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("profession", sa.String(length=200), nullable=True),
        sa.Column("expertise", JSON, nullable=False),
        sa.Column("updated_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_rater_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_rater_profiles")),
    )


def downgrade() -> None:
    op.drop_table("rater_profiles")
    op.drop_table("eval_human_evaluation_items")
    op.drop_index("ix_eval_human_evaluations_mode", table_name="eval_human_evaluations")
    op.drop_table("eval_human_evaluations")
    op.drop_index("ix_eval_calibration_verdicts_task", table_name="eval_calibration_verdicts")
    op.drop_table("eval_calibration_verdicts")
    op.drop_index("ix_eval_calibrations_mode", table_name="eval_calibrations")
    op.drop_table("eval_calibrations")
