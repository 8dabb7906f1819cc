"""the quality overview's counts and mean times kept per hour: quality_work_hours.timed, total_ms

The overview at 1,000,000 tasks and 100,000 submissions spent ~50 ms of PostgreSQL's time
counting every submission per labeler (bench/quality_stats.py). `quality_work_hours` already
holds submissions per project, labeler and hour, kept by triggers (migration 0007); it now
also holds how many of them have a time and the sum of those times, so the counts and mean
times are a grouped read of that table. The triggers are replaced by ones that keep the new
columns too (and watch `duration_ms`); the table is recounted from the history.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 01:50:00
"""

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0007 defines which rows are work, how an hour is written and its own triggers
# (restored by the downgrade).
_0007 = importlib.import_module("assay.migrations.versions.0007_quality_overview_at_scale")
_TIMED = "CASE WHEN {r}.duration_ms IS NULL THEN 0 ELSE 1 END"
_MS = "coalesce({r}.duration_ms, 0)"


def _add(dialect: str, table: str, row: str) -> str:
    at, counted = _0007._SOURCES[table]
    hour = _0007._HOUR[dialect].format(f"{row}.{at}")
    return (
        "INSERT INTO quality_work_hours (project_id, user_id, hour, submissions, timed, total_ms) "
        f"SELECT {row}.project_id, {row}.user_id, {hour}, 1, {_TIMED.format(r=row)}, "
        f"{_MS.format(r=row)} WHERE {counted.format(r=row)} "
        "ON CONFLICT (project_id, user_id, hour) DO UPDATE SET "
        "submissions = quality_work_hours.submissions + 1, "
        "timed = quality_work_hours.timed + excluded.timed, "
        "total_ms = quality_work_hours.total_ms + excluded.total_ms"
    )


def _remove(dialect: str, table: str, row: str) -> str:
    at, counted = _0007._SOURCES[table]
    hour = _0007._HOUR[dialect].format(f"{row}.{at}")
    key = f"project_id = {row}.project_id AND user_id = {row}.user_id AND hour = {hour}"
    return (
        "UPDATE quality_work_hours SET submissions = submissions - 1, "
        f"timed = timed - {_TIMED.format(r=row)}, total_ms = total_ms - {_MS.format(r=row)} "
        f"WHERE {key} AND {counted.format(r=row)}; "
        f"DELETE FROM quality_work_hours WHERE {key} AND submissions <= 0"
    )


def _recount(dialect: str) -> None:
    selects = []
    for table, (at, counted) in _0007._SOURCES.items():
        hour = _0007._HOUR[dialect].format(f"r.{at}")
        selects.append(
            f"SELECT r.project_id, r.user_id, {hour} AS hour, count(*) AS n, "
            "count(r.duration_ms) AS timed, coalesce(sum(r.duration_ms), 0) AS total_ms "
            f"FROM {table} r WHERE {counted.format(r='r')} "
            f"GROUP BY r.project_id, r.user_id, {hour}"
        )
    op.execute("DELETE FROM quality_work_hours")
    op.execute(
        "INSERT INTO quality_work_hours (project_id, user_id, hour, submissions, timed, total_ms) "
        "SELECT project_id, user_id, hour, sum(n), sum(timed), sum(total_ms) "
        f"FROM ({' UNION ALL '.join(selects)}) work GROUP BY project_id, user_id, hour"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _0007._drop_triggers(dialect)
    op.add_column(
        "quality_work_hours",
        sa.Column("timed", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "quality_work_hours",
        sa.Column("total_ms", sa.Float(), nullable=False, server_default="0"),
    )
    _recount(dialect)
    _0007._create_triggers(dialect, _add, _remove, ", duration_ms")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _0007._drop_triggers(dialect)
    if dialect == "sqlite":
        op.execute("ALTER TABLE quality_work_hours DROP COLUMN total_ms")
        op.execute("ALTER TABLE quality_work_hours DROP COLUMN timed")
    else:
        op.drop_column("quality_work_hours", "total_ms")
        op.drop_column("quality_work_hours", "timed")
    _0007._create_triggers(dialect)
