"""Tags on slices and models; a model's trained slices

Nucleus's client tags slices (`Slice.add_tags`) and models (`Model.add_tags`) and records the
slices a model was trained on (`Model.add_trained_slice_ids`); see `curation/models.py`.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json_list(name: str) -> sa.Column:
    return sa.Column(
        name,
        sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        nullable=False,
        server_default=sa.text("'[]'"),
    )


def upgrade() -> None:
    with op.batch_alter_table("dataset_slices") as batch_op:
        batch_op.add_column(_json_list("tags"))
    with op.batch_alter_table("curation_models") as batch_op:
        batch_op.add_column(_json_list("tags"))
        batch_op.add_column(_json_list("trained_slice_ids"))


def downgrade() -> None:
    with op.batch_alter_table("curation_models") as batch_op:
        batch_op.drop_column("trained_slice_ids")
        batch_op.drop_column("tags")
    with op.batch_alter_table("dataset_slices") as batch_op:
        batch_op.drop_column("tags")
