"""Demo content for the quality lab: a categorization project over the sample photographs with
a training course, evaluation (gold) tasks, and three simulated labelers whose work went
through the real queue — an expert, a decent labeler and a careless one who got paused.

The labelers' answers are simulated (seeded), but every claim, submit, score and pause is
made by the same services `assay serve` runs; only the timestamps are then spread over the
past week, so the dashboards have a history to draw.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import schemas as core_schemas
from assay.core import users
from assay.core.auth import Actor
from assay.core.db import Database, utcnow
from assay.core.errors import NotFound
from assay.core.settings import Settings
from assay.labeling import models, submission

PROJECT_NAME = "Photo categories (quality lab)"
CATEGORIES = (
    "person",
    "animal",
    "vehicle",
    "food or drink",
    "object",
    "document",
    "sky or space",
    "microscopy",
)
# skimage.data name → its category (the images the labeling demo stores as blobs).
TRUTH = {
    "astronaut": "person",
    "chelsea": "animal",
    "coffee": "food or drink",
    "rocket": "vehicle",
    "horse": "animal",
    "camera": "person",
    "coins": "object",
    "clock": "object",
    "page": "document",
    "hubble_deep_field": "sky or space",
    "immunohistochemistry": "microscopy",
    "moon": "sky or space",
}
TRAINING = ("astronaut", "chelsea", "rocket")
GOLD = ("coffee", "horse", "moon", "clock", "page", "coins", "camera", "hubble_deep_field")
PRODUCTION_TASKS = 96
SIMULATED_ROUNDS = 30  # each labeler asks for work this many times (some tasks stay open)
REVIEWER = ("dave@assay.local", "Dave (reviewer)")
# (email, name, how often they answer right)
LABELERS = (
    ("alice@assay.local", "Alice (expert)", 0.97),
    ("bob@assay.local", "Bob (decent)", 0.82),
    ("carol@assay.local", "Carol (careless)", 0.3),
)
INSTRUCTIONS = """# Photo categories

## Summary
Pick the one category that best describes the main subject of the photograph.

## Rules
- A person holding an object is `person`; a plate of food is `food or drink`.
- Scans of printed pages are `document`; stained tissue under a microscope is `microscopy`.
- The night sky, planets and the moon are `sky or space`.

You take a short training course first (three photographs; you see the expected answer
after each). Some tasks are checks with known answers: keep your accuracy above 60 %.
"""


def _answer(label: str) -> dict[str, Any]:
    return {"annotations": [{"type": "category", "label": label}]}


def seed(
    *, session: Session, settings: Settings, actor: Actor, images: dict[str, dict[str, Any]]
) -> tuple[str, bool]:
    """Create the project with its course, gold and real tasks (once). `images` maps a
    skimage name to the params of its stored photograph. Returns (project id, created)."""
    from assay.labeling import batches, projects, schemas, tasks
    from assay.labeling.quality_admin import create_quality_tasks

    try:
        existing = projects.get_project_by_name(session=session, name=PROJECT_NAME, mode=actor.mode)
        return existing.id, False
    except NotFound:
        pass
    project = projects.create_project(
        session=session,
        actor=actor,
        project_in=schemas.ProjectCreate(
            name=PROJECT_NAME,
            task_type="categorization",
            taxonomy={"labels": [{"name": name} for name in CATEGORIES]},
            instructions=INSTRUCTIONS,
            pipeline={
                "stages": [
                    {"name": "label", "kind": "label"},
                    {"name": "review", "kind": "review", "sample_rate": 0.4},
                ]
            },
            quality={
                "evaluation_rate": 0.3,
                "pass_threshold": 1.0,
                "rolling_window": 10,
                "pause_below": 0.6,
                "pause_min_attempts": 4,
                "training": {"required": True, "pass_threshold": 0.66, "max_rounds": 2},
                "audit_rate": 0.1,
            },
        ),
    )
    for kind, names in (("training", TRAINING), ("evaluation", GOLD)):
        create_quality_tasks(
            session=session,
            project=project,
            tasks_in=[
                schemas.TaskCreate(
                    params=images[name],
                    metadata={"image": name},
                    expected_response=_answer(TRUTH[name]),
                )
                for name in names
            ],
            kind=kind,
            actor=actor,
            settings=settings,
        )
    batch = batches.create_batch(
        session=session,
        project=project,
        actor=actor,
        batch_in=schemas.BatchCreate(name="photo-categories-1", kind="production"),
    )
    names = sorted(TRUTH)
    tasks.create_tasks(
        session=session,
        project=project,
        batch=batch,
        actor=actor,
        settings=settings,
        tasks_in=[
            schemas.TaskCreate(
                unique_id=f"demo-category-{i}",
                params=images[names[i % len(names)]],
                metadata={"image": names[i % len(names)]},
            )
            for i in range(PRODUCTION_TASKS)
        ],
    )
    batches.finalize_batch(session=session, batch=batch, settings=settings, actor=actor)
    return project.id, True


def _labeler(
    session: Session, project_id: str, email: str, name: str, role: str = "labeler"
) -> str:
    from assay.labeling import projects

    try:
        user = users.get_user_by_email(session=session, email=email)
    except NotFound:
        user = users.create_user(
            session=session,
            user_in=core_schemas.UserCreate(email=email, name=name, role=role),
        )
    project = session.get(models.Project, project_id)
    assert project is not None
    projects.set_member(session=session, project=project, user_id=user.id, role=role)
    return user.id


def _review_all(db: Database, settings: Settings, project_id: str, reviewer_id: str) -> None:
    """The reviewer accepts right answers and sends wrong ones back with a comment."""
    from assay.labeling import decisions, queue

    actor = Actor(user_id=reviewer_id, email="", role="reviewer")
    while True:
        with db.write_connection() as conn:
            access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
            stage = access.rules.pipeline.stage("review")
            lease = queue.claim_task(
                conn=conn,
                project_id=project_id,
                pipeline=access.rules.pipeline,
                stage=stage,
                user_id=reviewer_id,
            )
        if lease is None:
            return
        given = (lease.task.working_response or {}).get("annotations") or [{}]
        with db.write() as session:
            task = session.get(models.Task, lease.task.id)
            assert task is not None
            right = given[0].get("label") == TRUTH[task.metadata_["image"]]
            decisions.review(
                session=session,
                task_id=task.id,
                actor=actor,
                token=lease.token,
                decision="accept" if right else "reject",
                response=None,
                comments=None if right else [{"text": "Look at the main subject again."}],
                pipeline=access.rules.pipeline,
                settings=settings,
            )


def needs_history(db: Database, project_id: str) -> bool:
    """True until the simulated labelers have worked in the project."""
    with db.read() as session:
        return (
            session.scalar(
                select(models.QualityAttempt.id)
                .where(models.QualityAttempt.project_id == project_id)
                .limit(1)
            )
            is None
        )


def simulate(*, db: Database, settings: Settings, project_id: str, seed: int = 5) -> None:
    """Three labelers take the course and work through the queue, each as `assay serve`
    would run it; then their history is spread over the past seven days."""
    from assay.labeling import quality, queue

    rng = random.Random(seed)
    # The queue's own draws (which request gets an evaluation task, which task is audited)
    # come from the module-level generator: seed it so every demo tells the same story.
    random.seed(seed)
    with db.write() as session:
        people = [
            (_labeler(session, project_id, email, name), skill) for email, name, skill in LABELERS
        ]
        reviewer = _labeler(session, project_id, *REVIEWER, role="reviewer")
    truth_of: dict[str, str] = {}
    with db.read() as session:
        for task_id, meta in session.execute(
            select(models.Task.id, models.Task.metadata_).where(
                models.Task.project_id == project_id
            )
        ):
            truth_of[task_id] = TRUTH[meta["image"]]

    def answer(task_id: str, skill: float) -> dict[str, Any]:
        right = truth_of[task_id]
        if rng.random() < skill:
            return _answer(right)
        return _answer(rng.choice([c for c in CATEGORIES if c != right]))

    for user_id, skill in people:
        actor = Actor(user_id=user_id, email="", role="labeler")
        while True:  # the training course
            with db.write_connection() as conn:
                access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
                lease = quality.next_training(conn=conn, access=access, user_id=user_id)
            if lease is None:
                break
            _submit(db, settings, lease, actor, answer(lease.task.id, max(skill, 0.7)))
    for _ in range(SIMULATED_ROUNDS):
        for user_id, skill in people:
            actor = Actor(user_id=user_id, email="", role="labeler")
            with db.write_connection() as conn:
                access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
                stage = access.rules.pipeline.stages[0]
                try:
                    quality.gate(conn=conn, access=access, stage=stage, user_id=user_id)
                except quality.Paused:
                    continue
                lease = None
                if quality.serve_evaluation(access.rules.quality):
                    lease = quality.claim_evaluation(
                        conn=conn, access=access, stage=stage, user_id=user_id
                    )
                if lease is None:
                    lease = queue.claim_task(
                        conn=conn,
                        project_id=project_id,
                        pipeline=access.rules.pipeline,
                        stage=stage,
                        user_id=user_id,
                    )
            if lease is not None:
                _submit(db, settings, lease, actor, answer(lease.task.id, skill))
        _review_all(db, settings, project_id, reviewer)
    _spread_over_the_week(db, project_id, rng)


def _submit(db: Database, settings: Settings, lease: Any, actor: Actor, response: dict) -> None:
    from assay.labeling import quality, queue

    with db.write_connection() as conn:
        task, access = queue.work_item(conn=conn, task_id=lease.task.id, actor=actor)
        if task.kind != "production":
            quality.submit(
                conn=conn,
                task=task,
                user_id=actor.user_id,
                token=lease.token,
                response=response,
                config=access.rules.quality,
            )
            return
        submission.submit(
            conn=conn,
            task=task,
            actor=actor,
            token=lease.token,
            response=response,
            pipeline=access.rules.pipeline,
            settings=settings,
            quality=access.rules.quality,
            taxonomy=access.rules.taxonomy,
        )


def _spread_over_the_week(db: Database, project_id: str, rng: random.Random) -> None:
    """Give each recorded action a time in the past week, in the order they happened, with
    working hours' gaps, and a plausible time spent on it."""
    now = utcnow()
    start = now - dt.timedelta(days=7)
    with db.write() as session:
        events = session.scalars(
            select(models.TaskEvent)
            .join(models.Task, models.Task.id == models.TaskEvent.task_id)
            .where(models.Task.project_id == project_id)
            .order_by(models.TaskEvent.id)
        ).all()
        attempts = session.scalars(
            select(models.QualityAttempt)
            .where(models.QualityAttempt.project_id == project_id)
            .order_by(models.QualityAttempt.id)
        ).all()
        timeline = sorted(
            [(e.created_at, "event", e) for e in events]
            + [(a.submitted_at or a.created_at, "attempt", a) for a in attempts],
            key=lambda item: item[0],
        )
        # Working sessions: bursts of a few tasks a few minutes apart, then a break.
        span = (now - start).total_seconds() - 3600
        sessions = max(1, len(timeline) // 12)
        for index, (_, kind, row) in enumerate(timeline):
            burst, within = divmod(index, 12)
            when = start + dt.timedelta(
                seconds=span * burst / sessions + within * rng.uniform(20, 60)
            )
            took = rng.lognormvariate(2.3, 0.5) * 1000  # ~10 s a photograph
            if kind == "event":
                row.created_at, row.duration_ms = when, took
            else:
                row.created_at, row.submitted_at, row.duration_ms = when, when, took
        last: dict[tuple[str, str], dt.datetime] = {}
        for attempt in attempts:
            key = (attempt.user_id, attempt.kind)
            last[key] = max(last.get(key, start), attempt.submitted_at or start)
        for worker in session.scalars(
            select(models.QualityWorker).where(models.QualityWorker.project_id == project_id)
        ):
            if worker.training_passed_at is not None:
                worker.training_passed_at = last.get((worker.user_id, "training"), start)
            if worker.paused_at is not None:
                worker.paused_at = last.get((worker.user_id, "evaluation"), start)
        done = {e.task_id: e.created_at for e in events if e.action == "submit"}
        for task in session.scalars(select(models.Task).where(models.Task.id.in_(list(done)))):
            if task.completed_at is not None:
                task.completed_at = done[task.id]
