"""evaluation: a provider's transport (`openai`, the client; `lean`, bare aiohttp). See
`evaluation/lean_chat.py`.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("eval_providers") as batch:
        batch.add_column(
            sa.Column("transport", sa.String(length=16), nullable=False, server_default="openai")
        )


def downgrade() -> None:
    with op.batch_alter_table("eval_providers") as batch:
        batch.drop_column("transport")
