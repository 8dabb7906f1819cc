"""Human evaluation through the labeling pillar: model responses sent to people chosen by
profile, as rubric_grading tasks (met / not met per criterion) or llm_comparison tasks
(pairwise preference), and their verdicts read back.

Raters are chosen by their rater profile (`labeling/rater_profiles.py`): the matching
labelers and reviewers become a worker group of the project and the batch is assigned to
it, so the queue serves its tasks only to them (`labeling/workforce.py`). Criteria's points
stay here — a task shows text and category only — and the rubric score is computed from the
humans' verdicts (`evaluation/rubrics.py`). A pairwise item's two responses are shown in an
order fixed by a hash of the item, so neither side is always first; the preference is
reported back in the request's terms (`response` / `response_b`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.ids import new_ids
from assay.core.pagination import PageResult, paginate
from assay.core.settings import Settings
from assay.evaluation import human_evaluation_schemas as schemas
from assay.evaluation import models
from assay.evaluation.rubrics import Rubric, parse_rubric
from assay.labeling import batches as labeling_batches
from assay.labeling import rater_profiles, workforce, workforce_schemas
from assay.labeling import schemas as labeling_schemas
from assay.labeling import tasks as labeling_tasks
from assay.labeling.models import Project
from assay.labeling.rater_profile_schemas import RaterFilter
from assay.labeling.rubric_grading import verdicts_of
from assay.labeling.task_types import native_type

PROJECT_TYPES = {"rubric_grading": "rubric_grading", "pairwise": "llm_comparison"}
_SWAPPED_CHOICE = {"a": "response_b", "b": "response"}
_CHOICE = {"a": "response", "b": "response_b"}


def _rubric(item: schemas.HumanEvaluationItemIn, i: int) -> Rubric:
    if not item.criteria:
        raise Invalid("a rubric_grading item needs its criteria", field=f"items[{i}].criteria")
    try:
        return parse_rubric([c.model_dump(exclude_none=True) for c in item.criteria])
    except Invalid as exc:
        raise Invalid(exc.message, field=f"items[{i}].{exc.field}") from None


def _swapped(name: str, position: int) -> bool:
    """Show response_b first for about half the items, the same way on every retry."""
    return hashlib.blake2b(f"{name}:{position}".encode(), digest_size=1).digest()[0] & 1 == 1


def _task_in(
    kind: str, item: schemas.HumanEvaluationItemIn, i: int, batch_id: str, swapped: bool
) -> tuple[labeling_schemas.TaskCreate, dict[str, float]]:
    params: dict[str, Any] = {"messages": item.turns()}
    points: dict[str, float] = {}
    if kind == "rubric_grading":
        if item.response_b is not None:
            raise Invalid("rubric grading shows one response", field=f"items[{i}].response_b")
        rubric = _rubric(item, i)
        params["responses"] = [{"content": item.response}]
        params["criteria"] = [
            {"id": c.id, "text": c.text, "category": c.category} for c in rubric.criteria
        ]
        points = {c.id: c.points for c in rubric.criteria}
    else:
        if item.response_b is None:
            raise Invalid("a pairwise item needs response_b", field=f"items[{i}].response_b")
        if item.criteria is not None:
            raise Invalid("a pairwise item takes no criteria", field=f"items[{i}].criteria")
        pair = [{"content": item.response}, {"content": item.response_b}]
        params["responses"] = pair[::-1] if swapped else pair
    return labeling_schemas.TaskCreate(batch=batch_id, params=params), points


def _rater_group(*, session: Session, project: Project, name: str, wanted: RaterFilter) -> Any:
    raters = rater_profiles.matching_raters(session=session, wanted=wanted)
    if not raters:
        raise Invalid("no active labeler or reviewer has a matching profile", field="raters")
    return workforce.create_group(
        session=session,
        project=project,
        group_in=workforce_schemas.WorkerGroupCreate(
            name=f"raters: {name}"[:200], emails=[user.email for user in raters]
        ),
    ).group


def create_human_evaluation(
    *,
    session: Session,
    project: Project,
    evaluation_in: schemas.HumanEvaluationCreate,
    actor: Actor,
    settings: Settings,
) -> models.HumanEvaluation:
    """A batch of one task per item in the project, served to the raters the profile picks."""
    kind = evaluation_in.kind
    wanted_type = PROJECT_TYPES[kind]
    if native_type(project.task_type) != wanted_type:
        raise Invalid(
            f"a {kind} evaluation needs a {wanted_type} project; "
            f"{project.name!r} is {project.task_type}",
            field="project_id",
        )
    batch = labeling_batches.create_batch(
        session=session,
        project=project,
        batch_in=labeling_schemas.BatchCreate(
            name=evaluation_in.name, metadata={"evaluation": "human_evaluation"}
        ),
        actor=actor,
    )
    swaps = [
        kind == "pairwise" and _swapped(evaluation_in.name, i)
        for i in range(len(evaluation_in.items))
    ]
    built = [
        _task_in(kind, item, i, batch.id, swaps[i]) for i, item in enumerate(evaluation_in.items)
    ]
    group = None
    if not evaluation_in.raters.is_empty():
        group = _rater_group(
            session=session, project=project, name=evaluation_in.name, wanted=evaluation_in.raters
        )
    evaluation = models.HumanEvaluation(
        name=evaluation_in.name,
        mode=actor.mode,
        kind=kind,
        project_id=project.id,
        batch_id=batch.id,
        group_id=group.id if group is not None else None,
        raters=evaluation_in.raters.model_dump(mode="json"),
        items=len(built),
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(evaluation)
    session.flush()
    created = labeling_tasks.create_tasks(
        session=session,
        project=project,
        batch=batch,
        tasks_in=[
            task_in.model_copy(update={"metadata": {"human_evaluation_id": evaluation.id}})
            for task_in, _ in built
        ],
        actor=actor,
        settings=settings,
        path="items",
    )
    ids = new_ids(len(built))
    session.execute(
        models.HumanEvaluationItem.__table__.insert(),
        [
            {
                "id": ids[i],
                "human_evaluation_id": evaluation.id,
                "position": i,
                "task_id": row.id,
                "source": item.source,
                "swapped": swaps[i],
                "points": points,
            }
            for i, (row, item, (_, points)) in enumerate(
                zip(created, evaluation_in.items, built, strict=True)
            )
        ],
    )
    if group is not None:
        workforce.set_batch_groups(session=session, batch=batch, groups=[group])
    if evaluation_in.finalize:
        labeling_batches.finalize_batch(
            session=session, batch=batch, settings=settings, actor=actor
        )
    return evaluation


def get_human_evaluation(
    *, session: Session, human_evaluation_id: str, mode: str
) -> models.HumanEvaluation:
    found = session.get(models.HumanEvaluation, human_evaluation_id)
    if found is None or found.mode != mode:
        raise NotFound(
            f"no human evaluation with id {human_evaluation_id}", field="human_evaluation_id"
        )
    return found


def list_human_evaluations(
    *, session: Session, mode: str, cursor: str | None, limit: int
) -> PageResult[models.HumanEvaluation]:
    """Newest first."""
    statement = select(models.HumanEvaluation).where(models.HumanEvaluation.mode == mode)
    return paginate(session, statement, key=models.HumanEvaluation.id, cursor=cursor, limit=limit)


def _score(points: dict[str, float], verdicts: dict[str, bool]) -> float | None:
    if not points or any(c not in verdicts for c in points):
        return None
    rubric = parse_rubric([{"id": c, "text": c, "points": p} for c, p in points.items()])
    return rubric.score(verdicts)


def human_evaluation_results(
    *, session: Session, evaluation: models.HumanEvaluation
) -> schemas.HumanEvaluationResults:
    """Each item's verdicts (and rubric score) or preference, from its completed task."""
    done = labeling_tasks.completed_responses(session=session, batch_id=evaluation.batch_id)
    items = session.scalars(
        select(models.HumanEvaluationItem)
        .where(models.HumanEvaluationItem.human_evaluation_id == evaluation.id)
        .order_by(models.HumanEvaluationItem.position)
    ).all()
    results, scores, preferences = [], [], Counter[str]()
    for item in items:
        completed = item.task_id in done
        response = done.get(item.task_id)
        result = schemas.HumanEvaluationResult(
            position=item.position, task_id=item.task_id, source=item.source, completed=completed
        )
        if completed and evaluation.kind == "rubric_grading":
            result.verdicts = verdicts_of(response)
            result.score = _score(item.points, result.verdicts)
            if result.score is not None:
                scores.append(result.score)
        elif completed:
            choices = [
                a.get("choice")
                for a in (response or {}).get("annotations") or []
                if a.get("type") == "comparison"
            ]
            if choices:
                mapping = _SWAPPED_CHOICE if item.swapped else _CHOICE
                result.preference = mapping.get(choices[0], choices[0])
                preferences[result.preference] += 1
        results.append(result)
    pairwise = evaluation.kind == "pairwise"
    return schemas.HumanEvaluationResults(
        human_evaluation_id=evaluation.id,
        kind=evaluation.kind,
        items=evaluation.items,
        completed=sum(1 for r in results if r.completed),
        mean_score=sum(scores) / len(scores) if scores else None,
        preferences=dict(preferences) if pairwise else None,
        results=results,
    )
