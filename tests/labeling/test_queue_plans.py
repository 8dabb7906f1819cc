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


def explain(conn: Any, statement: Any, params: dict[str, Any], options: str = "") -> Any:
    """EXPLAIN [(options)] of the statement as psycopg prepares it (`$n` parameters), the rows
    EXPLAIN returns."""
    dialect = asyncpg.dialect()
    compiled = statement.compile(dialect=dialect)
    values = compiled.construct_params(params, _check=False)
    order = compiled.positiontup or ()
    types = [compiled.binds[name].type.compile(dialect=dialect) for name in order]
    conn.exec_driver_sql(f"PREPARE under_test ({', '.join(types)}) AS {compiled.string}")
    try:
        # A utility statement takes no bound parameters: the values go in as literals.
        arguments = sql.SQL(", ").join(sql.Literal(values[name]) for name in order)
        text = sql.SQL(f"EXPLAIN {options} EXECUTE under_test({{}})").format(arguments)
        return conn.exec_driver_sql(text.as_string(conn.connection.dbapi_connection)).all()
    finally:
        conn.exec_driver_sql("DEALLOCATE under_test")


def _generic_plan(conn: Any, statement: Any, params: dict[str, Any]) -> str:
    """The statement's generic plan (plan_cache_mode forcing the plan a long-lived connection
    settles on)."""
    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    return "\n".join(row[0] for row in explain(conn, statement, params))


def _project_with_tasks(db: Any, accounts: Any, settings: Any, count: int) -> Any:
    manager = actor_for(accounts.make("manager"))
    project = make_project(
        db, manager, name="animals", task_type="categorization", taxonomy=CATEGORY_TAXONOMY
    )
    tasks_in = [schemas.TaskCreate(params={"text": f"animal {i}"}) for i in range(count)]
    add_tasks(db, project, manager, settings, tasks_in)
    return project, manager


def test_the_access_check_reads_an_index_for_a_training_course_after_analyze(
    db, accounts, settings
):
    """Every task production, analyzed: `kind = $1` bound would be estimated to match every
    row, and the course check would scan the whole table to find no training task — on every
    next task (seen at 40,000 tasks: 3,800 blocks a call, the queue at a quarter speed)."""
    if db.dialect != "postgresql":
        pytest.skip("generic plans of prepared statements are PostgreSQL's")
    project, manager = _project_with_tasks(db, accounts, settings, 3000)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE tasks")
        plan = _generic_plan(
            conn,
            queue._ACCESS.statement,
            {"project_id": project.id, "mode": "live", "uid": manager.user_id, "now": utcnow()},
        )
    assert "on tasks" in plan, plan  # the course check is in the plan at all
    assert "Seq Scan on tasks" not in plan, plan


def _claim_plan(conn: Any, project_id: str, user_id: str, *, from_head: bool) -> str:
    now = utcnow()
    params = {"b_project": project_id, "b_stage": "label", "uid": user_id, "now": now}
    params |= {"token": "t", "expires": now, "param_1": 1, "param_2": 1}
    params |= {"h_batch_priority": 0, "h_priority": 0, "h_id": ""}
    statement = queue._claim_statement("postgresql", False, from_head=from_head).statement
    return _generic_plan(conn, statement, params)


@pytest.mark.parametrize("history", ["never analyzed", "analyzed"])
def test_the_claim_asks_the_seen_index_whether_the_person_saw_a_candidate(
    db, accounts, settings, history
):
    """ "Has this person worked on this task in this stage and round?" is one probe of
    ix_task_events_seen. Led by the task, that index lost to ix_task_events_user in the
    generic plan of a connection made before task_events was first analyzed, and the probe
    then filtered the person's whole history on every candidate (366 of a claim's 374 blocks
    after 45 s at 300 claims a second)."""
    if db.dialect != "postgresql":
        pytest.skip("generic plans of prepared statements are PostgreSQL's")
    project, _ = _project_with_tasks(db, accounts, settings, 400)
    labelers = [accounts.make("labeler") for _ in range(8)]
    with db.engine.connect() as conn:
        if history == "analyzed":
            # Each labeler has worked on 40 tasks.
            conn.exec_driver_sql(
                "INSERT INTO task_events "
                "(task_id, project_id, user_id, stage, round, action, created_at) "
                "SELECT t.id, t.project_id, u.id, 'label', 0, 'submit', now() FROM "
                "(SELECT id, project_id, row_number() OVER (ORDER BY id) AS n FROM tasks) t JOIN "
                "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM users "
                " WHERE id = ANY(%(ids)s)) u ON t.n %% 8 = u.n - 1 AND t.n <= 320",
                {"ids": [account.user.id for account in labelers]},
            )
            conn.exec_driver_sql("ANALYZE")
        for from_head in (False, True):
            plan = _claim_plan(conn, project.id, labelers[0].user.id, from_head=from_head)
            assert "Index Scan using ix_task_events_seen on task_events" in plan, plan
            assert "ix_task_events_user" not in plan, plan
            assert "Seq Scan on task_events" not in plan, plan
