"""Items' shapes kept as JSON text on PostgreSQL

`dataset_annotations.shapes` from `jsonb` to `json` on PostgreSQL: an item's shapes are read
and written whole (the snapshots flatten them), never queried inside, so parsing them into
`jsonb` on every append and printing them back on every read was work for nothing — a third
of a bulk append's PostgreSQL time. SQLite keeps JSON as text already. See `core/db.py`
(`JSONWhole`).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE dataset_annotations ALTER COLUMN shapes TYPE json USING shapes::json"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE dataset_annotations ALTER COLUMN shapes TYPE jsonb USING shapes::jsonb"
        )
