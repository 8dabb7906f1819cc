"""Whether another connection is inside a write transaction right now (for kill -9 tests
that must land the kill inside one)."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa


def writing(db, dialect: str, tables: tuple[str, ...]) -> bool:
    """SQLite: another connection holds the write lock. PostgreSQL: another connection's open
    transaction is running a statement that names one of `tables`."""
    if dialect == "sqlite":
        probe = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return True
            raise
        else:
            probe.execute("ROLLBACK")
            return False
        finally:
            probe.close()
    names = " OR ".join(f"query ILIKE :t{i}" for i in range(len(tables)))
    with db.engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    f"AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND ({names})"
                ),
                {f"t{i}": f"%{table}%" for i, table in enumerate(tables)},
            ).scalar()
        )
