"""curation_models.runner and .api_key: hosted models that Assay runs over a dataset

See `curation/models.py::Model`: a hosted model's runner (a registered Python callable, or
an OpenAI-compatible endpoint: base URL, model, prompt) and the endpoint's API key,
encrypted (`core/crypto.py`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("curation_models", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "runner",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("api_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("curation_models", schema=None) as batch_op:
        batch_op.drop_column("api_key")
        batch_op.drop_column("runner")
