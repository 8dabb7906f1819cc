"""Tasks: bulk creation (all or nothing), reads, lists with filters and history (changes to
existing tasks: `task_changes`).

Creation is the hot path (10,000 tasks a request): one transaction, one bulk INSERT through
the driver (`dialects.insert_rows`), no ORM object per row; per-task checks are plain Python
over already-validated pydantic input; the database is asked once per chunk (not once per
task) about blobs, and the INSERT's unique constraint finds unique ids already taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.core import blob_refs as blob_access
from assay.core import dialects
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import AssayError, Conflict, Invalid, NotFound, TooLarge
from assay.core.ids import new_ids
from assay.core.pagination import PageResult, paginate
from assay.core.settings import Settings
from assay.labeling import models, schemas, synthetic, task_sorts, workforce
from assay.labeling.annotations import validate_response
from assay.labeling.batches import check_callback_url
from assay.labeling.pipeline import finish
from assay.labeling.projects import PROJECT_SCOPE, Rules, project_rules
from assay.labeling.task_params import blob_sha, media_problem, params_checker, rebase

CHUNK = 5000
_COLUMNS = frozenset(column.name for column in models.Task.__table__.columns)


class TaskRow(NamedTuple):
    """A task just inserted, read like a `models.Task` without the cost of an ORM object per
    row: the values that differ per task, then those `shared` by the request's tasks."""

    id: str
    params: dict[str, Any]
    prelabels: dict[str, Any] | None
    priority: int
    unique_id: str | None
    metadata_: dict[str, Any]
    tags: list[str]
    callback_url: str | None
    expected_response: dict[str, Any] | None
    shared: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        if name not in _COLUMNS:
            raise AttributeError(name)
        return self.shared.get(name)  # columns left out of the INSERT are NULL


# The columns of the bulk INSERT that differ per task, in TaskRow order (`check_tasks`
# prepares all but the id).
_INSERTED = tuple("metadata" if name == "metadata_" else name for name in TaskRow._fields[:-1])


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _at(path: str, i: int) -> str:
    return f"{path}[{i}]" if path else ""


def _field(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def user_of(actor: Actor | None) -> str | None:
    """Who did it, for `created_by` and history (None for the system)."""
    return actor.user_id if actor is not None and actor.via != "system" else None


def existing_unique_ids(
    *, session: Session, mode: str, unique_ids: Sequence[str]
) -> dict[str, str]:
    """unique_id → task id for those already taken in this sandbox."""
    found: dict[str, str] = {}
    for chunk in _chunks(list(unique_ids)):
        rows = session.execute(
            select(models.Task.unique_id, models.Task.id).where(
                models.Task.mode == mode, models.Task.unique_id.in_(chunk)
            )
        )
        found.update({unique_id: task_id for unique_id, task_id in rows})
    return found


def _stored_blobs(session: Session, shas: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The stored blobs among `shas`: sha256 → (content type, file name)."""
    found: dict[str, tuple[str, str]] = {}
    blob = core_models.Blob
    for chunk in _chunks(list(shas)):
        rows = session.execute(
            select(blob.sha256, blob.content_type, blob.filename).where(blob.sha256.in_(chunk))
        )
        found.update({sha: (content_type, filename) for sha, content_type, filename in rows})
    return found


def _entry_stages(batch: models.Batch | None, rules: Rules) -> tuple[str | None, str | None]:
    """Where new tasks wait: (`stage`, `paused_stage`) — queued at the first stage, held
    back by a staging batch, or out of the queue until their paused batch resumes."""
    first = rules.pipeline.stages[0].name
    if batch is None or batch.status == "in_progress":
        return first, None
    if batch.status == "staging":
        return None, None
    if batch.status == "paused":
        return None, first
    raise Conflict(
        f"batch {batch.name!r} is {batch.status}; add the tasks to a new batch", field="batch"
    )


def check_tasks(
    *,
    session: Session,
    project: models.Project,
    tasks_in: Sequence[schemas.TaskCreate],
    settings: Settings | None,
    mode: str,
    batch_id: str | None = None,
    path: str = "tasks",
    collect: bool = False,
    check_taken: bool = True,
    actor: Actor | None = None,
) -> tuple[list[tuple[Any, ...] | None], dict[int, AssayError]]:
    """Check every task; returns their row values (`_INSERTED` but the id) and, with
    `collect`, the problem of each bad task by index (otherwise the first problem is raised).
    `check_taken=False` leaves unique ids already taken to the INSERT's unique constraint.
    With `actor`, blobs the actor may not read count as missing (a task must not make a blob
    readable to its project that its creator could not read).

    The loop runs once per task of requests of 10,000: field paths are only formatted for a
    task that fails, and values are used as pydantic gave them, not copied."""
    rules = project_rules(project)
    check_params = params_checker(rules.taxonomy, project.task_type)
    defaults = project.params
    errors: dict[int, AssayError] = {}
    prepared: list[tuple[Any, ...] | None] = []
    seen_unique: dict[str, int] = {}
    good_urls: set[str] = set()
    blob_refs: dict[str, list[tuple[int, str]]] = {}

    def fail(i: int, error: AssayError) -> None:
        if not collect:
            raise error
        errors.setdefault(i, error)

    for i, task_in in enumerate(tasks_in):
        try:
            if task_in.batch is not None and task_in.batch != batch_id:
                raise Invalid(
                    "every task of one request goes to the request's batch; "
                    "set `batch` on the request",
                    field=_field(_at(path, i), "batch"),
                )
            params = {**defaults, **task_in.params} if defaults else task_in.params
            try:
                named_blobs = check_params(params)
            except Invalid as exc:
                field = rebase(exc.field, "params", _field(_at(path, i), "params"))
                raise Invalid(exc.message, field=field) from None
            prelabels = None
            if task_in.prelabels is not None:
                try:
                    prelabels = validate_response(
                        rules.taxonomy, project.task_type, params, task_in.prelabels, partial=True
                    )
                except Invalid as exc:
                    field = rebase(exc.field, "response", _field(_at(path, i), "prelabels"))
                    raise Invalid(exc.message, field=field) from None
            expected = None
            if task_in.expected_response is not None:
                try:
                    expected = validate_response(
                        rules.taxonomy, project.task_type, params, task_in.expected_response
                    )
                except Invalid as exc:
                    field = rebase(exc.field, "response", _field(_at(path, i), "expected_response"))
                    raise Invalid(exc.message, field=field) from None
            url = task_in.callback_url
            if url is not None and url not in good_urls:
                try:
                    check_callback_url(url, "callback_url")
                except Invalid as exc:
                    field = _field(_at(path, i), "callback_url")
                    raise Invalid(exc.message, field=field) from None
                good_urls.add(url)  # a bulk request usually repeats one callback URL
            unique_id = task_in.unique_id
            if unique_id is not None:
                if unique_id in seen_unique:
                    raise Invalid(
                        f"unique_id {unique_id!r} appears twice in this request "
                        f"(also {_at(path, seen_unique[unique_id]) or 'earlier'})",
                        field=_field(_at(path, i), "unique_id"),
                    )
                seen_unique[unique_id] = i
        except AssayError as exc:
            fail(i, exc)
            prepared.append(None)
            continue
        for sha, blob_field in named_blobs:
            blob_refs.setdefault(sha, []).append((i, blob_field))
        tags = task_in.tags
        prepared.append(
            (
                params,
                prelabels,
                task_in.priority,
                unique_id,
                task_in.metadata,
                list(dict.fromkeys(tags)) if len(tags) > 1 else tags,
                url.strip() if url is not None else None,
                expected,
            )
        )

    late: dict[int, AssayError] = {}
    if blob_refs:
        stored = _stored_blobs(session, list(blob_refs))
        if actor is not None and stored:
            readable = blob_access.readable(session=session, actor=actor, sha256s=stored)
            stored = {sha: found for sha, found in stored.items() if sha in readable}
        for sha, places in blob_refs.items():
            for i, blob_field in places:
                if sha not in stored:
                    problem = f"no uploaded blob {sha}; upload the file first (POST /api/v1/blobs)"
                else:
                    problem = media_problem(project.task_type, blob_field, *stored[sha])
                if problem is not None:
                    late[i] = Invalid(
                        problem, field=rebase(blob_field, "params", _field(_at(path, i), "params"))
                    )
    if seen_unique and check_taken:
        taken = existing_unique_ids(session=session, mode=mode, unique_ids=list(seen_unique))
        for unique_id, task_id in taken.items():
            i = seen_unique[unique_id]
            late.setdefault(
                i,
                Conflict(
                    f"a task with unique_id {unique_id!r} already exists: {task_id}",
                    field=_field(_at(path, i), "unique_id"),
                ),
            )
    for i in sorted(late):
        fail(i, late[i])
        prepared[i] = None
    return prepared, errors


def create_tasks(
    *,
    session: Session,
    project: models.Project,
    batch: models.Batch | None,
    tasks_in: Sequence[schemas.TaskCreate],
    actor: Actor,
    settings: Settings,
    path: str = "tasks",
    kind: str = "production",
) -> list[Any]:
    """Create every task or none. Returns rows read like `models.Task` (`TaskRow`s; completed
    ORM tasks for test keys, whose tasks complete at once with a synthetic response).

    Evaluation and training tasks (`kind`) need an expected response, belong to no batch and
    never enter the queue: labelers get them through `assay.labeling.quality`."""
    if len(tasks_in) > settings.max_bulk_tasks:
        raise TooLarge(
            f"{len(tasks_in)} tasks in one request; the limit is {settings.max_bulk_tasks} "
            "(ASSAY_MAX_BULK_TASKS): split them into several requests",
            field="tasks",
        )
    if project.archived:
        raise Conflict("the project is archived; unarchive it to add tasks", field="project")
    if batch is not None and batch.project_id != project.id:
        raise Invalid(f"batch {batch.name!r} belongs to another project", field="batch")
    rules = project_rules(project)
    quality_task = kind != "production"
    if quality_task:
        if batch is not None:
            raise Invalid(f"{kind} tasks belong to no batch", field="batch")
        for i, task_in in enumerate(tasks_in):
            if task_in.expected_response is None:
                raise Invalid(
                    f"an {kind} task needs the expected response (in this project's "
                    "response format)",
                    field=_field(_at(path, i), "expected_response"),
                )
    stage, paused_stage = (None, None) if quality_task else _entry_stages(batch, rules)
    # Unique ids already taken are found by the INSERT (the unique constraint on mode and
    # unique_id): a conflict is the rare case, and asking first cost a tenth of a request.
    prepared, _ = check_tasks(
        session=session,
        project=project,
        tasks_in=tasks_in,
        settings=settings,
        mode=actor.mode,
        batch_id=batch.id if batch is not None else None,
        path=path,
        check_taken=False,
        actor=actor,
    )
    test_mode = actor.mode == "test"
    now = utcnow()
    shared = {
        "project_id": project.id,
        "batch_id": batch.id if batch is not None else None,
        "mode": actor.mode,
        "type": project.task_type,
        "kind": kind,
        # Workforce: new tasks take their batch's place in the order and its group restriction.
        "batch_priority": batch.priority if batch is not None else 0,
        "restricted": batch is not None
        and workforce.batch_has_groups(session=session, batch_id=batch.id),
        "status": "pending",
        "stage": None if test_mode else stage,
        "paused_stage": None if test_mode else paused_stage,
        "round": 0,
        "created_by": user_of(actor),
        "created_at": now,
        "updated_at": now,
    }
    good = [values for values in prepared if values is not None]
    ids = new_ids(len(good))
    rows = [TaskRow(task_id, *values, shared) for task_id, values in zip(ids, good, strict=True)]
    _insert(session, rows, shared, actor.mode, path)
    blob_access.add_refs(
        session=session, sha256s=_shown_blobs(rows), scope=PROJECT_SCOPE, scope_id=project.id
    )
    if test_mode and not quality_task:
        return _complete_synthetic(session, ids, rules, settings, actor)
    return rows


def _shown_blobs(rows: Iterable[TaskRow]) -> set[str]:
    """The blobs the tasks show (attachments and video frames), already checked stored."""
    shown: set[str] = set()
    for row in rows:
        if (sha := blob_sha(row.params.get("attachment"))) is not None:
            shown.add(sha)
        frames = row.params.get("frames")
        if isinstance(frames, list):
            shown.update(sha for frame in frames if (sha := blob_sha(frame)) is not None)
    return shown


def _insert(
    session: Session, rows: list[TaskRow], shared: dict[str, Any], mode: str, path: str
) -> None:
    try:
        with session.begin_nested():
            dialects.insert_rows(
                session.connection(),
                models.Task.__table__,
                _INSERTED,
                [row[:-1] for row in rows],  # all but `shared`
                shared,
            )
    except IntegrityError as exc:
        # A unique id is taken: by an earlier request, or by one that ran at the same time.
        unique = [row.unique_id for row in rows if row.unique_id is not None]
        taken = existing_unique_ids(session=session, mode=mode, unique_ids=unique)
        index = next((i for i, row in enumerate(rows) if row.unique_id in taken), None)
        if index is None:
            raise
        unique_id = rows[index].unique_id
        raise Conflict(
            f"a task with unique_id {unique_id!r} already exists: {taken[unique_id]}",
            field=_field(_at(path, index), "unique_id"),
        ) from exc


def _complete_synthetic(
    session: Session,
    ids: list[str],
    rules: Rules,
    settings: Settings,
    actor: Actor,
) -> list[models.Task]:
    """Test keys: every task completes at once with a synthetic response that validates."""
    tasks: dict[str, models.Task] = {}
    for chunk in _chunks(ids):
        tasks.update(
            (task.id, task)
            for task in session.scalars(select(models.Task).where(models.Task.id.in_(chunk)))
        )
    done = []
    for task_id in ids:
        task = tasks[task_id]
        response = synthetic.synthesize(rules.taxonomy, task.type, task.params, seed=task.id)
        response = validate_response(rules.taxonomy, task.type, task.params, response)
        finish(session=session, task=task, response=response, settings=settings, actor=actor)
        done.append(task)
    return done


def create_task(
    *,
    session: Session,
    project: models.Project,
    batch: models.Batch | None,
    task_in: schemas.TaskCreate,
    actor: Actor,
    settings: Settings,
    kind: str = "production",
) -> models.Task:
    """One task, through the bulk path; field paths name the task's own fields."""
    (row,) = create_tasks(
        session=session,
        project=project,
        batch=batch,
        tasks_in=[task_in],
        actor=actor,
        settings=settings,
        path="",
        kind=kind,
    )
    task = session.get(models.Task, row.id)
    assert task is not None
    return task


# --- reads ------------------------------------------------------------------------------


def get_task(*, session: Session, task_id: str, mode: str) -> models.Task:
    task = session.get(models.Task, task_id)
    if task is None or task.mode != mode:
        raise NotFound(f"no task with id {task_id}", field="task_id")
    return task


def get_task_by_unique_id(*, session: Session, unique_id: str, mode: str) -> models.Task:
    task = session.scalar(
        select(models.Task).where(models.Task.mode == mode, models.Task.unique_id == unique_id)
    )
    if task is None:
        raise NotFound(f"no task with unique_id {unique_id!r}", field="unique_id")
    return task


def list_tasks(
    *,
    session: Session,
    mode: str,
    cursor: str | None,
    limit: int,
    project_id: str | None = None,
    batch_id: str | None = None,
    status: str | None = None,
    stage: str | None = None,
    tags: list[str] | None = None,
    unique_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    updated_after: dt.datetime | None = None,
    updated_before: dt.datetime | None = None,
    completed_after: dt.datetime | None = None,
    completed_before: dt.datetime | None = None,
    kind: str | None = "production",
    sort: str | None = None,
) -> PageResult[models.Task]:
    """Newest first, one query per page. `kind`: production tasks unless asked (evaluation
    and training tasks have their own list, with their pass rates). `stage`: tasks waiting in
    that pipeline stage; `tags`: tasks carrying all of them; `metadata`: equality on top-level
    keys; `sort`: `task_sorts.SORTS`."""
    T = models.Task
    dialect = session.get_bind().dialect.name
    if status is not None and status not in models.TASK_STATUSES:
        raise Invalid(f"status must be one of {', '.join(models.TASK_STATUSES)}", field="status")
    stmt = select(T).where(T.mode == mode)
    if project_id is not None:
        stmt = stmt.where(T.project_id == project_id)
    if batch_id is not None:
        stmt = stmt.where(T.batch_id == batch_id)
    if status is not None:
        stmt = stmt.where(T.status == status)
    if stage is not None:
        stmt = stmt.where(T.stage == stage)
    if kind is not None:
        stmt = stmt.where(T.kind == kind)
    if unique_id is not None:
        stmt = stmt.where(T.unique_id == unique_id)
    for tag in tags or ():
        stmt = stmt.where(dialects.json_array_contains(T.tags, tag, dialect))
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not 0 < len(key) <= 200:
            raise Invalid(
                "metadata filter keys are strings of 1 to 200 characters", field="metadata"
            )
        stmt = stmt.where(dialects.json_key_equals(T.metadata_, key, value, dialect))
    for column, bound, after in (
        (T.updated_at, updated_after, True),
        (T.updated_at, updated_before, False),
        (T.completed_at, completed_after, True),
        (T.completed_at, completed_before, False),
    ):
        if bound is not None:
            stmt = stmt.where(column > bound if after else column < bound)
    if sort is not None and sort != task_sorts.DEFAULT_SORT:
        return task_sorts.sorted_page(session, stmt, sort=sort, cursor=cursor, limit=limit)
    return paginate(session, stmt, key=T.id, cursor=cursor, limit=limit)


def task_history(*, session: Session, task: models.Task) -> list[models.TaskEvent]:
    """Every submission, skip, review, cancel and audit, oldest first."""
    return list(
        session.scalars(
            select(models.TaskEvent)
            .where(models.TaskEvent.task_id == task.id)
            .order_by(models.TaskEvent.id)
        )
    )


def completed_after(
    *,
    session: Session,
    batch_id: str,
    after: tuple[dt.datetime, str] | None,
    limit: int = 500,
) -> list[models.Task]:
    """A batch's completed production tasks in completion order (completed_at, id), those
    after `after`: for pillars that bring labels back (curation's send-to-labeling)."""
    T = models.Task
    statement = select(T).where(
        T.batch_id == batch_id, T.status == "completed", T.kind == "production"
    )
    if after is not None:
        at, task_id = after
        statement = statement.where(
            or_(T.completed_at > at, and_(T.completed_at == at, T.id > task_id))
        )
    return list(session.scalars(statement.order_by(T.completed_at, T.id).limit(limit)))


def completed_responses(*, session: Session, batch_id: str) -> dict[str, dict[str, Any] | None]:
    """{task id: final response} of a batch's completed production tasks: for pillars that
    read the answers back (the evaluation pillar's calibrations and human evaluations)."""
    T = models.Task
    rows = session.execute(
        select(T.id, T.response).where(
            T.batch_id == batch_id, T.status == "completed", T.kind == "production"
        )
    )
    return {task_id: response for task_id, response in rows}
