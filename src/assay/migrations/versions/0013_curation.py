"""the curation pillar: datasets, items, ground truth and predictions, models, tombstones

See `curation/models.py`: the tables are the source of truth, and every write takes the
dataset's next `revision` so per-process snapshots can catch up.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:07:48.117611
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_tombstones",
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint(
            "dataset_id", "revision", "item_id", name=op.f("pk_dataset_tombstones")
        ),
    )
    op.create_table(
        "curation_models",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reference_id", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_curation_models_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_curation_models")),
        sa.UniqueConstraint(
            "mode", "reference_id", name=op.f("uq_curation_models_mode_reference_id")
        ),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("is_scene", sa.Boolean(), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "taxonomies",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "item_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "annotation_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "prediction_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "tombstone_floor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("deleting", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_datasets_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index("ix_datasets_mode", ["mode", "id"], unique=False)

    op.create_table(
        "dataset_items",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("reference_id", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("media", sa.String(length=2000), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("scene_id", sa.String(length=24), nullable=True),
        sa.Column("frame_index", sa.Integer(), nullable=True),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_items_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_items")),
        sa.UniqueConstraint(
            "dataset_id", "reference_id", name=op.f("uq_dataset_items_dataset_id_reference_id")
        ),
    )
    with op.batch_alter_table("dataset_items", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_items_page", ["dataset_id", "id"], unique=False)
        batch_op.create_index("ix_dataset_items_revision", ["dataset_id", "revision"], unique=False)

    op.create_table(
        "dataset_annotations",
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("source_id", sa.String(length=24), nullable=False),
        sa.Column(
            "shapes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dataset_items.id"],
            name=op.f("fk_dataset_annotations_item_id_dataset_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "source_id", name=op.f("pk_dataset_annotations")),
    )


def downgrade() -> None:
    op.drop_table("dataset_annotations")
    with op.batch_alter_table("dataset_items", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_items_revision")
        batch_op.drop_index("ix_dataset_items_page")

    op.drop_table("dataset_items")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_datasets_mode")

    op.drop_table("datasets")
    op.drop_table("curation_models")
    op.drop_table("dataset_tombstones")
