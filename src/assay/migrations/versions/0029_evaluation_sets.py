"""evaluation: private evaluation sets — sets, their owners, versions, items live in a
range of versions, the read log of item content, and uploads waiting for their import job.
See `evaluation/models.py` and `evaluation/eval_sets.py`.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 00:34:12.317868
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from assay.core.db import UTCDateTime

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eval_sets",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("canary", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_eval_sets_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_sets")),
        sa.UniqueConstraint("canary", name=op.f("uq_eval_sets_canary")),
    )
    op.create_index("ix_eval_sets_mode", "eval_sets", ["mode", "id"], unique=False)

    op.create_table(
        "eval_set_items",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("set_id", sa.String(length=24), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("first_version", sa.Integer(), nullable=False),
        sa.Column("until_version", sa.Integer(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("domain", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("difficulty", sa.String(length=50), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("teaser", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["eval_sets.id"],
            name=op.f("fk_eval_set_items_set_id_eval_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_set_items")),
        sa.UniqueConstraint(
            "set_id",
            "external_id",
            "first_version",
            name=op.f("uq_eval_set_items_set_id_external_id_first_version"),
        ),
    )
    op.create_index("ix_eval_set_items_set", "eval_set_items", ["set_id", "id"], unique=False)
    op.create_index(
        "ix_eval_set_items_live",
        "eval_set_items",
        ["set_id", "until_version", "external_id"],
        unique=False,
    )

    op.create_table(
        "eval_set_owners",
        sa.Column("set_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["eval_sets.id"],
            name=op.f("fk_eval_set_owners_set_id_eval_sets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_eval_set_owners_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("set_id", "user_id", name=op.f("pk_eval_set_owners")),
    )
    op.create_index(
        "ix_eval_set_owners_user", "eval_set_owners", ["user_id", "set_id"], unique=False
    )

    op.create_table(
        "eval_set_reads",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("set_id", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=True),
        sa.Column("key_id", sa.String(length=24), nullable=True),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column(
            "item_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("item_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["eval_sets.id"],
            name=op.f("fk_eval_set_reads_set_id_eval_sets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_eval_set_reads_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_set_reads")),
    )
    op.create_index("ix_eval_set_reads_set", "eval_set_reads", ["set_id", "id"], unique=False)

    op.create_table(
        "eval_set_uploads",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("set_id", sa.String(length=24), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["eval_sets.id"],
            name=op.f("fk_eval_set_uploads_set_id_eval_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_set_uploads")),
    )
    op.create_table(
        "eval_set_versions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("set_id", sa.String(length=24), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column(
            "item_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "teaser_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("added", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("retired", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_eval_set_versions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["eval_sets.id"],
            name=op.f("fk_eval_set_versions_set_id_eval_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("set_id", "number", name=op.f("pk_eval_set_versions")),
        sa.UniqueConstraint("id", name=op.f("uq_eval_set_versions_id")),
    )


def downgrade() -> None:
    op.drop_table("eval_set_versions")
    op.drop_table("eval_set_uploads")
    op.drop_index("ix_eval_set_reads_set", table_name="eval_set_reads")

    op.drop_table("eval_set_reads")
    op.drop_index("ix_eval_set_owners_user", table_name="eval_set_owners")

    op.drop_table("eval_set_owners")
    op.drop_index("ix_eval_set_items_live", table_name="eval_set_items")
    op.drop_index("ix_eval_set_items_set", table_name="eval_set_items")

    op.drop_table("eval_set_items")
    op.drop_index("ix_eval_sets_mode", table_name="eval_sets")

    op.drop_table("eval_sets")
