"""dataset_evaluations: a model's predictions evaluated against a dataset's ground truth —
metrics for the Models page, every object's match (Parquet) and the arrays a slice is
re-evaluated from

See `curation/models.py::Evaluation` and `curation/evaluations.py`.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dataset_evaluations",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("model_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=24), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metrics", JSON, nullable=True),
        sa.Column("matches", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.LargeBinary(), nullable=True),
        sa.Column("revision", BIG_ID, nullable=True),
        sa.Column("evaluated_revision", BIG_ID, nullable=True),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", assay.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_evaluations_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["curation_models.id"],
            name=op.f("fk_dataset_evaluations_model_id_curation_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_dataset_evaluations_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_evaluations")),
    )
    op.create_index(
        "ix_dataset_evaluations_dataset",
        "dataset_evaluations",
        ["dataset_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dataset_evaluations_dataset", table_name="dataset_evaluations")
    op.drop_table("dataset_evaluations")
