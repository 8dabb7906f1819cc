"""Every difference between SQLite and PostgreSQL lives here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Select, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def engine_options(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Many API threads share a handful of connections; readers never block in WAL mode.
        return {
            "pool_size": 16,
            "max_overflow": 16,
            "pool_timeout": 60,
            "connect_args": {"check_same_thread": False, "timeout": 30},
        }
    return {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True, "pool_timeout": 60}


def configure(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from pysqlite so `on_begin` can issue BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "synchronous=NORMAL",
        f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "temp_store=MEMORY",
        "cache_size=-65536",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def on_begin(conn: Any) -> None:
    """Called at the start of every transaction on any engine."""
    if conn.dialect.name != "sqlite":
        return
    if conn.get_execution_options().get("assay_write"):
        # Take the write lock up front: a deferred transaction that later upgrades to a
        # writer fails with SQLITE_BUSY without waiting, which loses the whole unit of work.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def skip_locked(stmt: Select, dialect_name: str) -> Select:
    """Row claims: PostgreSQL skips rows other transactions hold; SQLite serialises writers
    with BEGIN IMMEDIATE, so a plain select inside the write transaction is already exclusive."""
    if dialect_name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def insert(table: Any, dialect_name: str) -> Any:
    """An INSERT that supports `on_conflict_do_nothing` / `on_conflict_do_update`."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)


def normalise_url(url: str) -> str:
    """Accept plain postgres URLs and pick the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
