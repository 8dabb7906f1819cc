"""review decisions keep the labeler they judge: task_events.judged_user_id

The quality overview charged each review decision to the task's latest submission before it,
found by a walk back through the task's history per decision: at 1,000,000 tasks, 100,000
submissions and 20,000 decisions that walk was most of the overview's time on PostgreSQL
(bench/quality_stats.py). The decision now keeps that labeler, so the overview counts
decisions per judged labeler with one index range (`ix_task_events_judged`).

Triggers keep it right for every writer, as for `quality_work_hours` (migration 0007): a
decision gets its labeler when it is inserted; a submission whose author, task or action is
corrected, or that is deleted, makes its task's decisions look again (and so does a decision
whose action or stage changes). The rejudging writes only `judged_user_id`, which no trigger
watches. Users are deactivated, never deleted, so the column has no foreign key.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECISION = "{r}.action IN ('accept', 'fix', 'reject') AND {r}.stage <> 'audit'"
_JUDGED = (
    "(SELECT s.user_id FROM task_events s WHERE s.task_id = {r}.task_id "
    "AND s.action = 'submit' AND s.id < {r}.id ORDER BY s.id DESC LIMIT 1)"
)
_WATCHED = "task_id, user_id, action, stage"


def _rejudge(task: str) -> str:
    """Sets the labeler of every decision on `task` again."""
    return (
        f"UPDATE task_events SET judged_user_id = {_JUDGED.format(r='task_events')} "
        f"WHERE task_id = {task} AND {_DECISION.format(r='task_events')}"
    )


def _create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        # WHEN clauses keep the functions off every other insert and delete (the queue's
        # submissions among them).
        op.execute(
            f"""
            CREATE FUNCTION task_events_judge() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.judged_user_id := {_JUDGED.format(r="NEW")};
                RETURN NEW;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER task_events_judge BEFORE INSERT ON task_events FOR EACH ROW "
            f"WHEN ({_DECISION.format(r='NEW')}) EXECUTE FUNCTION task_events_judge()"
        )
        op.execute(
            f"""
            CREATE FUNCTION task_events_rejudge() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {_rejudge("OLD.task_id")};
                IF TG_OP = 'UPDATE' AND NEW.task_id <> OLD.task_id THEN
                    {_rejudge("NEW.task_id")};
                END IF;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER task_events_rejudge_delete AFTER DELETE ON task_events FOR EACH ROW "
            "WHEN (OLD.action = 'submit') EXECUTE FUNCTION task_events_rejudge()"
        )
        op.execute(
            f"CREATE TRIGGER task_events_rejudge_update AFTER UPDATE OF {_WATCHED} "
            "ON task_events FOR EACH ROW EXECUTE FUNCTION task_events_rejudge()"
        )
        return
    op.execute(
        "CREATE TRIGGER task_events_judge AFTER INSERT ON task_events "
        f"WHEN {_DECISION.format(r='NEW')} BEGIN UPDATE task_events SET judged_user_id = "
        f"{_JUDGED.format(r='NEW')} WHERE id = NEW.id; END"
    )
    op.execute(
        "CREATE TRIGGER task_events_rejudge_delete AFTER DELETE ON task_events "
        f"WHEN OLD.action = 'submit' BEGIN {_rejudge('OLD.task_id')}; END"
    )
    op.execute(
        f"CREATE TRIGGER task_events_rejudge_update AFTER UPDATE OF {_WATCHED} ON task_events "
        f"BEGIN {_rejudge('OLD.task_id')}; {_rejudge('NEW.task_id')}; END"
    )


def _drop_triggers(dialect: str) -> None:
    for name in ("judge", "rejudge_delete", "rejudge_update"):
        op.execute(
            f"DROP TRIGGER task_events_{name}"
            + (" ON task_events" if dialect == "postgresql" else "")
        )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION task_events_rejudge()")
        op.execute("DROP FUNCTION task_events_judge()")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("task_events", sa.Column("judged_user_id", sa.String(length=24)))
    op.execute(
        f"UPDATE task_events SET judged_user_id = {_JUDGED.format(r='task_events')} "
        f"WHERE {_DECISION.format(r='task_events')}"
    )
    op.create_index(
        "ix_task_events_judged",
        "task_events",
        ["project_id", "action", "judged_user_id", "created_at", "stage"],
    )
    _create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    op.drop_index("ix_task_events_judged", table_name="task_events")
    if dialect == "sqlite":
        op.execute("ALTER TABLE task_events DROP COLUMN judged_user_id")
    else:
        op.drop_column("task_events", "judged_user_id")
