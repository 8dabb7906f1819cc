"""dataset_uploads (bulk files staged under a client-chosen request id) and dataset_scenes

See `curation/models.py`: `StagedUpload` (Nucleus's signed-URL uploads PUT an NDJSON file
first, then ask for its import by the request id they chose) and `Scene` (LiDAR and video
scenes, sequences of a dataset's items).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_uploads",
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_dataset_uploads_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_uploads_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["blobs.sha256"],
            name=op.f("fk_dataset_uploads_sha256_blobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "request_id", name=op.f("pk_dataset_uploads")),
    )

    op.create_table(
        "dataset_scenes",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=False),
        sa.Column("reference_id", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "frames",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("frame_rate", sa.Float(), nullable=True),
        sa.Column("video_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_scenes_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_scenes")),
        sa.UniqueConstraint(
            "dataset_id", "reference_id", name=op.f("uq_dataset_scenes_dataset_id_reference_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("dataset_scenes")
    op.drop_table("dataset_uploads")
