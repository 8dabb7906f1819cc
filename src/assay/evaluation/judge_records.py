"""Judges as records: a single judge (one model of a provider, a grading mode, sampling
settings and a versioned prompt), a panel of single judges (majority or mean), or a cascade
(a cheap judge first, uncertain verdicts to a strong one). Create, read, list, add a prompt
version, fit learned criterion weights; `build_grader` makes the `judges.Grader` the grading
service and the probe job call, and `judge_version` names it without calling anything.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate
from assay.core.settings import Settings
from assay.evaluation import providers
from assay.evaluation.chat import ChatModel, ChatRequest, ChatResult
from assay.evaluation.grading import Cascade, CriterionWeights, PreferencePair
from assay.evaluation.grading import fit_criterion_weights as fit_weights
from assay.evaluation.judges import DEFAULT_PROMPT, Grader, JudgePrompt, Panel
from assay.evaluation.judges import Judge as JudgeGrader
from assay.evaluation.models import Judge, JudgePromptVersion, ProbeReport, Provider

PLACEHOLDERS = {
    "criterion": {"conversation", "response", "criterion"},
    "rubric": {"conversation", "response", "rubric"},
}


def _check_template(text: str, kind: str, where: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise Invalid(f"the template does not parse: {error}", field=where) from None
    wanted = PLACEHOLDERS[kind]
    if names != wanted:
        raise Invalid(
            f"the template takes exactly {{{'}, {'.join(sorted(wanted))}}} "
            f"(found {sorted(names)}; write literal braces as {{{{ and }}}})",
            field=where,
        )


def _prompt_from(prompt_in: Any | None, where: str) -> JudgePrompt:
    if prompt_in is None:
        return DEFAULT_PROMPT
    prompt = JudgePrompt(
        name=prompt_in.name,
        system=prompt_in.system if prompt_in.system is not None else DEFAULT_PROMPT.system,
        criterion=prompt_in.criterion
        if prompt_in.criterion is not None
        else DEFAULT_PROMPT.criterion,
        rubric=prompt_in.rubric if prompt_in.rubric is not None else DEFAULT_PROMPT.rubric,
    )
    _check_template(prompt.criterion, "criterion", f"{where}.criterion")
    _check_template(prompt.rubric, "rubric", f"{where}.rubric")
    return prompt


def _member(session: Session, actor_mode: str, judge_id: str, where: str) -> Judge:
    found = session.get(Judge, judge_id)
    if found is None or found.mode != actor_mode:
        raise NotFound(f"no judge with id {judge_id}", field=where)
    return found


def create_judge(*, session: Session, judge_in: Any, actor: Actor) -> Judge:
    """A judge from a `JudgeCreate`: exactly one of a model (`provider_id` + `model`), a
    `panel` of single judges, or a `cascade` of single judges or panels."""
    given = [k for k in ("panel", "cascade") if getattr(judge_in, k) is not None]
    if len(given) > 1:
        raise Invalid("a judge is a panel or a cascade, not both", field="cascade")
    kind = given[0] if given else "single"
    taken = session.scalar(
        select(Judge.id).where(Judge.mode == actor.mode, Judge.name == judge_in.name)
    )
    if taken is not None:
        raise Conflict(f"a judge named {judge_in.name!r} exists ({taken})", field="name")
    config: dict[str, Any] = {}
    if kind == "single":
        if judge_in.provider_id is None:
            raise Invalid("a judge needs provider_id (or a panel or cascade)", field="provider_id")
        if judge_in.model is None:
            raise Invalid("name the provider's model the judge calls", field="model")
        provider = session.get(Provider, judge_in.provider_id)
        if provider is None or provider.mode != actor.mode:
            raise NotFound(f"no provider with id {judge_in.provider_id}", field="provider_id")
        prompt = _prompt_from(judge_in.prompt, "prompt")
    else:
        for name in ("provider_id", "model", "prompt", "seed"):
            if getattr(judge_in, name) is not None:
                raise Invalid(f"a {kind} takes its members' models and prompts", field=name)
        if judge_in.mode != "explicit":
            raise Invalid(f"a {kind} grades criterion by criterion (explicit)", field="mode")
        if kind == "panel":
            for i, member_id in enumerate(judge_in.panel.members):
                member = _member(session, actor.mode, member_id, f"panel.members[{i}]")
                if member.kind != "single":
                    raise Invalid(
                        "a panel's members are single judges", field=f"panel.members[{i}]"
                    )
            config = judge_in.panel.model_dump()
        else:
            for stage in ("cheap", "strong"):
                member = _member(
                    session, actor.mode, getattr(judge_in.cascade, stage), f"cascade.{stage}"
                )
                if member.kind == "cascade":
                    raise Invalid(
                        "a cascade's stages are judges or panels", field=f"cascade.{stage}"
                    )
            config = judge_in.cascade.model_dump()
    judge = Judge(
        name=judge_in.name,
        mode=actor.mode,
        kind=kind,
        provider_id=judge_in.provider_id if kind == "single" else None,
        model=judge_in.model if kind == "single" else None,
        grading_mode=judge_in.mode,
        temperature=judge_in.temperature if kind == "single" else None,
        max_tokens=judge_in.max_tokens if kind == "single" else None,
        seed=judge_in.seed if kind == "single" else None,
        config=config,
        flagged=False,
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(judge)
    session.flush()
    if kind == "single":
        _store_prompt(session, judge, prompt, 1)
    return judge


def _store_prompt(
    session: Session, judge: Judge, prompt: JudgePrompt, number: int
) -> JudgePromptVersion:
    row = JudgePromptVersion(
        judge_id=judge.id,
        number=number,
        name=prompt.name,
        system=prompt.system,
        criterion=prompt.criterion,
        rubric=prompt.rubric,
        version=prompt.version,
    )
    session.add(row)
    session.flush()
    return row


def get_judge(*, session: Session, judge_id: str) -> Judge:
    judge = session.get(Judge, judge_id)
    if judge is None:
        raise NotFound(f"no judge with id {judge_id}", field="judge_id")
    return judge


def list_judges(
    *, session: Session, mode: str, cursor: str | None, limit: int
) -> PageResult[Judge]:
    return paginate(
        session, select(Judge).where(Judge.mode == mode), key=Judge.id, cursor=cursor, limit=limit
    )


def current_prompt(*, session: Session, judge: Judge) -> JudgePromptVersion | None:
    return session.scalar(
        select(JudgePromptVersion)
        .where(JudgePromptVersion.judge_id == judge.id)
        .order_by(JudgePromptVersion.number.desc())
        .limit(1)
    )


def add_prompt_version(*, session: Session, judge: Judge, prompt_in: Any) -> JudgePromptVersion:
    """A new prompt version for a single judge; the same texts as the current one give the
    current one back (a retried request adds nothing)."""
    if judge.kind != "single":
        raise Invalid(f"a {judge.kind} has its members' prompts", field="judge_id")
    prompt = _prompt_from(prompt_in, "prompt")
    current = current_prompt(session=session, judge=judge)
    if current is not None and current.version == prompt.version:
        return current
    number = (
        session.scalar(
            select(func.max(JudgePromptVersion.number)).where(
                JudgePromptVersion.judge_id == judge.id
            )
        )
        or 0
    )
    return _store_prompt(session, judge, prompt, number + 1)


def list_prompt_versions(*, session: Session, judge: Judge) -> list[JudgePromptVersion]:
    return list(
        session.scalars(
            select(JudgePromptVersion)
            .where(JudgePromptVersion.judge_id == judge.id)
            .order_by(JudgePromptVersion.number)
        )
    )


def latest_probe_report(*, session: Session, judge: Judge) -> ProbeReport | None:
    return session.scalar(
        select(ProbeReport)
        .where(ProbeReport.judge_id == judge.id)
        .order_by(ProbeReport.created_at.desc(), ProbeReport.id.desc())
        .limit(1)
    )


# Learned weights -------------------------------------------------------------------------


def fit_judge_weights(*, session: Session, judge: Judge, fit_in: Any) -> Judge:
    """Fit criterion weights to human preference pairs (Bradley-Terry over met vectors) and
    keep them on the judge: the grading service then returns a learned reward too."""
    pairs = [PreferencePair(p.met_a, p.met_b, p.preferred) for p in fit_in.pairs]
    fitted = fit_weights(pairs, criterion_ids=fit_in.criterion_ids, l2=fit_in.l2)
    judge.weights = {
        "criterion_ids": list(fitted.criterion_ids),
        "weights": [float(w) for w in fitted.weights],
        "pairs": fitted.pairs,
        "converged": fitted.converged,
    }
    session.flush()
    return judge


def judge_weights(judge: Judge) -> CriterionWeights | None:
    if not judge.weights:
        return None
    w = judge.weights
    return CriterionWeights(
        tuple(w["criterion_ids"]), np.asarray(w["weights"], dtype=float), w["pairs"], w["converged"]
    )


# Graders ---------------------------------------------------------------------------------


class _Unconnected:
    """A model's name without a connection: what `judge_version` needs to name a judge."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def complete(self, request: ChatRequest) -> ChatResult:
        raise RuntimeError(f"{self.name} is not connected")


@dataclass
class BuiltGrader:
    grader: Grader
    models: list[ChatModel] = field(default_factory=list)

    async def aclose(self) -> None:
        for model in self.models:
            closing = getattr(model, "aclose", None)
            if closing is not None:
                await closing()


def _build(
    session: Session, judge: Judge, model_for: Callable[[Provider, str], ChatModel], models: list
) -> Grader:
    if judge.kind == "single":
        provider = session.get(Provider, judge.provider_id)
        if provider is None:
            raise NotFound(f"judge {judge.id}'s provider is gone", field="judge_id")
        prompt_row = current_prompt(session=session, judge=judge)
        assert prompt_row is not None
        prompt = JudgePrompt(
            prompt_row.name, prompt_row.system, prompt_row.criterion, prompt_row.rubric
        )
        model = model_for(provider, judge.model or "")
        models.append(model)
        return JudgeGrader(
            model,
            prompt,
            temperature=judge.temperature,
            max_tokens=judge.max_tokens,
            seed=judge.seed,
        )
    config = judge.config
    if judge.kind == "panel":
        members = [get_judge(session=session, judge_id=m) for m in config["members"]]
        return Panel([_build(session, m, model_for, models) for m in members], config["rule"])
    cheap, strong = (get_judge(session=session, judge_id=config[k]) for k in ("cheap", "strong"))
    return Cascade(
        _build(session, cheap, model_for, models),
        _build(session, strong, model_for, models),
        samples=config["samples"],
        min_confidence=config["min_confidence"],
    )


def build_grader(*, session: Session, judge: Judge, settings: Settings) -> BuiltGrader:
    """The grader to call, its providers' keys decrypted into its clients (close it after)."""
    models: list[ChatModel] = []

    def connect(provider: Provider, model: str) -> ChatModel:
        return providers.chat_model_for(provider=provider, model=model, settings=settings)

    return BuiltGrader(_build(session, judge, connect, models), models)


def judge_version(*, session: Session, judge: Judge) -> str:
    """The version string its verdicts name, without connecting to any provider."""

    def named(provider: Provider, model: str) -> ChatModel:
        return _Unconnected(f"{provider.name}/{model}")

    return _build(session, judge, named, []).version


def finite(value: float | None) -> float | None:
    """NaN (a mean of nothing) as null: JSON, and PostgreSQL's JSONB, have no NaN."""
    return None if value is None or math.isnan(value) else float(value)


# Responses -------------------------------------------------------------------------------


def probe_summary(report: ProbeReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "status": report.status,
        "flagged": report.flagged,
        "flagged_probes": list((report.report or {}).get("flagged_probes", [])),
        "judge_version": report.judge_version,
        "created_at": report.created_at,
        "finished_at": report.finished_at,
    }


def describe_judge(*, session: Session, judge: Judge) -> dict[str, Any]:
    """A judge as its `judge_schemas.Judge`: its current prompt, version, flag and latest
    probe report (never a provider's key)."""
    prompt = current_prompt(session=session, judge=judge) if judge.kind == "single" else None
    latest = latest_probe_report(session=session, judge=judge)
    weights = judge_weights(judge)
    return {
        "id": judge.id,
        "name": judge.name,
        "kind": judge.kind,
        "provider_id": judge.provider_id,
        "model": judge.model,
        "mode": judge.grading_mode,
        "temperature": judge.temperature,
        "max_tokens": judge.max_tokens,
        "seed": judge.seed,
        "prompt": prompt,
        "panel": judge.config if judge.kind == "panel" else None,
        "cascade": judge.config if judge.kind == "cascade" else None,
        "version": judge_version(session=session, judge=judge),
        "flagged": judge.flagged,
        "latest_probe_report": probe_summary(latest) if latest is not None else None,
        "weights": (
            {k: weights.weight(k) for k in weights.criterion_ids} if weights is not None else None
        ),
        "created_at": judge.created_at,
    }
