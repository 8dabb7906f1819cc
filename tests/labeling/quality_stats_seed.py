"""A project whose quality numbers are known by hand: the work goes through the real queue API
(labels, reviews, a rework round), then each event gets a fixed time and duration so that every
figure can be computed on paper; evaluation attempts, audits and a pause are ORM rows.

Day D (UTC), event by event (in id order), durations in seconds:

    1  A submit t1 10:05 (10)      8  R accept t4 11:05
    2  A submit t2 10:40 (20)      9  A submit t2 11:10 (90)   rework round 1
    3  B submit t3 10:15 (30)     10  R accept t2 11:20
    4  B submit t4 10:20 (30)     11  A submit t5 11:30 (30)   ORM rows from here
    5  R accept t1 10:50          12  R reject t5 11:45
    6  R reject t2 10:55          13  B submit t5 12:00 (60)   t5 was handed to B
    7  R fix    t3 11:00          14  R accept t5 12:20

Evaluation attempts: A e1 1.0 pass 13:30 (40), A e2 0.5 fail 14:10 (50), B e2 0.0 fail
12:30 (20); C leased e1 but never submitted; A's training attempt does not count.
Audits: A t1 accepted 11:00, A t2 rejected 12:05, A t5 pending, B t3 fixed 12:10 (with
its "fix" event in stage "audit", which is no review).
A is paused. C is a labeler with no work; R is the project's reviewer. A also worked in
another project (must never count here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from assay.core.db import Database
from assay.labeling import models
from assay.labeling.synthetic import synthesize
from assay.labeling.taxonomy import parse_taxonomy

TAXONOMY = {"labels": [{"name": "cat"}, {"name": "dog"}]}
REVIEWED = {"stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]}
# (minute of day D, duration in seconds) of events 1..10, the ones made through the API.
API_EVENT_TIMES = [
    ((10, 5), 10),
    ((10, 40), 20),
    ((10, 15), 30),
    ((10, 20), 30),
    ((10, 50), None),
    ((10, 55), None),
    ((11, 0), None),
    ((11, 5), None),
    ((11, 10), 90),
    ((11, 20), None),
]


@dataclass
class Seeded:
    project_id: str
    other_project_id: str
    day: dt.date
    manager: Any
    a: Any
    b: Any
    c: Any
    reviewer: Any
    tasks: dict[str, str]

    def at(self, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(self.day.year, self.day.month, self.day.day, hour, minute, tzinfo=dt.UTC)


def _ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def seed(client: Any, prefix: str, db: Database, accounts: Any, day: dt.date) -> Seeded:
    """`client` is an httpx client (in-process or a live server), `prefix` the API prefix."""
    manager = accounts.make("manager")

    def call(method: str, path: str, who: Any, **kwargs: Any) -> Any:
        return _ok(client.request(method, prefix + path, headers=who.headers, **kwargs))

    project = call(
        "POST",
        "/projects",
        manager,
        json={
            "name": f"quality-{day.isoformat()}-{manager.user.email}",
            "task_type": "categorization",
            "taxonomy": TAXONOMY,
            "pipeline": REVIEWED,
        },
    )
    pid = project["id"]
    other = call(
        "POST",
        "/projects",
        manager,
        json={
            "name": f"other-{day.isoformat()}-{manager.user.email}",
            "task_type": "categorization",
            "taxonomy": TAXONOMY,
        },
    )
    bulk = {"tasks": [{"params": {"text": f"text {i}"}} for i in range(1, 5)]}
    created = call("POST", f"/projects/{pid}/tasks/bulk", manager, json=bulk)["tasks"]
    tasks = {f"t{i}": task["id"] for i, task in enumerate(created, start=1)}
    people = {}
    for name, role in (("a", "labeler"), ("b", "labeler"), ("c", "labeler"), ("r", "reviewer")):
        people[name] = accounts.make("labeler")
        call("PUT", f"/projects/{pid}/members/{people[name].user.id}", manager, json={"role": role})
    a, b, reviewer = people["a"], people["b"], people["r"]
    taxonomy = parse_taxonomy(TAXONOMY, "categorization")

    def label(who: Any, expected: str) -> None:
        lease = call("POST", f"/projects/{pid}/queue/next", who, params={"stage": "label"})
        task = lease["task"]
        assert task["id"] == tasks[expected]
        response = synthesize(taxonomy, "categorization", task["params"], seed=task["id"])
        body = {"lease_token": lease["lease_token"], "response": response}
        call("POST", f"/tasks/{task['id']}/submit", who, json=body)

    def review(expected: str, decision: str) -> None:
        lease = call("POST", f"/projects/{pid}/queue/next", reviewer, params={"stage": "review"})
        assert lease["task"]["id"] == tasks[expected]
        body: dict[str, Any] = {"lease_token": lease["lease_token"], "decision": decision}
        if decision == "reject":
            body["comments"] = [{"text": "look again"}]
        if decision == "fix":
            body["response"] = lease["previous"]
        call("POST", f"/tasks/{lease['task']['id']}/review", reviewer, json=body)

    label(a, "t1")
    label(a, "t2")
    label(b, "t3")
    label(b, "t4")
    review("t1", "accept")
    review("t2", "reject")
    review("t3", "fix")
    review("t4", "accept")
    label(a, "t2")  # the rework goes back to A
    review("t2", "accept")
    seeded = Seeded(pid, other["id"], day, manager, a, b, people["c"], reviewer, tasks)
    _orm_rows(db, seeded)
    return seeded


def _orm_rows(db: Database, s: Seeded) -> None:
    events = models.TaskEvent
    with db.write() as session:
        rows = session.scalars(
            select(events).where(events.task_id.in_(s.tasks.values())).order_by(events.id)
        ).all()
        names = {v: k for k, v in s.tasks.items()}
        a, b, r = s.a.user.id, s.b.user.id, s.reviewer.user.id
        assert [(names[e.task_id], e.user_id, e.action) for e in rows] == [
            ("t1", a, "submit"),
            ("t2", a, "submit"),
            ("t3", b, "submit"),
            ("t4", b, "submit"),
            ("t1", r, "accept"),
            ("t2", r, "reject"),
            ("t3", r, "fix"),
            ("t4", r, "accept"),
            ("t2", a, "submit"),
            ("t2", r, "accept"),
        ]
        for event, ((hour, minute), seconds) in zip(rows, API_EVENT_TIMES, strict=True):
            session.execute(
                update(events)
                .where(events.id == event.id)
                .values(
                    created_at=s.at(hour, minute),
                    duration_ms=None if seconds is None else seconds * 1000.0,
                )
            )

        def task(project_id: str, kind: str = "production", **extra: Any) -> str:
            row = models.Task(
                project_id=project_id, type="categorization", kind=kind, params={}, **extra
            )
            session.add(row)
            session.flush()
            return row.id

        t5 = task(s.project_id, status="completed", labeled_by=b)
        s.tasks["t5"] = t5
        for user, action, (hour, minute), seconds in (
            (a, "submit", (11, 30), 30),
            (r, "reject", (11, 45), None),
            (b, "submit", (12, 0), 60),
            (r, "accept", (12, 20), None),
        ):
            session.add(
                models.TaskEvent(
                    task_id=t5,
                    stage="label" if action == "submit" else "review",
                    user_id=user,
                    action=action,
                    duration_ms=None if seconds is None else seconds * 1000.0,
                    created_at=s.at(hour, minute),
                )
            )
            session.flush()  # ids in this order
        expected = {"labels": ["cat"]}
        e1 = task(s.project_id, "evaluation", expected_response=expected)
        e2 = task(s.project_id, "evaluation", expected_response=expected)
        e3 = task(s.project_id, "evaluation", expected_response=expected, retired_at=s.at(9))
        training = task(s.project_id, "training", expected_response=expected)
        s.tasks.update(e1=e1, e2=e2, e3=e3, training=training)

        def attempt(user: str, task_id: str, **fields: Any) -> None:
            session.add(
                models.QualityAttempt(
                    project_id=s.project_id, task_id=task_id, user_id=user, **fields
                )
            )

        def scored(user: str, task_id: str, score: float, when: tuple[int, int], secs: int):
            attempt(
                user,
                task_id,
                kind="evaluation",
                score=score,
                passed=score >= 0.8,
                submitted_at=s.at(*when),
                duration_ms=secs * 1000.0,
                response={"labels": ["dog"]},
            )

        scored(a, e1, 1.0, (13, 30), 40)
        scored(a, e2, 0.5, (14, 10), 50)
        scored(b, e2, 0.0, (12, 30), 20)
        attempt(s.c.user.id, e1, kind="evaluation", lease_token="x" * 32, leased_at=s.at(13))
        attempt(
            a, training, kind="training", score=0.2, passed=False, submitted_at=s.at(13), round=1
        )
        # The audit that fixed B's t3 left an event like a review's (stage "audit").
        session.add(
            models.TaskEvent(
                task_id=s.tasks["t3"],
                stage="audit",
                user_id=r,
                action="fix",
                created_at=s.at(12, 10),
            )
        )
        for labeler, task_id, status, when in (
            (a, s.tasks["t1"], "accepted", (11, 0)),
            (a, s.tasks["t2"], "rejected", (12, 5)),
            (a, t5, "pending", None),
            (b, s.tasks["t3"], "fixed", (12, 10)),
        ):
            session.add(
                models.Audit(
                    project_id=s.project_id,
                    task_id=task_id,
                    labeler_id=labeler,
                    auditor_id=r if when else None,
                    status=status,
                    decided_at=s.at(*when) if when else None,
                )
            )
        session.add(
            models.QualityWorker(
                project_id=s.project_id,
                user_id=a,
                status="paused",
                reason="rolling accuracy 0.40 is below 0.60",
                paused_at=s.at(14, 30),
            )
        )
        # Work in another project counts there only.
        elsewhere = task(s.other_project_id, status="completed", labeled_by=a)
        session.add(
            models.TaskEvent(
                task_id=elsewhere,
                stage="label",
                user_id=a,
                action="submit",
                duration_ms=5000.0,
                created_at=s.at(9, 30) - dt.timedelta(days=1),
            )
        )
        other_eval = task(s.other_project_id, "evaluation", expected_response=expected)
        session.add(
            models.QualityAttempt(
                project_id=s.other_project_id,
                task_id=other_eval,
                user_id=a,
                kind="evaluation",
                score=0.0,
                passed=False,
                submitted_at=s.at(13, 45),
                duration_ms=1000.0,
            )
        )
