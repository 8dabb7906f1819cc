"""A slice's objects

An object slice (Nucleus's `create_slice_by_ids(annotation_ids=..., prediction_ids=...)`)
keeps its members as objects: a shape of an item from a source (ground truth "" or a
model's id), named by its key — the shape's own id, or a digest of the shape for one
without (`curation/slice_objects.py`). See `curation/models.py`.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_slice_objects",
        sa.Column("slice_id", sa.String(length=24), nullable=False),
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("source_id", sa.String(length=24), nullable=False),
        sa.Column("shape_key", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dataset_items.id"],
            name=op.f("fk_dataset_slice_objects_item_id_dataset_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slice_id"],
            ["dataset_slices.id"],
            name=op.f("fk_dataset_slice_objects_slice_id_dataset_slices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "slice_id", "item_id", "source_id", "shape_key", name=op.f("pk_dataset_slice_objects")
        ),
    )
    op.create_index(
        "ix_dataset_slice_objects_item", "dataset_slice_objects", ["item_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_dataset_slice_objects_item", table_name="dataset_slice_objects")
    op.drop_table("dataset_slice_objects")
