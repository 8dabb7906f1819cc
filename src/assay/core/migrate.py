"""Alembic, driven from code: migrations ship inside the package."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from assay.core.db import Database

log = logging.getLogger(__name__)

# Indexes with expression columns (e.g. `priority DESC`) or a WHERE clause: Alembic cannot
# compare them on PostgreSQL, so they are written by hand in migrations and checked by name
# in the tests.
EXPRESSION_INDEXES = frozenset(
    {"ix_tasks_queue", "ix_tasks_free", "ix_tasks_lease_user", "ix_tasks_lease_expiry"}
)

# Foreign keys SQLite keeps and the models do not declare: PostgreSQL dropped them for bulk
# appends' sake, and dropping them on SQLite would mean rebuilding the tables (0027).
SQLITE_ONLY_FOREIGN_KEYS = frozenset(
    {"fk_dataset_items_dataset_id_datasets", "fk_dataset_annotations_item_id_dataset_items"}
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    before, _ = revision_status(db)
    command.upgrade(alembic_config(db), revision)
    after, _ = revision_status(db)
    if before != after:
        log.info("database migrated from %s to %s", before or "empty", after)


def heads() -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return list(ScriptDirectory.from_config(config).get_heads())


def revision_status(db: Database) -> tuple[str | None, str]:
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    (head,) = heads()
    return current, head
