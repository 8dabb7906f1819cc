"""dataset_evaluation_results: a finished evaluation's matches and state move out of its
row. SQLite keeps a row's columns in order and walks a blob's overflow pages to reach the
ones after it, so every scan of `dataset_evaluations` (the snapshot's "evaluated since?",
the list) read every stored evaluation's megabytes.

See `curation/models.py::EvaluationResult`.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_evaluation_results",
        sa.Column("evaluation_id", sa.String(length=24), nullable=False),
        sa.Column("matches", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["dataset_evaluations.id"],
            name=op.f("fk_dataset_evaluation_results_evaluation_id_dataset_evaluations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("evaluation_id", name=op.f("pk_dataset_evaluation_results")),
    )
    op.execute(
        "INSERT INTO dataset_evaluation_results (evaluation_id, matches, state) "
        "SELECT id, matches, state FROM dataset_evaluations "
        "WHERE matches IS NOT NULL AND state IS NOT NULL"
    )
    _drop_columns("matches", "state")


def downgrade() -> None:
    for name in ("matches", "state"):
        op.add_column("dataset_evaluations", sa.Column(name, sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE dataset_evaluations SET "
        "matches = (SELECT r.matches FROM dataset_evaluation_results r "
        "WHERE r.evaluation_id = dataset_evaluations.id), "
        "state = (SELECT r.state FROM dataset_evaluation_results r "
        "WHERE r.evaluation_id = dataset_evaluations.id)"
    )
    op.drop_table("dataset_evaluation_results")


def _drop_columns(*names: str) -> None:
    # SQLite ≥ 3.35 drops a plain column in place. Alembic's batch mode would copy the table
    # and drop the old one, and with foreign keys on, dropping it deletes (ON DELETE
    # CASCADE) every scenario test result that refers to an evaluation.
    for name in names:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE dataset_evaluations DROP COLUMN {name}")
        else:
            op.drop_column("dataset_evaluations", name)
