"""PostgreSQL statements on the event loop, for the labeling queue's hot path.

Next and submit on PostgreSQL are a few `Prepared` statements each. Run on a worker thread,
every request paid for the thread hop, SQLAlchemy's pool checkout and the interpreter lock
passing between the loop and the threads — more than the statements themselves (measured:
~200 µs of CPU per statement that way against ~100 µs here). Here the request's own
synchronous code runs unchanged in a greenlet on the loop (SQLAlchemy's `greenlet_spawn`),
and each `Prepared` statement awaits psycopg's asyncio cursor from there (`await_only`):
one thread per process, no hand-offs.

Only `Prepared` statements on a `LoopConnection` run here. Anything else the work asks of
the database — a Core or ORM statement, a transaction, a session — raises `NeedsThread`
before it is done, and the caller runs the whole work again on a thread, as before. Work
handed to `run` must therefore write nothing before it could ask for those, except writes
that are safe to repeat (the queue's are: its sweep of expired leases, and a submission's
one statement, which writes nothing when it refuses to stand alone).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.util import await_only, greenlet_spawn

from assay.core import dialects

if TYPE_CHECKING:  # psycopg is the `postgres` extra's
    import psycopg

try:  # the `postgres` extra's too; without it the queue runs on threads
    import greenlet  # noqa: F401

    AVAILABLE = True
except ImportError:  # pragma: no cover
    AVAILABLE = False

T = TypeVar("T")


class NeedsThread(Exception):
    """The work asked for something only a thread's connection does; run it there."""


class _AwaitingCursor:
    """A synchronous DBAPI cursor's face on psycopg's asyncio cursor (inside `run`)."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Any) -> None:
        await_only(self._cursor.execute(sql, params))

    def fetchone(self) -> Any:
        return await_only(self._cursor.fetchone())

    def fetchall(self) -> list[Any]:
        return await_only(self._cursor.fetchall())

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def close(self) -> None:
        """Nothing to do: the connection's one cursor serves its next statement too (a new
        psycopg cursor per statement cost ~15 µs more, measured)."""


class LoopConnection:
    """What `Prepared` runs on inside `run`: each statement commits on its own (autocommit),
    as on `Database.phases(atomic_statements=True)`'s PostgreSQL connection."""

    __slots__ = ("_connection", "_cursor", "dialect")

    def __init__(self, connection: psycopg.AsyncConnection[Any], dialect: Dialect) -> None:
        self._connection = connection
        self._cursor = _AwaitingCursor(connection.cursor())
        self.dialect = dialect

    def cursor(self) -> _AwaitingCursor:
        return self._cursor

    def __getattr__(self, name: str) -> Any:
        # execute, scalar, begin…: anything but a `Prepared` statement needs a thread.
        raise NeedsThread(f"Connection.{name}")


class LoopDatabase:
    """`Database`'s face inside `run`: `phases(atomic_statements=True)` hands out a
    `LoopConnection` from the pool; everything else needs a thread."""

    dialect = "postgresql"

    def __init__(self, pool: LoopPool) -> None:
        self._pool = pool

    @contextmanager
    def phases(self, *, atomic_statements: bool = False) -> Iterator[Any]:
        from assay.core.db import Phases

        if not atomic_statements:
            raise NeedsThread("a transaction")
        connection = self._pool.acquire()
        try:
            same = nullcontext(connection)
            yield Phases(lambda: same, lambda: same, _needs_thread)
        finally:
            self._pool.release(connection)

    def __getattr__(self, name: str) -> Any:
        # write, read, engine…: sessions and transactions need a thread.
        raise NeedsThread(f"Database.{name}")


def _needs_thread() -> Any:
    raise NeedsThread("a transaction")


class LoopPool:
    """A few autocommit asyncio connections of one process, for `run`.

    At most `size` at once; the rest of the requests wait their turn on the loop. As with
    the engine's pool (`dialects._ping_if_idle`), a connection that sat unused for a while is
    pinged before use and replaced if the server dropped it; one that fails is discarded."""

    # How these connections show in pg_stat_activity.
    APPLICATION_NAME = "assay-queue-loop"

    def __init__(self, engine: Engine, size: int) -> None:
        self._dialect = engine.dialect
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (args, {"application_name": self.APPLICATION_NAME, **kwargs})
        self.loop = asyncio.get_running_loop()
        self._idle: list[tuple[LoopConnection, float]] = []
        self._slots = asyncio.Semaphore(size)
        self.closed = False

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        args, kwargs = self._connect_args
        return await psycopg.AsyncConnection.connect(*args, **kwargs, autocommit=True)

    async def _checkout(self) -> LoopConnection:
        import psycopg

        await self._slots.acquire()
        try:
            while self._idle:
                connection, since = self._idle.pop()
                if time.monotonic() - since < dialects.IDLE_PING_SECONDS:
                    return connection
                try:
                    await connection._connection.execute("SELECT 1")
                    return connection
                except psycopg.Error:
                    await connection._connection.close()
            return LoopConnection(await self._connect(), self._dialect)
        except BaseException:
            self._slots.release()
            raise

    def acquire(self) -> LoopConnection:
        """A connection for the calling greenlet (inside `run`)."""
        return await_only(self._checkout())

    def release(self, connection: LoopConnection) -> None:
        from psycopg.pq import TransactionStatus

        raw = connection._connection
        try:
            if (
                self.closed
                or raw.broken
                or raw.closed
                or raw.info.transaction_status != TransactionStatus.IDLE
            ):
                await_only(raw.close())
            else:
                self._idle.append((connection, time.monotonic()))
        finally:
            self._slots.release()

    async def close(self) -> None:
        self.closed = True
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            await connection._connection.close()


async def run(pool: LoopPool, work: Callable[[Any], T]) -> T:
    """`work(LoopDatabase)` on the loop; `NeedsThread` when it must run on a thread instead."""
    return await greenlet_spawn(work, LoopDatabase(pool))
