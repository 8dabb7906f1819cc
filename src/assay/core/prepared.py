"""Prepared statements for the hottest paths (the labeling queue's next and submit).

A `Prepared` is a Core statement compiled once per dialect and run on the DBAPI cursor of a
connection SQLAlchemy manages: its transaction, pool, events and writer lock stay SQLAlchemy's,
and parameters and results go through SQLAlchemy's own bind and result processors (the
column types: JSON, UTC datetimes), so values are exactly those `Connection.execute` gives.
What is skipped is the per-call execution context — the cache-key lookup, parameter
construction, event dispatch and result metadata — about 60 µs a statement on this machine
(profiled), more than SQLite takes to run most of them. Use it only where that matters.

On a `core.loop_db.LoopConnection` (PostgreSQL's queue on the event loop) the same compiled
statement runs on psycopg's asyncio cursor instead, awaited from the request's greenlet.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, String, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, ColumnElement

from assay.core.loop_db import LoopConnection


class _Compiled:
    """One statement compiled for one dialect: its SQL, how to bind, how to read rows."""

    __slots__ = ("binds", "defaults", "generated", "positional", "read", "row", "sql", "types")

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("Prepared supports statements without expanding parameters")
        self.sql = compiled.string
        # Values of the statement's own literals (`kind = 'training'`, LIMIT 1); the caller's
        # parameters fill in the rest.
        self.defaults = dict(compiled.construct_params(_check=False))
        # Columns whose Python-side default or onupdate SQLAlchemy computes per execution
        # (`updated_at`): the same callables, called here.
        self.generated = tuple(
            (column.key, _generator(column, insert=column in compiled.insert_prefetch))
            for column in (*compiled.insert_prefetch, *compiled.update_prefetch)
        )
        processors = compiled._bind_processors
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or ()) if self.positional else list(self.defaults)
        self.binds = tuple((name, processors.get(name)) for name in names)
        columns = compiled._result_columns
        self.row = namedtuple("Row", [column[0] for column in columns]) if columns else None  # type: ignore[misc]
        self.types = [(column[3], dialect) for column in columns]
        self.read: Any = None  # made from the first result's type codes

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values = self.defaults | dict(params) if params else dict(self.defaults)
        for name, generate in self.generated:
            if name not in params:
                values[name] = generate()
        if self.positional:
            return tuple(
                process(values[name]) if process is not None else values[name]
                for name, process in self.binds
            )
        return {
            name: process(values[name]) if process is not None else values[name]
            for name, process in self.binds
        }

    def reader(self, cursor: Any) -> Any:
        """A function from a raw row to a row with attributes."""
        if self.read is None:
            readers = tuple(
                type_._cached_result_processor(dialect, description[1])
                for (type_, dialect), description in zip(
                    self.types, cursor.description, strict=True
                )
            )
            make = self.row._make  # type: ignore[union-attr]
            self.read = lambda raw: make(
                read(value) if read is not None else value
                for read, value in zip(readers, raw, strict=True)
            )
        return self.read


def constant(value: str) -> ColumnElement[str]:
    """`value` written into the SQL instead of bound, for a filter on a skewed column
    (`tasks.kind = 'training'`, `status = 'pending'`).

    PostgreSQL plans a statement prepared on a connection once for all its parameters (a
    generic plan) and cannot know that a bound value is rare: after an ANALYZE found every
    task `production`, `kind = $1` was estimated to match every row, so the check for a
    training course became a sequential scan that read all 40,000 tasks to find none — on
    every next task (bench/labeling_queue.py fell to ~70 cycles/s). Written out, the value's
    own statistics are used and the plan holds."""
    return literal_column("'" + value.replace("'", "''") + "'", String)


def _generator(column: Any, *, insert: bool) -> Any:
    default = column.default if insert else column.onupdate
    if default.is_scalar:
        return lambda: default.arg
    if default.is_callable:
        return lambda: default.arg(None)
    raise ValueError(f"Prepared cannot compute the default of {column}")


class Prepared:
    """A Core statement prepared lazily for each dialect it meets."""

    __slots__ = ("_by_dialect", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        compiled = self._compiled(conn)
        if isinstance(conn, LoopConnection):
            cursor: Any = conn.cursor()
        else:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(compiled.sql, compiled.parameters(params))
        return compiled, cursor

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first row (attribute access by column key), or None."""
        compiled, cursor = self._run(conn, params)
        try:
            raw = cursor.fetchone()
            return None if raw is None else compiled.reader(cursor)(raw)
        finally:
            cursor.close()

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        compiled, cursor = self._run(conn, params)
        try:
            rows = cursor.fetchall()
            if not rows:
                return []
            read = compiled.reader(cursor)
            return [read(raw) for raw in rows]
        finally:
            cursor.close()

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute a statement that returns no rows; the number of rows it changed."""
        _, cursor = self._run(conn, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()
