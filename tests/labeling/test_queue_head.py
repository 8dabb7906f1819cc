"""PostgreSQL claims search from the queue's head (labeling/queue_head.py):
they read from there, not over every task claimed since the last vacuum; and what becomes
free before the head is still served — at once when this process freed it, within
HEAD_SECONDS when another did, at once when nothing is left after the head."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assay.labeling import queue, queue_head
from tests.labeling.factories import CATEGORY_TAXONOMY, actor_for, add_tasks, make_project
from tests.labeling.test_queue import cat_task, next_for
from tests.labeling.test_queue_plans import explain


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if db.dialect != "postgresql":
        pytest.skip("the queue's head is PostgreSQL's (SQLite deletes index entries at once)")


@pytest.fixture
def manager(accounts):
    return actor_for(accounts.make("manager"))


@pytest.fixture
def project(db, manager):
    return make_project(
        db, manager, name="animals", task_type="categorization", taxonomy=CATEGORY_TAXONOMY
    )


@pytest.fixture
def claim(db) -> Iterator[Any]:
    """Claims as the queue's loop connections make them: each statement commits by itself,
    nothing commits through the engine (which would make this process forget its heads)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:

        def claim_for(project_id: str, actor: Any) -> str | None:
            access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
            lease = queue.claim_task(
                conn=conn,
                project_id=project_id,
                pipeline=access.rules.pipeline,
                stage=access.rules.pipeline.stage("label"),
                user_id=actor.user_id,
            )
            return None if lease is None else lease.task.id

        yield claim_for


def elsewhere(db, sql: str, params: dict[str, Any]) -> None:
    """A write by another process: a DBAPI connection of its own, committed there."""
    raw = db.engine.raw_connection()
    try:
        raw.cursor().execute(sql, params)
        raw.commit()
    finally:
        raw.close()


def expire_elsewhere(db, task_id: str) -> None:
    """Another process's view of time passing: the task's lease ended a minute ago."""
    elsewhere(
        db,
        "UPDATE tasks SET lease_expires_at = now() AT TIME ZONE 'utc' - interval '1 minute' "
        "WHERE id = %(id)s",
        {"id": task_id},
    )


def test_a_higher_priority_set_in_this_process_is_served_next(
    db, settings, manager, project, accounts, claim
):
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(4)])
    first, second = (actor_for(accounts.make("labeler")) for _ in range(2))
    assert claim(project.id, first) == ids[0]  # the head is now known
    with db.write_connection() as conn:  # commits through the engine, as the API does
        conn.exec_driver_sql("UPDATE tasks SET priority = 10 WHERE id = %(id)s", {"id": ids[3]})
    assert claim(project.id, second) == ids[3]


def test_a_task_freed_before_the_head_by_another_process_is_served_within_head_seconds(
    db, settings, manager, project, accounts, claim
):
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(5)])
    labelers = [actor_for(accounts.make("labeler")) for _ in range(3)]
    assert claim(project.id, labelers[0]) == ids[0]
    elsewhere(db, "UPDATE tasks SET priority = 10 WHERE id = %(id)s", {"id": ids[4]})
    # Within HEAD_SECONDS this process may still search from the head it read…
    served = claim(project.id, labelers[1])
    assert served in (ids[1], ids[4])
    time.sleep(queue_head.HEAD_SECONDS + 0.05)
    # …and after them, it reads the head again: the priority task is next.
    expected = ids[4] if served == ids[1] else ids[1]
    assert claim(project.id, labelers[2]) == expected


def test_when_nothing_is_left_after_the_head_the_whole_stage_is_searched(
    db, settings, manager, project, accounts, claim, monkeypatch
):
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(3)])
    labelers = [actor_for(accounts.make("labeler")) for _ in range(4)]
    monkeypatch.setattr(queue_head, "HEAD_SECONDS", 0.0)  # every claim reads the head
    assert [claim(project.id, labeler) for labeler in labelers[:3]] == ids
    monkeypatch.setattr(queue_head, "HEAD_SECONDS", 60.0)  # the last one read, ids[2], kept
    # Another process frees the first task (its labeler released it): it lies before the
    # head this process knows, and nothing is free after the head.
    elsewhere(
        db,
        "UPDATE tasks SET lease_user_id = NULL, lease_token = NULL, lease_expires_at = NULL, "
        "leased_at = NULL WHERE id = %(id)s",
        {"id": ids[0]},
    )
    assert claim(project.id, labelers[3]) == ids[0]
    assert claim(project.id, actor_for(accounts.make("labeler"))) is None


def test_an_expired_lease_this_process_sweeps_makes_it_forget_the_head(
    db, settings, manager, project, accounts, claim, monkeypatch
):
    """The head has moved past a task whose lease then expires; the claim's own sweep frees
    it, and its count makes the process read the head again: the freed task is next, though
    the head it knew would not have been read again for a minute."""
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(4)])
    labelers = [actor_for(accounts.make("labeler")) for _ in range(4)]
    monkeypatch.setattr(queue_head, "HEAD_SECONDS", 0.0)  # every claim reads the head
    assert claim(project.id, labelers[0]) == ids[0]
    assert claim(project.id, labelers[1]) == ids[1]  # the head read here is ids[1]
    monkeypatch.setattr(queue_head, "HEAD_SECONDS", 60.0)  # …and now kept
    assert claim(project.id, labelers[2]) == ids[2]
    expire_elsewhere(db, ids[0])
    assert claim(project.id, labelers[3]) == ids[0]


def test_an_expired_lease_is_served_in_priority_order_through_the_next_task_read(
    db, settings, manager, project, accounts
):
    """The next-task read (held lease, with the sweep folded in on PostgreSQL) then a
    claim, as the endpoint does."""
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(3)])
    first, second = (actor_for(accounts.make("labeler")) for _ in range(2))
    assert next_for(db, project.id, first).task.id == ids[0]
    expire_elsewhere(db, ids[0])
    assert next_for(db, project.id, second).task.id == ids[0]


def _buffers(conn: Any, statement: Any, params: dict[str, Any]) -> int:
    """Shared blocks a statement touched, by EXPLAIN (ANALYZE, BUFFERS)."""
    (plan,) = explain(conn, statement, params, "(ANALYZE, BUFFERS, FORMAT JSON)")[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return int(plan[0]["Plan"]["Shared Hit Blocks"]) + int(plan[0]["Plan"]["Shared Read Blocks"])


def test_a_claim_from_the_head_does_not_read_the_tasks_claimed_before_it(
    db, settings, manager, project, accounts
):
    """3,000 tasks claimed and no vacuum since: their entries in ix_tasks_free are dead but
    still there, at the start of the stage. A claim from the head reads a few blocks; one
    from the start of the stage reads past all of them."""
    add_tasks(db, project, manager, settings, [cat_task(i) for i in range(4000)])
    labeler = actor_for(accounts.make("labeler"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ALTER TABLE tasks SET (autovacuum_enabled = false)")
        conn.exec_driver_sql(
            "UPDATE tasks SET lease_user_id = %(uid)s, lease_token = 't', "
            "lease_expires_at = now() + interval '1 hour' WHERE id IN "
            "(SELECT id FROM tasks ORDER BY id LIMIT 3000)",
            {"uid": labeler.user_id},
        )
        head = conn.exec_driver_sql(
            "SELECT batch_priority, priority, id FROM tasks WHERE lease_user_id IS NULL "
            "ORDER BY batch_priority DESC, priority DESC, id LIMIT 1"
        ).one()
    other = actor_for(accounts.make("labeler"))
    now = queue.utcnow()
    params = {"b_project": project.id, "b_stage": "label", "uid": other.user_id, "now": now}
    params |= {"token": "t", "expires": now, "updated_at": now, "param_1": 1, "param_2": 1}
    params |= {"h_batch_priority": head[0], "h_priority": head[1], "h_id": head[2]}
    with db.engine.connect() as conn:
        whole = _buffers(conn, queue._claim_statement("postgresql", False).statement, params)
        conn.rollback()
        from_head = _buffers(
            conn, queue._claim_statement("postgresql", False, from_head=True).statement, params
        )
        conn.rollback()
    assert whole > 20, whole  # the measurement sees the dead entries at all
    assert from_head * 3 < whole, (from_head, whole)
