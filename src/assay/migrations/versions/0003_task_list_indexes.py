"""tasks: indexes for unfiltered task lists (newest first in a project or batch)

Without them, listing a project's tasks with no status filter scanned the project's rows:
1.8 s for the first page at 1,000,000 tasks on SQLite (bench/labeling_list.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:52:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_project", ["project_id", "id"], unique=False)
        batch_op.create_index("ix_tasks_batch", ["batch_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_batch")
        batch_op.drop_index("ix_tasks_project")
