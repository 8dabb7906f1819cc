"""Migrations: one head, upgrade from empty, the models match the migrations, round trip."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import assay.models_registry  # noqa: F401
from assay.core import migrate
from assay.core.db import Base, Database


@pytest.fixture
def empty_db(db_template, tmp_path) -> Iterator[Database]:
    if db_template.dialect == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/empty.db")
        yield database
        database.dispose()
        return
    cluster = db_template.cluster
    name = f"empty_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    database = Database(cluster.url(name))
    yield database
    database.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def test_single_head():
    assert len(migrate.heads()) == 1


def test_upgrade_from_empty_reaches_head_and_matches_the_models(empty_db):
    assert migrate.revision_status(empty_db)[0] is None
    migrate.upgrade(empty_db)
    current, head = migrate.revision_status(empty_db)
    assert current == head
    with empty_db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    sqlite = empty_db.engine.dialect.name == "sqlite"
    diff = [
        d
        for d in diff
        if not (d[0] in ("add_index", "remove_index") and d[1].name in migrate.EXPRESSION_INDEXES)
        and not (sqlite and d[0] == "remove_fk" and d[1].name in migrate.SQLITE_ONLY_FOREIGN_KEYS)
    ]
    assert diff == [], f"models and migrations differ; add a migration: {diff}"
    indexes = {ix["name"] for ix in sa.inspect(empty_db.engine).get_indexes("tasks")}
    assert indexes >= migrate.EXPRESSION_INDEXES


def test_queue_index_orders_priority_descending(empty_db):
    migrate.upgrade(empty_db)
    query = (
        "SELECT sql FROM sqlite_master WHERE name = 'ix_tasks_queue'"
        if empty_db.dialect == "sqlite"
        else "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tasks_queue'"
    )
    with empty_db.engine.connect() as conn:
        definition = conn.exec_driver_sql(query).scalar_one()
    assert "priority DESC" in definition


def test_downgrade_to_base_and_back(empty_db):
    migrate.upgrade(empty_db)
    from alembic import command

    command.downgrade(migrate.alembic_config(empty_db), "base")
    assert sa.inspect(empty_db.engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(empty_db)
    assert "jobs" in sa.inspect(empty_db.engine).get_table_names()


def test_upgrade_is_idempotent_and_keeps_data(empty_db):
    migrate.upgrade(empty_db)
    with empty_db.write() as session:
        session.execute(
            sa.text(
                "INSERT INTO users (id, email, name, role, is_active, created_at) "
                "VALUES ('000000000000000000000001', 'kept@example.test', '', 'admin', "
                "true, CURRENT_TIMESTAMP)"
            )
        )
    migrate.upgrade(empty_db)
    with empty_db.read() as session:
        assert (
            session.execute(sa.text("SELECT email FROM users")).scalar_one() == "kept@example.test"
        )


def test_sqlite_connections_are_tuned(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/tuned.db")
    with database.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    database.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": 30000,
    }


def _insert(conn, table: sa.Table, **values) -> None:
    """A row with the given values; every other required column gets a plain value."""
    for column in table.columns:
        if column.name in values or column.nullable or column.server_default is not None:
            continue
        python = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
        values[column.name] = {
            str: "x", int: 0, float: 0.0, bool: False, dict: {}, bytes: b"",
        }.get(python, dt.datetime(2026, 12, 7, tzinfo=dt.UTC))  # fmt: skip
    conn.execute(table.insert().values(**values))


def test_evaluation_results_move_out_of_their_rows_and_keep_scenario_history(empty_db):
    """0022 moves a stored evaluation's matches and state to their own table; the scenario
    test results that refer to the evaluation survive (a copy of the table, dropping the
    old one, would delete them by cascade on SQLite)."""
    migrate.upgrade(empty_db, "0021")
    meta = sa.MetaData()
    meta.reflect(empty_db.engine)
    t = meta.tables
    with empty_db.engine.begin() as conn:
        _insert(conn, t["users"], id="u1", email="a@example.test")
        _insert(conn, t["datasets"], id="d1", created_by="u1")
        _insert(conn, t["curation_models"], id="m1", created_by="u1")
        _insert(conn, t["dataset_slices"], id="s1", dataset_id="d1")
        _insert(
            conn, t["dataset_evaluations"], id="e1", dataset_id="d1", model_id="m1",
            status="done", matches=b"parquet bytes", state=b"state bytes", revision=4,
        )  # fmt: skip
        _insert(conn, t["dataset_evaluations"], id="e2", dataset_id="d1", model_id="m1")
        _insert(conn, t["scenario_tests"], id="t1", dataset_id="d1", slice_id="s1")
        _insert(conn, t["scenario_test_metrics"], id="tm1", scenario_test_id="t1")
        _insert(
            conn, t["scenario_test_results"], id="r1", scenario_test_id="t1",
            metric_id="tm1", evaluation_id="e1", model_id="m1",
        )  # fmt: skip
    migrate.upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        run = conn.exec_driver_sql
        results = run("SELECT evaluation_id, matches, state FROM dataset_evaluation_results")
        assert [tuple(r) for r in results] == [("e1", b"parquet bytes", b"state bytes")]
        assert run("SELECT id, revision FROM dataset_evaluations ORDER BY id").all() == [
            ("e1", 4),
            ("e2", None),
        ]
        assert run("SELECT evaluation_id FROM scenario_test_results").all() == [("e1",)]
        columns = {c["name"] for c in sa.inspect(conn).get_columns("dataset_evaluations")}
        assert not columns & {"matches", "state"}
    from alembic import command

    command.downgrade(migrate.alembic_config(empty_db), "0021")
    with empty_db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, matches, state FROM dataset_evaluations ORDER BY id"
        ).all()
    assert [tuple(r) for r in rows] == [
        ("e1", b"parquet bytes", b"state bytes"),
        ("e2", None, None),
    ]
