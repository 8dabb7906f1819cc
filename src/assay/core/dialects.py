"""Every difference between SQLite and PostgreSQL lives here."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
from pydantic_core import PydanticSerializationError, to_json
from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Select,
    and_,
    any_,
    bindparam,
    cast,
    event,
    exists,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError

try:
    import fcntl
except ImportError:  # Windows: one process per SQLite file
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 30_000


_JSON = msgspec.json.Decoder()


def json_loads(text: str | bytes) -> Any:
    """JSON columns read back with msgspec (3-4x the standard library's speed: a page of 50
    items carries ~300 shapes); anything it refuses (NaN, an integer past 64 bits written by
    `json.dumps`) falls back to the standard library, which wrote it."""
    try:
        return _JSON.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def engine_options(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Many API threads share a handful of connections; readers never block in WAL mode.
        return {
            "json_deserializer": json_loads,
            "pool_size": 16,
            "max_overflow": 16,
            "pool_timeout": 60,
            "connect_args": {"check_same_thread": False, "timeout": 30},
        }
    # No `pool_pre_ping`: it costs a round trip on every checkout, two per queue cycle
    # (a fifth of the labeling queue's time on PostgreSQL); `_ping_if_idle` pings only a
    # connection that sat in the pool, which is where a dead one comes from.
    return {
        "json_deserializer": json_loads,
        "pool_size": 10,
        "max_overflow": 20,
        "pool_timeout": 60,
    }


# A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0


def configure(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    else:
        event.listen(engine, "checkin", _mark_checked_in)
        event.listen(engine, "checkout", _ping_if_idle)


def _mark_checked_in(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's documented pessimistic disconnect check, for idle connections only: a
    connection the server dropped (restart, idle timeout) is replaced before any use."""
    if time.monotonic() - record.info.get("checked_in", 0.0) < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:  # any failure: the pool drops it and connects anew
        raise DisconnectionError(f"pooled connection is unusable: {exc}") from exc


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


# One writer at a time per SQLite file. SQLite's own lock makes waiting writers poll with
# sleeps of up to 100 ms, so under contention most of them sleep while the file is free and
# latency explodes (profiled: 78 % of request time in BEGIN IMMEDIATE at 64 concurrent
# labelers). Writers queue instead on a thread lock in the process and an flock(2) on a
# lock file beside the database across processes (`assay serve --processes N`, `assay
# worker`): the kernel wakes the next waiter the moment the file is released, and a process
# that dies releases its lock with it. SQLite's own lock stays the last line of defence.
_writer_locks: dict[str, tuple[threading.Lock, int | None]] = {}
_writer_locks_guard = threading.Lock()
_held = threading.local()


def _lock_file_fd(url: Any) -> int | None:
    database = url.database
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)


def _writer_lock(url: Any) -> tuple[threading.Lock, int | None]:
    key = str(url)
    with _writer_locks_guard:
        if key not in _writer_locks:
            _writer_locks[key] = (threading.Lock(), _lock_file_fd(url))
        return _writer_locks[key]


# How long work that must not wait (`writer_or_busy`) may still wait for the writer lock:
# the queue's own writes hold it for a fraction of a millisecond, so most waits end well
# within this, and handing the request to a thread (and reading again) costs more than the
# wait; a longer write elsewhere (a bulk import) sends the request to a thread instead.
INLINE_WRITER_WAIT_SECONDS = 0.01


def _flock_briefly(fd: int) -> None:
    deadline = time.monotonic() + INLINE_WRITER_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise WriterBusy from None
            time.sleep(0.0002)


class WriterBusy(Exception):
    """Inside `writer_or_busy()`: the SQLite writer lock is held elsewhere, so a write
    transaction was refused at its BEGIN (nothing was written) instead of waiting."""


_no_wait = threading.local()


@contextmanager
def writer_or_busy() -> Iterator[None]:
    """Run work that must not wait long for SQLite's writer lock — the labeling queue's
    requests, run on the event loop itself, where a wait stalls every request of the
    process: a write transaction that would have to wait longer than
    `INLINE_WRITER_WAIT_SECONDS` raises `WriterBusy` at its BEGIN, and the caller runs the
    work again on a thread, which may wait."""
    _no_wait.on = True
    try:
        yield
    finally:
        _no_wait.on = False


def on_begin(conn: Any) -> None:
    """Called at the start of every transaction on any engine."""
    if conn.dialect.name != "sqlite":
        return
    if conn.get_execution_options().get("assay_write"):
        lock, fd = _writer_lock(conn.engine.url)
        no_wait = getattr(_no_wait, "on", False)
        if no_wait:
            # Only the scope's first write may be refused: before it nothing was written,
            # so running the work again is safe; any later one waits as usual.
            _no_wait.on = False
            if not lock.acquire(timeout=INLINE_WRITER_WAIT_SECONDS):
                raise WriterBusy
        elif not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise TimeoutError("the database is busy: another write held it for too long")
        _held.lock = (lock, fd)
        try:
            if fd is not None:
                if no_wait:
                    _flock_briefly(fd)
                else:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL
            # Take SQLite's write lock up front: a deferred transaction that later upgrades
            # to a writer fails with SQLITE_BUSY without waiting, losing the unit of work.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            release_writer()
            raise
    else:
        conn.exec_driver_sql("BEGIN")


def release_writer() -> None:
    """End of a write transaction (after COMMIT or ROLLBACK): let the next writer in."""
    held = getattr(_held, "lock", None)
    if held is not None:
        _held.lock = None
        lock, fd = held
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            lock.release()


def for_reports(conn: Any) -> None:
    """Before a transaction of report statements (grouped reads over many rows, planned at
    a high cost): on PostgreSQL, no JIT compilation, which costs more than it saves on
    them (the quality overview: the review walk 120 → 90 ms at 100,000 submissions)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


def skip_locked(stmt: Select, dialect_name: str) -> Select:
    """Row claims: PostgreSQL skips rows other transactions hold; SQLite serialises writers
    with BEGIN IMMEDIATE, so a plain select inside the write transaction is already exclusive."""
    if dialect_name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def in_values(column: Any, values: Sequence[Any], dialect_name: str) -> Any:
    """`column IN (values)` for a list that changes with every call (a page's ids). On
    PostgreSQL, `column = ANY(:array)`: one bound array, so the statement's text is the same
    for every list — SQLAlchemy does not render fifty literals per call and psycopg prepares
    it once (half the time of the explorer's page read, scratch-measured 0.8 vs 1.7 ms);
    SQLite gets the usual expanding IN."""
    if dialect_name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def insert(table: Any, dialect_name: str) -> Any:
    """An INSERT that supports `on_conflict_do_nothing` / `on_conflict_do_update`."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)


def insert_rows(
    connection: Connection,
    table: Any,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    *,
    encoded: Collection[str] = (),
) -> None:
    """INSERT many rows (tuples in `columns` order, plus `constants` shared by every row)
    straight through the driver: `executemany` on SQLite, COPY on PostgreSQL. `encoded`
    names columns whose values are given as the driver takes them (JSON as `str` text,
    encoded before a write transaction): nothing is done to them per row.

    The bulk path for tens of thousands of rows: SQLAlchemy's per-row parameter handling
    was most of a 10,000-row insert (profiled). Values are bound by their column type's own
    bind processor (UTC datetimes ...), constants once; JSON is stored as compact JSON text,
    the values SQLAlchemy's JSON type reads back (a JSON value given as `bytes` is taken to be
    JSON text already, as msgspec encodes it). None is SQL NULL, JSON columns included.
    Driver errors are raised as SQLAlchemy's (IntegrityError ...).
    """
    dialect = connection.dialect
    constants = dict(constants or {})
    processors = [
        (i, _bind_processor(table.c[name], dialect))
        for i, name in enumerate(columns)
        if name not in encoded
    ]
    processors = [(i, process) for i, process in processors if process is not None]
    shared = tuple(
        None if value is None else (_bind_processor(table.c[name], dialect) or _same)(value)
        for name, value in constants.items()
    )

    def bound(row: Sequence[Any]) -> tuple[Any, ...]:
        if not processors:
            return (*row, *shared)
        values = list(row)
        for i, process in processors:
            if values[i] is not None:
                values[i] = process(values[i])
        return (*values, *shared)

    names = [*columns, *constants]
    preparer = dialect.identifier_preparer
    target = f"{preparer.format_table(table)} ({', '.join(map(preparer.quote, names))})"
    if dialect.name == "postgresql":
        statement = f"COPY {target} FROM STDIN"
        try:
            with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(bound(row))
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        return
    placeholders = ", ".join("?" * len(names))
    connection.exec_driver_sql(
        f"INSERT INTO {target} VALUES ({placeholders})", [bound(row) for row in rows]
    )


def _bind_processor(column: Any, dialect: Any) -> Any:
    if isinstance(column.type, JSON):
        return _json_text
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _json_text(value: Any) -> str:
    if type(value) is bytes:  # encoded already (see insert_rows)
        return value.decode()
    # pydantic-core's encoder is several times faster than json.dumps on small objects.
    try:
        return to_json(value).decode()
    except PydanticSerializationError:  # e.g. a lone surrogate, which json.dumps escapes
        return json.dumps(value)


def _same(value: Any) -> Any:
    return value


def normalise_url(url: str) -> str:
    """Accept plain postgres URLs and pick the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def json_array_contains(column: Any, value: Any, dialect_name: str) -> Any:
    """A JSON array column holds `value` (tags)."""
    if dialect_name == "postgresql":
        return type_coerce(column, postgresql.JSONB).contains([value])
    items = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(items.c.value == value))


def json_key_equals(column: Any, key: str, value: Any, dialect_name: str) -> Any:
    """A JSON object column has `key` equal to `value` (same JSON type and value)."""
    encoded = json.dumps(value)
    if dialect_name == "postgresql":
        jsonb = postgresql.JSONB
        return type_coerce(column, jsonb)[key] == cast(literal(encoded), jsonb)
    path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return and_(
        func.json_type(column, path) == func.json_type(encoded),
        func.json_extract(column, path) == func.json_extract(encoded, "$"),
    )
