"""curation: embeddings per item and space, autotags and their committed scores; items get a
dense per-dataset `seq` (their key in vector indexes) and datasets their embedding spaces

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 03:26:34.767201
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_autotags",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("space", sa.String(length=64), nullable=False),
        sa.Column(
            "positive",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "negative",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("top_k", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("committed_at", assay.core.db.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_dataset_autotags_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_autotags_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_autotags")),
        sa.UniqueConstraint("dataset_id", "name", name=op.f("uq_dataset_autotags_dataset_id_name")),
    )
    op.create_table(
        "dataset_autotag_scores",
        sa.Column("autotag_id", sa.String(length=24), nullable=False),
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["autotag_id"],
            ["dataset_autotags.id"],
            name=op.f("fk_dataset_autotag_scores_autotag_id_dataset_autotags"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dataset_items.id"],
            name=op.f("fk_dataset_autotag_scores_item_id_dataset_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("autotag_id", "item_id", name=op.f("pk_dataset_autotag_scores")),
    )
    with op.batch_alter_table("dataset_autotag_scores", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_autotag_scores_item", ["item_id"], unique=False)

    op.create_table(
        "dataset_embeddings",
        sa.Column("item_id", sa.String(length=24), nullable=False),
        sa.Column("space", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dataset_items.id"],
            name=op.f("fk_dataset_embeddings_item_id_dataset_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "space", name=op.f("pk_dataset_embeddings")),
    )
    with op.batch_alter_table("dataset_embeddings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dataset_embeddings_revision", ["dataset_id", "space", "revision"], unique=False
        )

    with op.batch_alter_table("dataset_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "seq",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                server_default="0",
                nullable=False,
            )
        )

    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "item_seq",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "embedding_spaces",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default="{}",
                nullable=False,
            )
        )
    # Items already there are numbered in the order they were added.
    op.execute(
        "UPDATE dataset_items SET seq = numbered.n FROM (SELECT id, row_number() OVER "
        "(PARTITION BY dataset_id ORDER BY id) AS n FROM dataset_items) AS numbered "
        "WHERE dataset_items.id = numbered.id"
    )
    op.execute(
        "UPDATE datasets SET item_seq = coalesce((SELECT max(seq) FROM dataset_items "
        "WHERE dataset_items.dataset_id = datasets.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("embedding_spaces")
        batch_op.drop_column("item_seq")

    with op.batch_alter_table("dataset_items", schema=None) as batch_op:
        batch_op.drop_column("seq")

    with op.batch_alter_table("dataset_embeddings", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_embeddings_revision")

    op.drop_table("dataset_embeddings")
    with op.batch_alter_table("dataset_autotag_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_autotag_scores_item")

    op.drop_table("dataset_autotag_scores")
    op.drop_table("dataset_autotags")
