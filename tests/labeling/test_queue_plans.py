"""PostgreSQL plans the queue's prepared statements once for all their parameters (a generic
plan, after five runs on a connection): those plans must stay index plans once ANALYZE has
seen what the tasks table really holds."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql
from sqlalchemy.dialects.postgresql import asyncpg

from assay.core.db import utcnow
from assay.labeling import queue, schemas
from tests.labeling.factories import CATEGORY_TAXONOMY, actor_for, add_tasks, make_project


def _generic_plan(conn: Any, statement: Any, params: dict[str, Any]) -> str:
    """EXPLAIN of the statement's generic plan (PREPARE with `$n` parameters, as psycopg
    prepares it, and plan_cache_mode forcing the plan a long-lived connection settles on)."""
    dialect = asyncpg.dialect()
    compiled = statement.compile(dialect=dialect)
    values = compiled.construct_params(params, _check=False)
    order = compiled.positiontup or ()
    types = [compiled.binds[name].type.compile(dialect=dialect) for name in order]
    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    conn.exec_driver_sql(f"PREPARE under_test ({', '.join(types)}) AS {compiled.string}")
    try:
        # A utility statement takes no bound parameters: the values go in as literals.
        arguments = sql.SQL(", ").join(sql.Literal(values[name]) for name in order)
        explain = sql.SQL("EXPLAIN EXECUTE under_test({})").format(arguments)
        rows = conn.exec_driver_sql(explain.as_string(conn.connection.dbapi_connection))
        return "\n".join(row[0] for row in rows)
    finally:
        conn.exec_driver_sql("DEALLOCATE under_test")


def test_the_access_check_reads_an_index_for_a_training_course_after_analyze(
    db, accounts, settings
):
    """Every task production, analyzed: `kind = $1` bound would be estimated to match every
    row, and the course check would scan the whole table to find no training task — on every
    next task (seen at 40,000 tasks: 3,800 blocks a call, the queue at a quarter speed)."""
    if db.dialect != "postgresql":
        pytest.skip("generic plans of prepared statements are PostgreSQL's")
    manager = actor_for(accounts.make("manager"))
    project = make_project(
        db, manager, name="animals", task_type="categorization", taxonomy=CATEGORY_TAXONOMY
    )
    add_tasks(
        db,
        project,
        manager,
        settings,
        [schemas.TaskCreate(params={"text": f"animal {i}"}) for i in range(3000)],
    )
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE tasks")
        plan = _generic_plan(
            conn,
            queue._ACCESS.statement,
            {"project_id": project.id, "mode": "live", "uid": manager.user_id, "now": utcnow()},
        )
    assert "on tasks" in plan, plan  # the course check is in the plan at all
    assert "Seq Scan on tasks" not in plan, plan
