"""curation: object embeddings — vectors per annotation / prediction in object embedding
spaces (`dataset_object_embeddings`), datasets get their object spaces and a dense object
number (`object_seq`, the objects' keys in vector indexes). See `curation/object_embeddings.py`.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dataset_object_embeddings",
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("source_id", sa.String(length=24), nullable=False),
        sa.Column("shape_key", sa.String(length=512), nullable=False),
        sa.Column("space", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("seq", BIG_ID, nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("revision", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dataset_items.id"],
            name=op.f("fk_dataset_object_embeddings_item_id_dataset_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "item_id", "source_id", "shape_key", "space", name=op.f("pk_dataset_object_embeddings")
        ),
    )
    op.create_index(
        "ix_dataset_object_embeddings_revision",
        "dataset_object_embeddings",
        ["dataset_id", "space", "revision"],
        unique=False,
    )
    # Plain ALTERs, not a batch copy: copying `datasets` on SQLite would cascade-delete
    # every row that refers to it.
    op.add_column(
        "datasets",
        sa.Column(
            "object_embedding_spaces",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("datasets", sa.Column("object_seq", BIG_ID, server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("datasets", "object_seq")  # SQLite 3.35+ drops a column in place
    op.drop_column("datasets", "object_embedding_spaces")
    op.drop_index("ix_dataset_object_embeddings_revision", table_name="dataset_object_embeddings")
    op.drop_table("dataset_object_embeddings")
