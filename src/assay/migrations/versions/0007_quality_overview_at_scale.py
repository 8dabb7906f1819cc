"""the quality overview at scale: task events know their project; active hours kept by triggers

The Quality tab's overview took 1.25 s at 1,000,000 tasks and 100,000 submissions
(bench/quality_stats.py): every per-labeler figure joined the project's task events to its
tasks, because an event did not say which project it belongs to, and the exact medians and
distinct active hours sorted every submission.

- `task_events.project_id`, backfilled from the tasks in slices of ids, and two indexes a
  project's submissions are read from in time-per-task order, per labeler
  (`ix_task_events_work`) and for the whole project (`ix_task_events_pace`), and one for
  evaluation attempts' times (`ix_quality_attempts_times`): exact medians become index walks
  to the middle row.
- `quality_work_hours`: submissions per project, labeler and UTC hour (production and scored
  evaluation attempts), kept by triggers on `task_events` and `quality_attempts` so every
  writer — the queue, the ORM, bulk loads, corrections of history — keeps it right (an hour
  whose last submission goes is deleted). Active hours become a count of rows instead of a
  DISTINCT over every submission.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_SLICE = 100_000

# The hour of a timestamp as `quality_stats_sql.bucket` writes it ('YYYY-MM-DD HH').
_HOUR = {
    "sqlite": "substr({}, 1, 13)",
    "postgresql": "to_char({}, 'YYYY-MM-DD HH24')",
}
# Which rows are work (quality_stats_sql.work_rows): submissions (only production tasks get
# `submit` events: the queue sends evaluation and training tasks' to quality_attempts) and
# scored evaluation attempts.
_SOURCES = {
    "task_events": ("created_at", "{r}.action = 'submit' AND {r}.user_id IS NOT NULL"),
    "quality_attempts": (
        "submitted_at",
        "{r}.kind = 'evaluation' AND {r}.score IS NOT NULL AND {r}.submitted_at IS NOT NULL",
    ),
}
_WATCHED = {
    "task_events": "project_id, user_id, action, created_at",
    "quality_attempts": "project_id, user_id, kind, score, submitted_at",
}


def _add(dialect: str, table: str, row: str) -> str:
    at, counted = _SOURCES[table]
    hour = _HOUR[dialect].format(f"{row}.{at}")
    return (
        "INSERT INTO quality_work_hours (project_id, user_id, hour, submissions) "
        f"SELECT {row}.project_id, {row}.user_id, {hour}, 1 WHERE {counted.format(r=row)} "
        "ON CONFLICT (project_id, user_id, hour) "
        "DO UPDATE SET submissions = quality_work_hours.submissions + 1"
    )


def _remove(dialect: str, table: str, row: str) -> str:
    at, counted = _SOURCES[table]
    hour = _HOUR[dialect].format(f"{row}.{at}")
    key = f"project_id = {row}.project_id AND user_id = {row}.user_id AND hour = {hour}"
    return (
        "UPDATE quality_work_hours SET submissions = submissions - 1 "
        f"WHERE {key} AND {counted.format(r=row)}; "
        f"DELETE FROM quality_work_hours WHERE {key} AND submissions <= 0"
    )


def _create_triggers(
    dialect: str, add: Callable = _add, remove: Callable = _remove, watch: str = ""
) -> None:
    """The triggers keeping `quality_work_hours`, from `add` and `remove` (migration 0011
    keeps more columns with its own, watching `watch` too)."""
    for table in _SOURCES:
        watched = _WATCHED[table] + watch
        if dialect == "postgresql":
            op.execute(
                f"""
                CREATE FUNCTION {table}_work_hours() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN {remove(dialect, table, "OLD")}; END IF;
                    IF TG_OP <> 'DELETE' THEN {add(dialect, table, "NEW")}; END IF;
                    RETURN NULL;
                END $$
                """
            )
            op.execute(
                f"CREATE TRIGGER {table}_work_hours AFTER INSERT OR DELETE OR UPDATE OF "
                f"{watched} ON {table} FOR EACH ROW EXECUTE FUNCTION "
                f"{table}_work_hours()"
            )
            continue
        op.execute(
            f"CREATE TRIGGER {table}_work_hours_insert AFTER INSERT ON {table} "
            f"BEGIN {add(dialect, table, 'NEW')}; END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_work_hours_delete AFTER DELETE ON {table} "
            f"BEGIN {remove(dialect, table, 'OLD')}; END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_work_hours_update AFTER UPDATE OF {watched} "
            f"ON {table} BEGIN {remove(dialect, table, 'OLD')}; "
            f"{add(dialect, table, 'NEW')}; END"
        )


def _drop_triggers(dialect: str) -> None:
    for table in _SOURCES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER {table}_work_hours ON {table}")
            op.execute(f"DROP FUNCTION {table}_work_hours()")
        else:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {table}_work_hours_{event}")


def _backfill_project_ids(dialect: str) -> None:
    bind = op.get_bind()
    top = bind.scalar(sa.text("SELECT max(id) FROM task_events")) or 0
    if dialect == "postgresql":
        statement = (
            "UPDATE task_events SET project_id = tasks.project_id FROM tasks "
            "WHERE tasks.id = task_events.task_id AND task_events.id > :low "
            "AND task_events.id <= :high"
        )
    else:
        statement = (
            "UPDATE task_events SET project_id = "
            "(SELECT project_id FROM tasks WHERE tasks.id = task_events.task_id) "
            "WHERE id > :low AND id <= :high"
        )
    for low in range(0, top, BACKFILL_SLICE):
        bind.execute(sa.text(statement), {"low": low, "high": low + BACKFILL_SLICE})


def _backfill_hours(dialect: str) -> None:
    selects = []
    for table, (at, counted) in _SOURCES.items():
        hour = _HOUR[dialect].format(f"r.{at}")
        selects.append(
            f"SELECT r.project_id, r.user_id, {hour} AS hour, count(*) AS n FROM {table} r "
            f"WHERE {counted.format(r='r')} GROUP BY r.project_id, r.user_id, {hour}"
        )
    op.execute(
        "INSERT INTO quality_work_hours (project_id, user_id, hour, submissions) "
        f"SELECT project_id, user_id, hour, sum(n) FROM ({' UNION ALL '.join(selects)}) work "
        "GROUP BY project_id, user_id, hour"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # NOT NULL from the start: SQLite adds such a column only with a default, which the
    # backfill then replaces for every row.
    op.add_column(
        "task_events",
        sa.Column("project_id", sa.String(length=24), nullable=False, server_default=""),
    )
    _backfill_project_ids(dialect)
    if dialect == "postgresql":
        op.alter_column("task_events", "project_id", server_default=None)
    op.create_index(
        "ix_task_events_work",
        "task_events",
        ["project_id", "action", "user_id", "duration_ms", "created_at", "stage", "task_id"],
    )
    op.create_index(
        "ix_task_events_pace",
        "task_events",
        ["project_id", "action", "duration_ms", "created_at", "user_id"],
    )
    op.create_index(
        "ix_quality_attempts_times",
        "quality_attempts",
        ["project_id", "kind", "user_id", "duration_ms", "submitted_at", "score"],
    )
    op.create_table(
        "quality_work_hours",
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("hour", sa.String(length=13), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "user_id", "hour"),
    )
    op.create_index("ix_quality_work_hours_hour", "quality_work_hours", ["project_id", "hour"])
    _backfill_hours(dialect)
    _create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    op.drop_table("quality_work_hours")
    op.drop_index("ix_quality_attempts_times", table_name="quality_attempts")
    op.drop_index("ix_task_events_pace", table_name="task_events")
    op.drop_index("ix_task_events_work", table_name="task_events")
    if dialect == "sqlite":
        op.execute("ALTER TABLE task_events DROP COLUMN project_id")
    else:
        op.drop_column("task_events", "project_id")
