"""queue partial indexes: the claim reads free tasks only; live leases have their own

`ix_tasks_free` orders the tasks free to lease (no lease holder, still in a stage) as the
queue does, so a claim no longer steps over every live lease at the head of the queue.
`ix_tasks_lease_user` becomes partial (live leases only: it held a NULL entry for every
task) and finds a person's lease in one stage; `ix_tasks_lease_expiry` finds expired
leases, which the claim sweeps back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FREE_TASK = "lease_user_id IS NULL AND stage IS NOT NULL"
LEASED_TASK = "lease_user_id IS NOT NULL"


def _partial(predicate: str) -> dict[str, object]:
    return {"sqlite_where": sa.text(predicate), "postgresql_where": sa.text(predicate)}


def upgrade() -> None:
    # Tasks leased before this migration keep their leases: expired ones are swept by the
    # next claim in their stage, like any other.
    op.create_index(
        "ix_tasks_free",
        "tasks",
        ["project_id", "stage", sa.text("batch_priority DESC"), sa.text("priority DESC"), "id"],
        unique=False,
        **_partial(FREE_TASK),
    )
    op.drop_index("ix_tasks_lease_user", table_name="tasks")
    op.create_index(
        "ix_tasks_lease_user",
        "tasks",
        ["lease_user_id", "project_id", "stage", "lease_expires_at"],
        unique=False,
        **_partial(LEASED_TASK),
    )
    op.create_index(
        "ix_tasks_lease_expiry",
        "tasks",
        ["project_id", "stage", "lease_expires_at"],
        unique=False,
        **_partial(LEASED_TASK),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_lease_expiry", table_name="tasks")
    op.drop_index("ix_tasks_lease_user", table_name="tasks")
    op.create_index("ix_tasks_lease_user", "tasks", ["lease_user_id"], unique=False)
    op.drop_index("ix_tasks_free", table_name="tasks")
