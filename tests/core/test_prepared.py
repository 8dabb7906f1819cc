"""Prepared statements (the queue's hot path) read and write exactly what SQLAlchemy does."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from assay.core import dialects
from assay.core.db import Database, JSONType, UTCDateTime, utcnow
from assay.core.prepared import Prepared

METADATA = sa.MetaData()
THINGS = sa.Table(
    "prepared_things",
    METADATA,
    sa.Column("id", sa.String(8), primary_key=True),
    sa.Column("doc", JSONType),
    sa.Column("at", UTCDateTime),
    sa.Column("flag", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("score", sa.Float),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("touched_at", UTCDateTime, onupdate=utcnow),
)
C = THINGS.c
ROWS = [
    {
        "id": "a",
        "doc": {"labels": ["cat", "dög"], "nested": {"n": 1.5, "none": None}},
        "at": dt.datetime(2026, 11, 22, 10, 30, 15, 123456, tzinfo=dt.UTC),
        "flag": True,
        "score": 0.25,
        "kind": "training",
    },
    {"id": "b", "doc": [1, 2, 3], "at": None, "flag": False, "score": None, "kind": "other"},
    {"id": "c", "doc": None, "at": None, "flag": False, "score": 3.0, "kind": "training"},
]


@pytest.fixture
def db(database_url: str):
    database = Database(database_url)
    METADATA.create_all(database.engine)
    with database.write_connection() as conn:
        conn.execute(sa.insert(THINGS), ROWS)
    yield database
    METADATA.drop_all(database.engine)
    database.dispose()


# A literal in the statement (`kind = 'training'`) and a LIMIT: values SQLAlchemy binds itself.
SELECT = (
    sa.select(C.id, C.doc, C.at, C.flag, C.score)
    .where(C.kind == "training", C.score >= sa.bindparam("min_score"))
    .order_by(C.id)
    .limit(5)
)


def test_rows_read_as_connection_execute_reads_them(db: Database) -> None:
    prepared = Prepared(SELECT)
    with db.read_connection() as conn:
        expected = [tuple(row) for row in conn.execute(SELECT, {"min_score": 0})]
        got = prepared.all(conn, {"min_score": 0})
        first = prepared.first(conn, {"min_score": 1})
        none = prepared.first(conn, {"min_score": 99})
    assert [tuple(row) for row in got] == expected
    assert [row.id for row in got] == ["a", "c"]
    assert got[0].doc == ROWS[0]["doc"] and got[0].at == ROWS[0]["at"]
    assert got[0].at.tzinfo is not None and got[0].flag is True
    assert first.id == "c" and none is None


def test_writes_bind_types_and_run_python_side_onupdate(db: Database) -> None:
    update = Prepared(
        sa.update(THINGS)
        .where(C.id == sa.bindparam("key"), C.flag.is_(False))
        .values(
            doc=sa.bindparam("new_doc", type_=JSONType),
            at=sa.bindparam("new_at", type_=UTCDateTime()),
        )
    )
    when = dt.datetime(2027, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    before = utcnow()
    with db.write_connection() as conn:
        changed = update.run(conn, {"key": "b", "new_doc": {"k": ["v"]}, "new_at": when})
        # A compare-and-set that does not match changes nothing.
        unchanged = update.run(conn, {"key": "a", "new_doc": {}, "new_at": when})
    assert (changed, unchanged) == (1, 0)
    with db.read_connection() as conn:
        row = conn.execute(sa.select(THINGS).where(C.id == "b")).one()
    assert row.doc == {"k": ["v"]} and row.at == when
    assert row.touched_at is not None and row.touched_at >= before  # onupdate ran


def test_a_prepared_write_is_part_of_the_transaction(db: Database) -> None:
    delete = Prepared(sa.delete(THINGS).where(C.id == sa.bindparam("key")))
    with pytest.raises(RuntimeError), db.write_connection() as conn:
        assert delete.run(conn, {"key": "a"}) == 1
        raise RuntimeError("roll back")
    with db.read_connection() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(THINGS)).scalar() == 3


def test_insert_returning_reads_generated_values(db: Database) -> None:
    insert = Prepared(
        sa.insert(THINGS)
        .values(id=sa.bindparam("id"), kind=sa.bindparam("kind"), doc=sa.bindparam("doc"))
        .returning(C.id, C.flag, C.doc)
    )
    with db.write_connection() as conn:
        row = insert.first(conn, {"id": "d", "kind": "new", "doc": {"x": [1, {"y": None}]}})
    assert row.id == "d" and row.flag is False and row.doc == {"x": [1, {"y": None}]}


def test_an_idle_pooled_connection_the_server_dropped_is_replaced(
    database_url: str, dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pre-ping on every checkout (a round trip each): a connection that sat idle is
    pinged, and a dead one replaced before any request sees it."""
    if dialect != "postgresql":
        pytest.skip("SQLite connections are files, not sockets")
    db = Database(database_url)
    try:
        with db.read_connection() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar()
        admin.dispose()
        monkeypatch.setattr(dialects, "IDLE_PING_SECONDS", 0.0)
        with db.read_connection() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    finally:
        db.dispose()
