"""Probe reports: the reward-hacking probe suite (`probes.run_probes`), the perturbation
curve and the rubric-rewording sensitivity run against a judge as a job, stored as a report.
A judge whose latest report credits any probe is flagged. Verifier drift over a checkpoint
series is computed on request (`check_drift`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.core.pagination import PageResult, paginate
from assay.evaluation import judge_records, probes
from assay.evaluation.judge_records import finite
from assay.evaluation.models import Judge, ProbeReport
from assay.evaluation.rubrics import parse_rubric

PROBE_JOB = "evaluation.run_probes"
REPORTS = ProbeReport.__table__


def _cases(cases_in: list[Any]) -> list[probes.ProbeCase]:
    cases = []
    for i, case in enumerate(cases_in):
        rubric = case["rubric"] if isinstance(case, dict) else case.rubric
        try:
            parsed = parse_rubric(rubric)
        except Invalid as error:
            raise Invalid(error.message, field=f"cases[{i}].rubric.{error.field}") from None
        get = case.get if isinstance(case, dict) else lambda k, c=case: getattr(c, k)
        cases.append(probes.ProbeCase(get("conversation"), parsed, get("reference")))
    return cases


def request_probe_report(
    *, session: Session, judge: Judge, run_in: Any, actor: Actor
) -> ProbeReport:
    """Queue a probe run against the judge's current version (the cases checked now)."""
    if judge.grading_mode != "explicit":
        raise Invalid("probes grade criterion by criterion: an explicit judge", field="judge_id")
    _cases(run_in.cases)
    report = ProbeReport(
        judge_id=judge.id,
        status="queued",
        request=run_in.model_dump(mode="json"),
        judge_version=judge_records.judge_version(session=session, judge=judge),
    )
    session.add(report)
    session.flush()
    job = enqueue(session=session, kind=PROBE_JOB, payload={"report_id": report.id}, actor=actor)
    report.job_id = job.id
    return report


def get_probe_report(*, session: Session, judge: Judge, report_id: str) -> ProbeReport:
    report = session.get(ProbeReport, report_id)
    if report is None or report.judge_id != judge.id:
        raise NotFound(f"no probe report {report_id} for this judge", field="report_id")
    return report


def list_probe_reports(
    *, session: Session, judge: Judge, cursor: str | None, limit: int
) -> PageResult[ProbeReport]:
    return paginate(
        session,
        select(ProbeReport).where(ProbeReport.judge_id == judge.id),
        key=ProbeReport.id,
        cursor=cursor,
        limit=limit,
    )


def describe_report(report: ProbeReport) -> dict[str, Any]:
    body = report.report or {}
    return {
        "id": report.id,
        "judge_id": report.judge_id,
        "job_id": report.job_id,
        "status": report.status,
        "judge_version": report.judge_version,
        "flagged": report.flagged,
        "flagged_probes": body.get("flagged_probes", []),
        "baseline_score": body.get("baseline_score"),
        "reference_score": body.get("reference_score"),
        "probes": body.get("probes", []),
        "perturbation": body.get("perturbation", []),
        "rewording": body.get("rewording", []),
        "error": report.error,
        "created_at": report.created_at,
        "finished_at": report.finished_at,
    }


async def _run(grader: judge_records.BuiltGrader, request: dict[str, Any]) -> dict[str, Any]:
    cases = _cases(request["cases"])
    try:
        found = await probes.run_probes(grader.grader, cases, tolerance=request["tolerance"])
        curves = (
            await probes.perturbation_curves(grader.grader, cases, max_edits=request["max_edits"])
            if request["max_edits"] > 0
            else []
        )
        rewording = (
            await probes.rewording_sensitivity(grader.grader, cases)
            if request["rewording"]
            else None
        )
    finally:
        await grader.aclose()
    return {
        "judge_version": found.judge_version,
        "flagged_probes": found.flagged,
        "baseline_score": finite(found.baseline_score),
        "reference_score": finite(found.reference_score),
        "probes": [
            {
                "name": p.name,
                "score": finite(p.score),
                "inflation": finite(p.inflation),
                "max_inflation": finite(p.max_inflation),
                "credited": p.credited,
                "errors": p.errors,
                "flagged": p.flagged,
            }
            for p in found.probes
        ],
        "perturbation": [
            {
                "kind": c.kind,
                "scores": [finite(s) for s in c.scores],
                "fall_per_edit": finite(c.fall_per_edit),
            }
            for c in curves
        ],
        "rewording": [
            {
                "variant": v.variant,
                "mean_shift": finite(v.mean_shift),
                "max_shift": finite(v.max_shift),
                "flip_rate": finite(v.flip_rate),
            }
            for v in (rewording.variants if rewording is not None else ())
        ],
    }


def mark_failed(session: Session, job: Any) -> None:
    """A probe job that gave up leaves its report failed, with the job's error."""
    report_id = (job.payload or {}).get("report_id")
    if report_id:
        session.execute(
            update(REPORTS)
            .where(REPORTS.c.id == report_id)
            .values(
                status="failed",
                error=(job.error or "")[:2000],
                finished_at=dt.datetime.now(dt.UTC),
            )
        )


@job_kind(PROBE_JOB, max_attempts=2, on_failed=mark_failed)
def run_probe_report(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Run the probe suite, perturbation curve and rewording test against a judge; store the
    report and flag the judge when a probe got credit. Run again after a crash, it starts
    over: a report is a few hundred judge calls, and a half-stored one would mislead."""
    with ctx.db.write() as session:
        report = session.get(ProbeReport, payload["report_id"])
        if report is None:
            raise PermanentError("the probe report was deleted")
        report.status = "running"
        request = dict(report.request)
        judge_id = report.judge_id
    # The clients are built outside the write: resolving a provider's host holds no lock.
    with ctx.db.read() as session:
        judge = session.get(Judge, judge_id)
        if judge is None:
            raise PermanentError("the judge was deleted")
        grader = judge_records.build_grader(session=session, judge=judge, settings=ctx.settings)
    ctx.progress(0.1, 1, "probing the judge", force=True)
    body = asyncio.run(_run(grader, request))
    flagged = bool(body["flagged_probes"])
    with ctx.db.write() as session:
        report = session.get(ProbeReport, payload["report_id"])
        if report is None:
            raise PermanentError("the probe report was deleted")
        report.report = body
        report.judge_version = body["judge_version"]
        report.flagged = flagged
        report.status = "done"
        report.finished_at = dt.datetime.now(dt.UTC)
        judge = session.get(Judge, judge_id)
        if judge is None:
            raise PermanentError("the judge was deleted")
        # Only the newest report sets the flag: an older run finishing late does not undo it.
        latest = judge_records.latest_probe_report(session=session, judge=judge)
        if latest is not None and latest.id == report.id:
            judge.flagged = flagged
    return {"report_id": payload["report_id"], "flagged": body["flagged_probes"]}


# Verifier drift --------------------------------------------------------------------------


def check_drift(*, drift_in: Any) -> dict[str, Any]:
    """Where a policy's rubric score rises while the independent check falls."""
    found = probes.verifier_drift(
        [
            probes.Checkpoint(c.name, c.rubric_score, c.independent_score)
            for c in drift_in.checkpoints
        ],
        min_rise=drift_in.min_rise,
        min_fall=drift_in.min_fall,
    )

    def flag(f: probes.DriftFlag) -> dict[str, Any]:
        return {
            "start": f.start,
            "end": f.end,
            "rubric_delta": f.rubric_delta,
            "independent_delta": f.independent_delta,
        }

    return {
        "drifting": found.drifting,
        "steps": [flag(s) for s in found.steps],
        "overall": flag(found.overall) if found.overall is not None else None,
    }
