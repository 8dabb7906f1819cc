"""Evaluation runs: a model (a provider + model name) asked every item of one version of an
evaluation set, `samples` times, its answers scored by the run's scorers and graded by its
rubric judge. Creating a run enqueues its job (`run_engine.py` does the work); results are
one row per (item, sample), written as they arrive.

Privacy: a run's results hold a set's items (the prompt preview) and the answers to them:
they are read only by those who may read the set's items (its owners), each read logged in
the set's read log. A sealed set's prompts never leave: its results show no preview.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from assay.core import jobs
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.pagination import PageResult, cursor_key, encode_cursor, paginate
from assay.evaluation import eval_sets, models
from assay.evaluation.run_schemas import RunCreate
from assay.evaluation.scorers import get_scorer

RUN_JOB = "evaluation.run"
RESULTS = models.EvalRunResult
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def _check_judge(session: Session, actor: Actor, run_in: RunCreate) -> dict[str, Any] | None:
    judge = run_in.judge
    if judge is None:
        return None
    members = judge.panel or []
    named = [
        (m.provider_id, m.model, f"judge.panel[{i}].provider_id") for i, m in enumerate(members)
    ]
    if not members:
        named = [(judge.provider_id or "", judge.model or "", "judge.provider_id")]
    for provider_id, _model, where in named:
        found = session.get(models.Provider, provider_id)
        if found is None or found.mode != actor.mode:
            raise NotFound(f"no provider with id {provider_id}", field=where)
    return judge.model_dump()


def _check_scorers(run_in: RunCreate) -> list[dict[str, Any]]:
    checked = []
    seen: set[str] = set()
    for i, scorer in enumerate(run_in.scorers):
        spec = get_scorer(scorer.name, field_name=f"scorers[{i}].name")
        if scorer.name in seen:
            raise Invalid(f"scorer {scorer.name!r} is named twice", field=f"scorers[{i}].name")
        seen.add(scorer.name)
        options = spec.check_options(scorer.options, f"scorers[{i}].options")
        checked.append({"name": spec.name, "kind": spec.kind, "options": options})
    return checked


def create_run(
    *,
    session: Session,
    actor: Actor,
    eval_set: models.EvalSet,
    provider: models.Provider,
    run_in: RunCreate,
) -> models.EvalRun:
    """A run of the set's version (its newest when none is named), its job enqueued."""
    version = eval_sets.get_version(session=session, eval_set=eval_set, number=run_in.set_version)
    if version.item_count == 0:
        raise Invalid(f"version {version.number} of the set has no items", field="set_version")
    spec = {
        "scorers": _check_scorers(run_in),
        "judge": _check_judge(session, actor, run_in),
        "params": run_in.params.model_dump(),
    }
    run = models.EvalRun(
        mode=actor.mode,
        name=run_in.name,
        set_id=eval_set.id,
        set_version=version.number,
        provider_id=provider.id,
        model=run_in.model,
        spec=spec,
        total_calls=version.item_count * run_in.params.samples,
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(run)
    session.flush()
    job = jobs.enqueue(
        session=session,
        kind=RUN_JOB,
        payload={"run_id": run.id},
        actor=actor,
        idempotency_key=f"eval-run:{run.id}",
    )
    run.job_id = job.id
    session.flush()
    return run


def get_run(*, session: Session, run_id: str, mode: str) -> models.EvalRun:
    run = session.get(models.EvalRun, run_id)
    if run is None or run.mode != mode:
        raise NotFound(f"no evaluation run with id {run_id}", field="run_id")
    return run


def list_runs(
    *, session: Session, actor: Actor, cursor: str | None, limit: int, set_id: str | None = None
) -> PageResult[models.EvalRun]:
    """The runs of the sets the actor owns, newest first."""
    owned = exists().where(
        models.EvalSetOwner.set_id == models.EvalRun.set_id,
        models.EvalSetOwner.user_id == actor.user_id,
    )
    stmt = select(models.EvalRun).where(models.EvalRun.mode == actor.mode, owned)
    if set_id is not None:
        stmt = stmt.where(models.EvalRun.set_id == set_id)
    return paginate(session, stmt, key=models.EvalRun.id, cursor=cursor, limit=limit)


def cancel_run(*, session: Session, run: models.EvalRun) -> models.EvalRun:
    """Stop a run: its job is cancelled (a running one at its next checkpoint)."""
    if run.job_id is not None:
        job = jobs.get_job(session=session, job_id=run.job_id)
        jobs.cancel_job(session=session, job=job)
        if job.status == "cancelled":
            run.status = "cancelled"
    session.flush()
    return run


def list_results(
    *,
    session: Session,
    run: models.EvalRun,
    cursor: str | None,
    limit: int,
    tag: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    errors_only: bool = False,
) -> PageResult[models.EvalRunResult]:
    """The results table in item order, one page after `cursor`, filtered by a tag, a score
    range (the headline score) or to the failed calls."""
    if min_score is not None and max_score is not None and min_score > max_score:
        raise Invalid("min_score is above max_score", field="min_score")
    stmt = select(RESULTS).where(RESULTS.run_id == run.id)
    if cursor:
        stmt = stmt.where(RESULTS.seq > cursor_key(cursor, int))
    if tag is not None:
        tags = models.EvalRunResultTag
        stmt = stmt.where(
            exists().where(tags.run_id == run.id, tags.tag == tag, tags.seq == RESULTS.seq)
        )
    if min_score is not None:
        stmt = stmt.where(RESULTS.score >= min_score)
    if max_score is not None:
        stmt = stmt.where(RESULTS.score <= max_score)
    if errors_only:
        stmt = stmt.where(RESULTS.failed.is_(True))
    rows = list(session.scalars(stmt.order_by(RESULTS.seq).limit(limit + 1)))
    if len(rows) <= limit:
        return PageResult(rows, None)
    rows = rows[:limit]
    return PageResult(rows, encode_cursor({"k": rows[-1].seq}))


def read_results(
    *, session: Session, actor: Actor, run: models.EvalRun, eval_set: models.EvalSet, **filters: Any
) -> PageResult[models.EvalRunResult]:
    """A page of results for someone who may read the set: the read is logged (the items'
    ids), and a sealed set's prompts are left out."""
    page = list_results(session=session, run=run, **filters)
    if page.items:
        eval_sets.record_read(
            session=session,
            eval_set=eval_set,
            actor=actor,
            version=run.set_version,
            route="eval-runs.results",
            item_ids=list(dict.fromkeys(r.item_id for r in page.items)),
        )
    if eval_set.sealed:
        for row in page.items:
            session.expunge(row)
            row.prompt_preview = ""
    return page
