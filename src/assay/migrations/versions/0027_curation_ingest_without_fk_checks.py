"""Appends to a dataset without per-row foreign-key checks on PostgreSQL

PostgreSQL checks a foreign key with one `SELECT … FOR KEY SHARE` per inserted row, and the
share lock is written into the referenced row: a bulk append of 10,000 items paid it twice
per item (each item → its dataset, each item's shapes → the item), ~25 µs a row each, 3.5 times
the time of inserting the shapes alone (measured on this machine, 0.38 s vs 0.11 s per
10,000 rows). These two references are kept by the code instead: every path that deletes
items deletes their shapes first, and deletes a dataset's items before the dataset
(`items.delete_items`, `jobs.delete_dataset`); every path that writes shapes for existing
items holds the dataset's row lock while it resolves them (`datasets.lock_dataset`), so no
delete can slip between. SQLite's checks are cheap (an index probe, no write) and dropping a
constraint there means rebuilding the table, which with foreign keys on would cascade into
every table referencing it: SQLite keeps them (`migrations/env.py` does not compare them).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, column, referred table) — kept on SQLite only.
DROPPED = (
    ("dataset_items", "fk_dataset_items_dataset_id_datasets", "dataset_id", "datasets"),
    (
        "dataset_annotations",
        "fk_dataset_annotations_item_id_dataset_items",
        "item_id",
        "dataset_items",
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, _column, _referred in DROPPED:
        op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, column, referred in DROPPED:
        op.create_foreign_key(name, table, referred, [column], ["id"], ondelete="CASCADE")
