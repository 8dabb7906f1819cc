"""curation: slices (static and dynamic), links from items to labeling batches, and where
ground truth came from (dataset_annotations.origin)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 03:19:14.179713
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_slices",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "query",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_dataset_slices_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_slices_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_slices")),
    )
    with op.batch_alter_table("dataset_slices", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_slices_dataset", ["dataset_id", "id"], unique=False)

    op.create_table(
        "dataset_labeling_links",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("slice_id", sa.String(length=24), nullable=True),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("batch_id", sa.String(length=24), nullable=False),
        sa.Column("model_id", sa.String(length=24), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("synced_at", assay.core.db.UTCDateTime(), nullable=True),
        sa.Column("synced_task", sa.String(length=24), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_dataset_labeling_links_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_labeling_links_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slice_id"],
            ["dataset_slices.id"],
            name=op.f("fk_dataset_labeling_links_slice_id_dataset_slices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_labeling_links")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_dataset_labeling_links_batch_id")),
    )
    op.create_table(
        "dataset_slice_items",
        sa.Column("slice_id", sa.String(length=24), nullable=False),
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dataset_items.id"],
            name=op.f("fk_dataset_slice_items_item_id_dataset_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slice_id"],
            ["dataset_slices.id"],
            name=op.f("fk_dataset_slice_items_slice_id_dataset_slices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("slice_id", "item_id", name=op.f("pk_dataset_slice_items")),
    )
    with op.batch_alter_table("dataset_slice_items", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_slice_items_item", ["item_id"], unique=False)

    with op.batch_alter_table("dataset_annotations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_annotations", schema=None) as batch_op:
        batch_op.drop_column("origin")

    with op.batch_alter_table("dataset_slice_items", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_slice_items_item")

    op.drop_table("dataset_slice_items")
    op.drop_table("dataset_labeling_links")
    with op.batch_alter_table("dataset_slices", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_slices_dataset")

    op.drop_table("dataset_slices")
