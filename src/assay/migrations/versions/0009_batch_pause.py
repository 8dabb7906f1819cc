"""paused batches: `tasks.paused_stage`

A paused batch's unleased tasks leave the queue (their `stage` becomes NULL, so no claim
sees them, as for a staging batch) and keep the stage they return to on resume here. Batch
statuses `paused` and `canceled` need no schema change (a plain string column).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("paused_stage", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_column("paused_stage")
