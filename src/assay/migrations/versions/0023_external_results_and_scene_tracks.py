"""External scenario functions and their uploaded results; a scene's tracks

Scale Validate's external evaluation functions (`scenario_external_functions`) are metrics
whose values are computed outside Assay and uploaded: a metric names one
(`scenario_test_metrics.external_function_id`), and an upload is a scenario result without
an evaluation (`scenario_test_results.evaluation_id` nullable) keeping its per-entity values
(`uploaded`). A scene keeps the tracks it declares with their metadata
(`dataset_scenes.tracks`). See `curation/models.py`.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import assay.core.db

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scenario_external_functions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_scenario_external_functions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_external_functions")),
        sa.UniqueConstraint("mode", "name", name=op.f("uq_scenario_external_functions_mode_name")),
    )
    # A plain ADD COLUMN: rebuilding scenario_test_metrics (batch mode) would drop the old
    # table, and with foreign keys on that deletes every result of its metrics (CASCADE).
    op.add_column(
        "scenario_test_metrics",
        sa.Column("external_function_id", sa.String(length=24), nullable=True),
    )
    # scenario_test_results is referred to by no table: rebuilding it is safe.
    with op.batch_alter_table("scenario_test_results") as batch_op:
        batch_op.alter_column("evaluation_id", existing_type=sa.String(length=24), nullable=True)
        batch_op.add_column(sa.Column("uploaded", JSON, nullable=True))
    op.add_column(
        "dataset_scenes",
        sa.Column("tracks", JSON, nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    _drop_column("dataset_scenes", "tracks")
    op.execute("DELETE FROM scenario_test_results WHERE evaluation_id IS NULL")
    with op.batch_alter_table("scenario_test_results") as batch_op:
        batch_op.drop_column("uploaded")
        batch_op.alter_column("evaluation_id", existing_type=sa.String(length=24), nullable=False)
    op.execute("DELETE FROM scenario_test_metrics WHERE external_function_id IS NOT NULL")
    _drop_column("scenario_test_metrics", "external_function_id")
    op.drop_table("scenario_external_functions")


def _drop_column(table: str, name: str) -> None:
    # SQLite ≥ 3.35 drops a plain column in place (see 0022: batch mode would rebuild it).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
    else:
        op.drop_column(table, name)
