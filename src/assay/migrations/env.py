"""Alembic environment: the engine comes from `assay.core.migrate` (or ASSAY_DATABASE_URL)."""

from __future__ import annotations

from alembic import context

import assay.models_registry  # noqa: F401  (registers every table on the metadata)
from assay.core.db import Base, Database
from assay.core.migrate import EXPRESSION_INDEXES, SQLITE_ONLY_FOREIGN_KEYS
from assay.core.settings import get_settings

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    engine = Database(get_settings().resolved_database_url).engine

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=lambda obj, name, type_, *_: (
            not (
                (type_ == "index" and name in EXPRESSION_INDEXES)
                or (type_ == "foreign_key_constraint" and name in SQLITE_ONLY_FOREIGN_KEYS)
            )
        ),
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
