"""SQLite writers: one at a time across threads and processes; `writer_or_busy` refuses
instead of waiting, only before anything was written."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from assay.core import dialects
from assay.core.db import Database


@pytest.fixture
def sqlite_db(database_url: str, dialect: str):
    if dialect != "sqlite":
        pytest.skip("the writer lock is SQLite's")
    db = Database(database_url)
    yield db
    db.dispose()


def hold_writer(db: Database):
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write_connection():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    return thread, release


def test_a_write_that_would_wait_is_refused_before_it_begins(sqlite_db: Database) -> None:
    thread, release = hold_writer(sqlite_db)
    try:
        with (
            pytest.raises(dialects.WriterBusy),
            dialects.writer_or_busy(),
            sqlite_db.write_connection() as conn,
        ):
            conn.exec_driver_sql("CREATE TABLE never (x INTEGER)")
        # Reads never wait, and outside the scope writes wait as before.
        with dialects.writer_or_busy(), sqlite_db.read_connection() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        release.set()
        thread.join()
    with sqlite_db.write_connection() as conn:  # the lock was released
        conn.exec_driver_sql("CREATE TABLE later (x INTEGER)")
    assert "never" not in sa.inspect(sqlite_db.engine).get_table_names()


def test_only_the_first_write_of_the_scope_may_be_refused(sqlite_db: Database) -> None:
    with dialects.writer_or_busy():
        with sqlite_db.write_connection() as conn:
            conn.exec_driver_sql("CREATE TABLE first (x INTEGER)")
        thread, release = hold_writer(sqlite_db)
        threading.Timer(0.3, release.set).start()
        # Something was written already: running the work again would repeat it, so this
        # write waits for the other writer instead of being refused.
        with sqlite_db.write_connection() as conn:
            conn.exec_driver_sql("CREATE TABLE second (x INTEGER)")
        thread.join()
    assert {"first", "second"} <= set(sa.inspect(sqlite_db.engine).get_table_names())
