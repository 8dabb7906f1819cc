"""tasks: indexes for the task table's sorts; instruction_notes (labelers' notes on the
instructions, left with a submission, read by the calibration report)

The task table sorts by priority and by completion time besides the id (creation): keyset
pages over (value, id) within a project read these indexes instead of sorting the project.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assay.core.db import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_project_priority", ["project_id", "priority", "id"], unique=False
        )
        batch_op.create_index(
            "ix_tasks_project_completed", ["project_id", "completed_at", "id"], unique=False
        )
    op.create_table(
        "instruction_notes",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("batch_id", sa.String(length=24), nullable=True),
        sa.Column("task_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=True),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_instruction_notes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_instruction_notes_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_instruction_notes_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_instruction_notes_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruction_notes")),
    )
    op.create_index("ix_instruction_notes_batch", "instruction_notes", ["batch_id", "id"])
    op.create_index("ix_instruction_notes_task", "instruction_notes", ["task_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_instruction_notes_task", table_name="instruction_notes")
    op.drop_index("ix_instruction_notes_batch", table_name="instruction_notes")
    op.drop_table("instruction_notes")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_project_completed")
        batch_op.drop_index("ix_tasks_project_priority")
