"""Judge calibration: humans grade a sample of the criteria a judge graded, and the report
says how well the judge agrees with them, per category and per judge version.

`create_calibration` groups the sampled verdicts by (conversation, response) and makes one
`rubric_grading` task per group in a labeling batch, through labeling's services. A task
shows each criterion's text and category — never its points, never the judge's verdict,
which stay in `eval_calibration_verdicts`. The labeling project's own quality control
(gold tasks, consensus, review, audits) decides each task's final response.

`calibration_report` reads the batch's completed tasks back through labeling's services and
pairs each judge verdict with the humans' final verdict on that criterion: balanced (macro)
F1 as in HealthBench's meta-evaluation, Cohen's κ and the judge's bias both ways, computed
by `assay.metrics.judge_agreement`. Verdicts of tasks not yet completed are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.ids import new_ids
from assay.core.pagination import PageResult, paginate
from assay.core.settings import Settings
from assay.evaluation import calibration_schemas as schemas
from assay.evaluation import models
from assay.labeling import batches as labeling_batches
from assay.labeling import schemas as labeling_schemas
from assay.labeling import tasks as labeling_tasks
from assay.labeling.models import Project
from assay.labeling.rubric_grading import verdicts_of
from assay.labeling.task_types import native_type
from assay.metrics.judge_agreement import (
    Agreement,
    judge_agreement,
    judge_agreement_by_category,
)

GRADING_TYPE = "rubric_grading"
VERDICTS = models.CalibrationVerdict.__table__
_VERDICT_COLUMNS = tuple(
    VERDICTS.c[name]
    for name in (
        "position",
        "task_id",
        "criterion_id",
        "category",
        "judge_met",
        "judge_version",
        "source",
    )
)
MAX_DISAGREEMENTS = 1000


@dataclass(slots=True)
class _Group:
    """The verdicts of one (conversation, response): one task."""

    messages: list[dict[str, Any]]
    response: str
    criteria: dict[str, dict[str, str]]  # id → {id, text, category}, in order of first use
    ids_by_text: dict[str, str]
    sources: list[str]


def check_grading_project(project: Project, field: str = "project_id") -> None:
    if native_type(project.task_type) != GRADING_TYPE:
        raise Invalid(
            f"project {project.name!r} is a {project.task_type} project; "
            f"humans grade criteria in a {GRADING_TYPE} project",
            field=field,
        )


def _criterion_id(group: _Group, verdict: schemas.SampledVerdict, i: int) -> str:
    """The criterion's id in its task; the same text is the same criterion."""
    path = f"verdicts[{i}]"
    if verdict.criterion_id is None:
        known = group.ids_by_text.get(verdict.criterion)
        if known is None:
            known = f"c{len(group.criteria) + 1}"
            while known in group.criteria:
                known += "'"
        criterion_id = known
    else:
        criterion_id = verdict.criterion_id
    found = group.criteria.get(criterion_id)
    if found is None:
        group.criteria[criterion_id] = {
            "id": criterion_id,
            "text": verdict.criterion,
            "category": verdict.category,
        }
        group.ids_by_text.setdefault(verdict.criterion, criterion_id)
    elif found["text"] != verdict.criterion:
        raise Invalid(
            f"criterion {criterion_id!r} of this conversation has another text",
            field=f"{path}.criterion",
        )
    elif found["category"] != verdict.category:
        raise Invalid(
            f"criterion {criterion_id!r} is in category {found['category']!r}",
            field=f"{path}.category",
        )
    return criterion_id


def create_calibration(
    *,
    session: Session,
    project: Project,
    calibration_in: schemas.CalibrationCreate,
    actor: Actor,
    settings: Settings,
) -> models.Calibration:
    """A labeling batch with one rubric_grading task per (conversation, response)."""
    check_grading_project(project)
    groups: dict[str, _Group] = {}
    placed: list[tuple[str, str]] = []  # per verdict: (group key, criterion id)
    for i, verdict in enumerate(calibration_in.verdicts):
        messages = verdict.turns()
        key = json.dumps([messages, verdict.response], sort_keys=True)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(messages, verdict.response, {}, {}, [])
        placed.append((key, _criterion_id(group, verdict, i)))
    batch = labeling_batches.create_batch(
        session=session,
        project=project,
        batch_in=labeling_schemas.BatchCreate(
            name=calibration_in.name, metadata={"evaluation": "calibration"}
        ),
        actor=actor,
    )
    calibration = models.Calibration(
        name=calibration_in.name,
        mode=actor.mode,
        project_id=project.id,
        batch_id=batch.id,
        tasks=len(groups),
        verdicts=len(calibration_in.verdicts),
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(calibration)
    session.flush()
    tasks_in = [
        labeling_schemas.TaskCreate(
            batch=batch.id,
            params={
                "messages": group.messages,
                "responses": [{"content": group.response}],
                "criteria": list(group.criteria.values()),
            },
            metadata={"calibration_id": calibration.id},
        )
        for group in groups.values()
    ]
    created = labeling_tasks.create_tasks(
        session=session,
        project=project,
        batch=batch,
        tasks_in=tasks_in,
        actor=actor,
        settings=settings,
        path="verdicts",
    )
    task_of = dict(zip(groups, (row.id for row in created), strict=True))
    ids = new_ids(len(placed))
    session.execute(
        models.CalibrationVerdict.__table__.insert(),
        [
            {
                "id": ids[i],
                "calibration_id": calibration.id,
                "position": i,
                "task_id": task_of[key],
                "criterion_id": criterion_id,
                "category": verdict.category,
                "judge_met": verdict.judge_met,
                "judge_version": verdict.judge_version,
                "source": verdict.source,
            }
            for i, (verdict, (key, criterion_id)) in enumerate(
                zip(calibration_in.verdicts, placed, strict=True)
            )
        ],
    )
    if calibration_in.finalize:
        labeling_batches.finalize_batch(
            session=session, batch=batch, settings=settings, actor=actor
        )
    return calibration


def get_calibration(*, session: Session, calibration_id: str, mode: str) -> models.Calibration:
    found = session.get(models.Calibration, calibration_id)
    if found is None or found.mode != mode:
        raise NotFound(f"no calibration with id {calibration_id}", field="calibration_id")
    return found


def list_calibrations(
    *, session: Session, mode: str, cursor: str | None, limit: int
) -> PageResult[models.Calibration]:
    """Newest first."""
    statement = select(models.Calibration).where(models.Calibration.mode == mode)
    return paginate(session, statement, key=models.Calibration.id, cursor=cursor, limit=limit)


def completed_verdicts(*, session: Session, batch_id: str) -> dict[str, dict[str, bool]]:
    """{task id: {criterion id: met}} of the batch's completed tasks' final responses."""
    done = labeling_tasks.completed_responses(session=session, batch_id=batch_id)
    return {task_id: verdicts_of(response) for task_id, response in done.items()}


def _agreement(found: Agreement | None) -> schemas.Agreement | None:
    return None if found is None else schemas.Agreement(**found.to_dict())


def calibration_report(
    *, session: Session, calibration: models.Calibration
) -> schemas.CalibrationReport:
    """The judge's agreement with the humans' final verdicts, over the tasks done so far."""
    human = completed_verdicts(session=session, batch_id=calibration.batch_id)
    rows = session.execute(
        select(*_VERDICT_COLUMNS)
        .where(VERDICTS.c.calibration_id == calibration.id)
        .order_by(VERDICTS.c.position)
    ).all()
    judge, humans, categories, versions = [], [], [], []
    disagreements = []
    for row in rows:
        given = human.get(row.task_id)
        if given is None or row.criterion_id not in given:
            continue
        human_met = given[row.criterion_id]
        judge.append(row.judge_met)
        humans.append(human_met)
        categories.append(row.category)
        versions.append(row.judge_version)
        if human_met != row.judge_met and len(disagreements) < MAX_DISAGREEMENTS:
            disagreements.append(
                schemas.Disagreement(
                    position=row.position,
                    task_id=row.task_id,
                    criterion_id=row.criterion_id,
                    category=row.category,
                    judge_version=row.judge_version,
                    source=row.source,
                    judge_met=row.judge_met,
                    human_met=human_met,
                )
            )
    by_category = judge_agreement_by_category(judge, humans, categories)
    by_version = judge_agreement_by_category(judge, humans, versions)
    return schemas.CalibrationReport(
        calibration_id=calibration.id,
        tasks=calibration.tasks,
        tasks_completed=len(human),
        verdicts=calibration.verdicts,
        verdicts_graded=len(judge),
        overall=_agreement(judge_agreement(judge, humans)),
        by_category={str(k): schemas.Agreement(**v.to_dict()) for k, v in by_category.items()},
        by_judge_version={str(k): schemas.Agreement(**v.to_dict()) for k, v in by_version.items()},
        disagreements=disagreements,
    )
