"""Quality under /api/v1: evaluation and training tasks, the training course, people's standing
(pause, re-qualify, audit rate), audits and calibration reports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_core import to_json
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.api.queue import lease_view
from assay.core.errors import NotFound
from assay.core.schemas import Schema
from assay.labeling import audits, consensus, models, quality, quality_admin, queue, schemas
from assay.labeling.annotations import validate_response
from assay.labeling.policies import projects as project_policy
from assay.labeling.policies import quality_stats as quality_stats_policy
from assay.labeling.policies import queue as queue_policy
from assay.labeling.projects import project_rules
from assay.labeling.quality_feedback import Feedback
from assay.labeling.task_params import labeler_params

router = APIRouter(tags=["quality"], route_class=JsonRoute)


class QualityTask(schemas.Task):
    attempts: int = 0
    passes: int = 0
    pass_rate: float | None = None
    mean_score: float | None = None


class QualityTaskPage(schemas.Page[QualityTask]):
    pass


class Retire(Schema):
    min_pass_rate: float | None = Field(None, ge=0, le=1)
    max_pass_rate: float | None = Field(None, ge=0, le=1)
    min_attempts: int = Field(0, ge=0, description="Completions needed before judging a task.")
    task_ids: list[str] | None = Field(None, max_length=10_000)


class Retired(Schema):
    retired: int
    task_ids: list[str]


class Recycle(Schema):
    task_ids: list[str] = Field(min_length=1, max_length=10_000)


class Recycled(Schema):
    recycled: int


class CourseState(Schema):
    required: bool
    total: int
    round: int
    max_rounds: int
    done: int
    score: float | None
    passed: bool
    passed_at: dt.datetime | None
    can_retry: bool
    pass_threshold: float


class Standing(Schema):
    user_id: str
    email: str | None = None
    name: str | None = None
    role: str | None = None
    status: str
    reason: str | None
    paused_at: dt.datetime | None
    accuracy: float | None = Field(
        description="Rolling mean score on evaluation tasks. In your own standing (as a "
        "labeler): over results old enough and in whole groups, see the feedback fields."
    )
    evaluated: int = Field(description="Evaluation tasks in the rolling window.")
    training_passed_at: dt.datetime | None
    training_required: bool | None = None
    audit_rate: float | None
    feedback_delay_seconds: float | None = Field(
        None,
        description="A labeler's own standing: evaluation results count once this old (on an "
        "hourly clock). Null when the figures are exact (managers, reviewers).",
    )
    feedback_group_size: int | None = Field(
        None,
        description="A labeler's own standing: evaluation results count in groups of this "
        "many attempts. Null when the figures are exact.",
    )


class PauseBody(Schema):
    reason: str = Field(min_length=1, max_length=2000)


class Requalify(Schema):
    retrain: bool = Field(True, description="Pass the training course again (one more go).")


class WorkerChange(Schema):
    audit_rate: float | None = Field(description="Share of their completed tasks audited.")


class AuditTask(Schema):
    id: str
    type: str
    params: dict[str, Any]


class AuditLease(Schema):
    audit_id: str
    lease_token: str
    expires_at: dt.datetime
    labeler_id: str | None
    task: AuditTask
    response: dict[str, Any] | None


class AuditDecision(schemas.LeaseToken):
    decision: Literal["accept", "fix", "reject"]
    response: dict[str, Any] | None = None
    comments: list[schemas.ReviewComment] | None = Field(None, max_length=500)


class Audit(Schema):
    id: str
    project_id: str
    task_id: str
    labeler_id: str | None
    auditor_id: str | None
    status: str
    comments: list[dict[str, Any]] | None
    response: dict[str, Any] | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class AuditPage(schemas.Page[Audit]):
    pass


# --- evaluation and training tasks ---------------------------------------------------------


def _create(kind: str) -> Any:
    """The create route of one kind of quality task."""

    def create_quality_task(
        project_id: str,
        task_in: schemas.TaskCreate,
        request: Request,
        actor: CurrentActor,
        db: Db,
        ctx: Ctx,
    ) -> JSONResponse:
        def create(session: Session) -> schemas.Task:
            project, role = load_project(session, project_id, actor)
            project_policy.require_manager(actor, project, role, f"create {kind} tasks")
            (row,) = quality_admin.create_quality_tasks(
                session=session,
                project=project,
                tasks_in=[task_in],
                kind=kind,
                actor=actor,
                settings=ctx.settings,
                path="",
            )
            return schemas.Task.model_validate(session.get(models.Task, row.id))

        return create_once(request, actor=actor, db=db, body=task_in, create=create)

    create_quality_task.__doc__ = (
        f"An {kind} task: the task's params and the `expected_response` it is scored against."
    )
    return create_quality_task


for _kind in ("evaluation", "training"):
    router.add_api_route(
        f"/projects/{{project_id}}/{_kind}_tasks",
        _create(_kind),
        methods=["POST"],
        response_model=schemas.Task,
        status_code=201,
        operation_id=f"create_{_kind}_task",
    )


@router.get(
    "/projects/{project_id}/quality_tasks",
    response_model=QualityTaskPage,
    operation_id="list_quality_tasks",
)
def list_quality_tasks(
    project_id: str,
    actor: CurrentActor,
    db: Db,
    page: Page,
    kind: Annotated[Literal["evaluation", "training"] | None, Query()] = None,
    retired: Annotated[bool | None, Query()] = None,
) -> QualityTaskPage:
    """Evaluation and training tasks with their completions and pass rates (managers)."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "see evaluation tasks")
        result, stats = quality_admin.list_quality_tasks(
            session=session,
            project=project,
            kind=kind,
            retired=retired,
            cursor=page.cursor,
            limit=page.limit,
        )
        items = []
        for task in result.items:
            item = QualityTask.model_validate(task)
            found = stats.get(task.id)
            if found is not None:
                item.attempts, item.passes = found.attempts, found.passes
                item.pass_rate, item.mean_score = found.pass_rate, found.mean_score
            items.append(item)
        return QualityTaskPage(items=items, next_cursor=result.next_cursor)


@router.post(
    "/projects/{project_id}/quality_tasks/retire",
    response_model=Retired,
    operation_id="retire_evaluation_tasks",
)
def retire(project_id: str, body: Retire, actor: CurrentActor, db: Db) -> Retired:
    """Mass retire by pass-rate range and completion count (too easy, too hard, ambiguous)."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "retire evaluation tasks")
        chosen = quality_admin.retire(
            session=session,
            project=project,
            min_pass_rate=body.min_pass_rate,
            max_pass_rate=body.max_pass_rate,
            min_attempts=body.min_attempts,
            task_ids=body.task_ids,
        )
        return Retired(retired=len(chosen), task_ids=chosen)


@router.post(
    "/projects/{project_id}/quality_tasks/recycle",
    response_model=Recycled,
    operation_id="recycle_evaluation_tasks",
)
def recycle(project_id: str, body: Recycle, actor: CurrentActor, db: Db) -> Recycled:
    """Serve retired evaluation or training tasks again."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "recycle evaluation tasks")
        count = quality_admin.recycle(session=session, project=project, task_ids=body.task_ids)
        return Recycled(recycled=count)


@router.post(
    "/tasks/{task_id}/make_evaluation",
    response_model=schemas.Task,
    status_code=201,
    operation_id="make_evaluation_task",
)
def make_evaluation(task_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> schemas.Task:
    """Turn a reviewed, completed task into an evaluation task (its answer is expected)."""
    from assay.labeling import tasks as task_service

    with db.write() as session:
        task = task_service.get_task(session=session, task_id=task_id, mode=actor.mode)
        project, role = load_project(session, task.project_id, actor)
        project_policy.require_manager(actor, project, role, "make evaluation tasks")
        created = quality_admin.make_evaluation(
            session=session, task=task, actor=actor, settings=ctx.settings
        )
        return schemas.Task.model_validate(created)


class MakeQuality(Schema):
    kind: Literal["evaluation", "training"] = "evaluation"
    expected_response: dict[str, Any] = Field(
        description="The answer labelers are scored against, in the project's response format."
    )


@router.post(
    "/tasks/{task_id}/make_quality",
    response_model=schemas.Task,
    status_code=201,
    operation_id="make_quality_task",
)
def make_quality(
    task_id: str, body: MakeQuality, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.Task:
    """Copy any real task as an evaluation (gold) or training task with the expected answer
    given here (checked against the taxonomy: a 422 names the field)."""
    from assay.labeling import tasks as task_service

    with db.write() as session:
        task = task_service.get_task(session=session, task_id=task_id, mode=actor.mode)
        project, role = load_project(session, task.project_id, actor)
        project_policy.require_manager(actor, project, role, f"make {body.kind} tasks")
        (created,) = quality_admin.make_quality_copies(
            session=session,
            tasks_in=[task],
            kind=body.kind,
            actor=actor,
            settings=ctx.settings,
            expected_response=body.expected_response,
        )
        return schemas.Task.model_validate(created)


# --- training ------------------------------------------------------------------------------


@router.get(
    "/projects/{project_id}/training", response_model=CourseState, operation_id="training_state"
)
def training_state(project_id: str, actor: CurrentActor, db: Db) -> CourseState:
    """Where you stand in the project's training course."""
    with db.read() as session:
        conn = session.connection()
        access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
        queue_policy.can_work(actor, access, access.role, "label")
        state = quality.course(
            conn=conn, project_id=access.id, config=access.rules.quality, user_id=actor.user_id
        )
        return CourseState(
            required=state.required,
            total=state.total,
            round=state.round,
            max_rounds=state.max_rounds,
            done=state.done,
            score=state.score,
            passed=state.passed,
            passed_at=state.passed_at,
            can_retry=state.can_retry,
            pass_threshold=state.pass_threshold,
        )


@router.post(
    "/projects/{project_id}/training/next",
    response_model=schemas.Lease,
    responses={204: {"description": "The course is passed, or no go at it is left"}},
    operation_id="next_training_task",
)
def next_training(project_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> Any:
    """Your next training task (feedback with the expected answer comes with each submit)."""
    with db.write_connection() as conn:
        access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
        queue_policy.can_work(actor, access, access.role, "label")
        lease = quality.next_training(conn=conn, access=access, user_id=actor.user_id)
    if lease is None:
        return Response(status_code=204)
    return Response(to_json(lease_view(lease, ctx.settings)), media_type="application/json")


# --- people --------------------------------------------------------------------------------


@router.get(
    "/projects/{project_id}/workers", response_model=list[Standing], operation_id="list_workers"
)
def list_workers(project_id: str, actor: CurrentActor, db: Db) -> list[Standing]:
    """Every labeler and reviewer with their standing and rolling accuracy (managers)."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "see labelers' standing")
        rows = quality_admin.standing_rows(session=session, project=project)
        return [Standing.model_validate(row) for row in rows]


@router.get(
    "/projects/{project_id}/me/quality", response_model=Standing, operation_id="my_standing"
)
def my_standing(project_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> Standing:
    """Your own standing: paused (and why), accuracy, training. A labeler's accuracy counts
    evaluation results late and in groups, so it never tells which task was one."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_visible(actor, project, role)
        exact = quality_stats_policy.oversees(actor, role)
        row = quality_admin.standing(
            session=session,
            project=project,
            user_id=actor.user_id,
            feedback=None if exact else Feedback.from_settings(ctx.settings),
        )
        return Standing.model_validate(row)


@router.post(
    "/projects/{project_id}/workers/{user_id}/pause",
    response_model=Standing,
    operation_id="pause_worker",
)
def pause(project_id: str, user_id: str, body: PauseBody, actor: CurrentActor, db: Db) -> Standing:
    """Stop serving real work to a labeler; they are shown the reason."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "pause labelers")
        quality_admin.pause(session=session, project=project, user_id=user_id, reason=body.reason)
        session.expire_all()
        return Standing.model_validate(
            quality_admin.standing(session=session, project=project, user_id=user_id)
        )


@router.post(
    "/projects/{project_id}/workers/{user_id}/requalify",
    response_model=Standing,
    operation_id="requalify_worker",
)
def requalify(
    project_id: str, user_id: str, body: Requalify, actor: CurrentActor, db: Db
) -> Standing:
    """Back to work with a fresh accuracy window (after the training course, by default)."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "re-qualify labelers")
        quality_admin.requalify(
            session=session, project=project, user_id=user_id, retrain=body.retrain
        )
        return Standing.model_validate(
            quality_admin.standing(session=session, project=project, user_id=user_id)
        )


@router.patch(
    "/projects/{project_id}/workers/{user_id}",
    response_model=Standing,
    operation_id="update_worker",
)
def update_worker(
    project_id: str, user_id: str, body: WorkerChange, actor: CurrentActor, db: Db
) -> Standing:
    """Set a labeler's own audit rate (null: the project's)."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "set audit rates")
        quality_admin.set_audit_rate(
            session=session, project=project, user_id=user_id, audit_rate=body.audit_rate
        )
        session.expire_all()
        return Standing.model_validate(
            quality_admin.standing(session=session, project=project, user_id=user_id)
        )


# --- audits --------------------------------------------------------------------------------


def _require_auditor(actor: Any, project: Any, role: str | None) -> None:
    queue_policy.can_work(actor, project, role, "review")


@router.post(
    "/projects/{project_id}/audits/next",
    response_model=AuditLease,
    responses={204: {"description": "No audit waiting"}},
    operation_id="next_audit",
)
def next_audit(project_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> Any:
    """Your audit lease, or the oldest pending audit of someone else's work (reviewers)."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        _require_auditor(actor, project, role)
        audit = audits.next_audit(session=session, project_id=project.id, auditor_id=actor.user_id)
        if audit is None:
            return Response(status_code=204)
        task = session.get(models.Task, audit.task_id)
        assert task is not None and audit.lease_token and audit.lease_expires_at
        params = labeler_params(
            task.params,
            secret=ctx.settings.secret_key.get_secret_value(),
            ttl_seconds=ctx.settings.media_url_ttl_seconds,
        )
        return AuditLease(
            audit_id=audit.id,
            lease_token=audit.lease_token,
            expires_at=audit.lease_expires_at,
            labeler_id=audit.labeler_id,
            task=AuditTask(id=task.id, type=task.type, params=params),
            response=task.response,
        )


@router.post("/audits/{audit_id}/decision", response_model=Audit, operation_id="decide_audit")
def decide_audit(audit_id: str, body: AuditDecision, actor: CurrentActor, db: Db) -> Audit:
    """Accept, fix (send the corrected response) or reject (with comments)."""
    with db.write() as session:
        audit = audits.get_audit(session=session, audit_id=audit_id)
        project, role = load_project(session, audit.project_id, actor)
        _require_auditor(actor, project, role)
        response = None
        if body.response is not None:
            task = session.get(models.Task, audit.task_id)
            assert task is not None
            response = validate_response(
                project_rules(project).taxonomy, task.type, task.params, body.response
            )
        comments = (
            [c.model_dump(exclude_none=True) for c in body.comments] if body.comments else None
        )
        decided = audits.decide(
            session=session,
            audit=audit,
            auditor_id=actor.user_id,
            token=body.lease_token,
            decision=body.decision,
            response=response,
            comments=comments,
        )
        return Audit.model_validate(decided)


@router.get("/projects/{project_id}/audits", response_model=AuditPage, operation_id="list_audits")
def list_audits(
    project_id: str,
    actor: CurrentActor,
    db: Db,
    page: Page,
    status: Annotated[str | None, Query(description="pending, accepted, fixed, rejected")] = None,
) -> AuditPage:
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "see audits")
        result = audits.list_audits(
            session=session,
            project_id=project.id,
            status=status,
            cursor=page.cursor,
            limit=page.limit,
        )
        return AuditPage(
            items=[Audit.model_validate(a) for a in result.items], next_cursor=result.next_cursor
        )


@router.get(
    "/batches/{batch_id}/calibration_report",
    response_model=dict[str, Any],
    operation_id="calibration_report",
)
def calibration_report(batch_id: str, actor: CurrentActor, db: Db) -> dict[str, Any]:
    """Where labelers disagreed with a calibration batch's expected answers, and their notes."""
    with db.read() as session:
        batch = session.get(models.Batch, batch_id)
        if batch is None or batch.mode != actor.mode:
            raise NotFound(f"no batch with id {batch_id}", field="batch_id")
        project, role = load_project(session, batch.project_id, actor)
        project_policy.require_manager(actor, project, role, "read calibration reports")
        return quality_admin.calibration_report(session=session, batch=batch)


@router.get(
    "/projects/{project_id}/consensus/labelers",
    response_model=dict[str, Any],
    operation_id="labeler_confusions",
)
def labeler_confusions(project_id: str, actor: CurrentActor, db: Db) -> dict[str, Any]:
    """Dawid-Skene over the project's overlapping answers (categorization): each labeler's
    estimated accuracy and confusion matrix (rows: the true class, columns: what they said)."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        project_policy.require_manager(actor, project, role, "see labelers' confusion matrices")
        return consensus.labeler_confusions(session=session, project_id=project.id)
