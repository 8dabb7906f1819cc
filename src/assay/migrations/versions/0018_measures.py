"""dataset_measures: per-item numbers computed over an embedding space (uniqueness,
near-duplicate groups), one row per field holding float32 values indexed by item `seq`

See `curation/models.py::Measure` and `curation/measures.py`.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_measures",
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("space", sa.String(length=64), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("by_seq", sa.LargeBinary(), nullable=False),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("computed_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_measures_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "field", name=op.f("pk_dataset_measures")),
    )


def downgrade() -> None:
    op.drop_table("dataset_measures")
