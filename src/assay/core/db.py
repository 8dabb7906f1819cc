"""The database: engine, sessions, the declarative base and portable column types.

Services receive an explicit `Session`; the caller owns the transaction. Writes go through
`Database.write()` (on SQLite a short `BEGIN IMMEDIATE` transaction, so writers queue on the
busy timeout instead of failing mid-transaction), reads through `Database.read()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from assay.core import dialects
from assay.core.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# JSON kept as its text on PostgreSQL (`json`, not `jsonb`): for documents only ever read and
# written whole, never queried inside — parsing them into `jsonb` and printing them back was
# a third of a bulk append's PostgreSQL time (bench/curation_ingest.py). No equality: never
# DISTINCT, GROUP BY or UNION over such a column.
JSONWhole = JSON()


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every dialect (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> Any:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Phases:
    read: Callable[[], AbstractContextManager[Connection]]
    write: Callable[[], AbstractContextManager[Connection]]
    # A write phase that needs several statements to commit together, whatever `write` is.
    transaction: Callable[[], AbstractContextManager[Connection]]


class Database:
    """One engine per process, with separate read and write entry points."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        url = dialects.normalise_url(url)
        self.url = url
        self.engine: Engine = create_engine(url, echo=echo, **dialects.engine_options(url))
        dialects.configure(self.engine)
        self._write_engine = self.engine.execution_options(assay_write=True)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any exception.

        The transaction (and, on SQLite, this process's writer lock) begins at the first
        statement, so work done before it — hashing an upload, say — holds no lock."""
        try:
            with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
                yield session
        finally:
            dialects.release_writer()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read_statements(self) -> Iterator[Session]:
        """Reads on PostgreSQL without BEGIN and COMMIT (autocommit): the same view of the data
        as `read()` there — at READ COMMITTED every statement sees what is committed when it
        starts — for two round trips less (the explorer's page: a dataset row, then its page
        of items). On SQLite, `read()` (one snapshot for every statement)."""
        if self.dialect == "sqlite":
            with self.read() as session:
                yield session
            return
        with Session(self._autocommit_engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """`write()` without the ORM: a Core connection in a write transaction, for hot paths
        that issue a few prebuilt statements (the labeling queue)."""
        try:
            with self._write_engine.begin() as connection:
                yield connection
        finally:
            dialects.release_writer()

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def phases(self, *, atomic_statements: bool = False) -> Iterator[Phases]:
        """A read phase then a write phase, for hot paths that check before they write.

        SQLite: the reads outside any transaction, so they and the work between them
        (validation) hold no writer lock — each prepared read is its own snapshot and no
        BEGIN/COMMIT is spent on them (a statement through `Connection.execute` still opens
        a read transaction, rolled back at the end); then the write transaction.
        PostgreSQL: one transaction (its writers do not queue on one lock), which saves a
        BEGIN/COMMIT round trip pair — or, when the caller says each of its writes is one
        statement that stands on its own (`atomic_statements`), no transaction at all: every
        statement commits by itself, and the BEGIN and COMMIT round trips are saved too."""
        if self.dialect == "sqlite":
            yield Phases(self.engine.connect, self.write_connection, self.write_connection)
            return
        if atomic_statements:
            with self._autocommit_engine.connect() as connection:
                same = nullcontext(connection)
                yield Phases(lambda: same, lambda: same, self.write_connection)
            return
        with self.write_connection() as connection:
            same = nullcontext(connection)
            yield Phases(lambda: same, lambda: same, lambda: same)

    def dispose(self) -> None:
        self.engine.dispose()


@event.listens_for(Engine, "begin")
def _begin(conn: Any) -> None:
    dialects.on_begin(conn)


def id_column() -> Mapped[str]:
    """A table's primary key: a time-ordered 24-hex id (`core/ids.py`)."""
    return mapped_column(String(24), primary_key=True, default=new_id)


def created_column() -> Mapped[dt.datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)
