"""The job of an evaluation run: ask the model every (item, sample) not answered yet, score
and grade each answer, and record it — a few results per short transaction as they arrive.

Durability: a result row is written once its answer is scored and graded; the model's and
the judge's answers go to the response cache (`CachedChatModel`) as soon as they arrive,
flushed by the same writer. A worker killed mid-run loses only the calls in flight: the
re-claimed job skips the (item, sample)s that have a result and finds the answers it got
but had not scored yet in the cache, so no finished call is made twice.

The writer is a group commit: one task writes whatever has arrived since its last write, so
a slow model gets each answer stored at once and a fast one gets batches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select, update

from assay.core import dialects
from assay.core.db import utcnow
from assay.core.jobs import JobCancelled, refusals_as_user_errors
from assay.evaluation import chat_cache, eval_sets, models, providers
from assay.evaluation.chat import ChatModel, ChatRequest, ChatResult
from assay.evaluation.judges import Judge, Panel, grade_from_verdicts
from assay.evaluation.provider_models import CachedChatModel, RecordedChatModel
from assay.evaluation.rubrics import Rubric, parse_rubric
from assay.evaluation.scorers import get_scorer
from assay.metrics.bootstrap import bootstrap_means

PREVIEW_CHARS = 300
RESULT_TABLE = models.EvalRunResult.__table__
TAG_TABLE = models.EvalRunResultTag.__table__


@dataclass(frozen=True, slots=True)
class RunItem:
    """What a run needs of an evaluation set item."""

    item_id: str
    messages: tuple[dict[str, Any], ...]
    reference: Any = None
    rubric: Rubric | None = None
    tags: tuple[str, ...] = ()


def run_item(item: models.EvalSetItem) -> RunItem:
    content = item.content or {}
    if "messages" in content:
        messages = tuple(content["messages"])
    else:
        messages = ({"role": "user", "content": str(content.get("prompt", ""))},)
    rubric = content.get("rubric")
    tags = list(item.tags or [])
    for name in ("domain", "language", "difficulty"):
        value = getattr(item, name, None)
        if value:
            tags.append(f"{name}:{value}")
    return RunItem(
        item_id=item.id,
        messages=messages,
        reference=content.get("reference"),
        rubric=parse_rubric(rubric) if rubric else None,
        tags=tuple(dict.fromkeys(tags)),
    )


def preview(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)[:PREVIEW_CHARS]
    return ""


@dataclass
class Plan:
    """A run's work, built from its row: the model, the judge, the scorers, the items."""

    run_id: str
    model: ChatModel
    judge: Any  # Judge | Panel | None
    judge_mode: str
    judge_models: list[CachedChatModel]
    scorers: list[Any]  # Bound item scorers
    corpus_scorers: list[Any]
    items: list[RunItem]
    samples: int
    concurrency: int
    params: dict[str, Any]
    done: set[int] = field(default_factory=set)

    _waiting: list[tuple[list[ChatRequest], asyncio.Future[None]]] = field(default_factory=list)

    async def prefetch_judge(self, item: RunItem, text: str, sample: int) -> None:
        """Look the judge's requests for this answer up in the response cache, together with
        those of every other answer waiting at the same moment: one query for many answers,
        not one per judge call."""
        judges = getattr(self.judge, "judges", None) or [self.judge]
        requests = []
        for judge in judges:
            if not isinstance(judge, Judge) or item.rubric is None:
                return
            if self.judge_mode == "implicit":
                requests.append(judge.rubric_request(item.messages, text, item.rubric))
            else:
                requests += [
                    judge.criterion_request(item.messages, text, c, sample=sample)
                    for c in item.rubric.criteria
                ]
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((requests, future))
        if len(self._waiting) == 1:
            asyncio.get_running_loop().call_soon(
                lambda: asyncio.ensure_future(self._prefetch_waiting())
            )
        await future

    async def _prefetch_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        wanted = [r for requests, _f in waiting for r in requests]
        try:
            for model in self.judge_models:
                await asyncio.to_thread(model.prefetch, wanted)
        finally:
            for _requests, future in waiting:
                if not future.done():
                    future.set_result(None)

    def request(self, item: RunItem, sample: int) -> ChatRequest:
        messages = item.messages
        system = self.params.get("system_prompt")
        if system:
            messages = ({"role": "system", "content": system}, *messages)
        seed = self.params.get("seed")
        return ChatRequest(
            messages=tuple(messages),
            temperature=self.params.get("temperature"),
            max_tokens=self.params.get("max_tokens"),
            seed=None if seed is None else seed + sample,
            sample=sample,
        )


def _cached(
    db: Any, provider_id: str, model: str, settings: Any, session: Any, *, recorded: bool = False
) -> CachedChatModel:
    provider = providers.get_provider(session=session, provider_id=provider_id)
    inner: ChatModel = (
        RecordedChatModel(f"{provider.name}/{model}", {})
        if recorded
        else providers.chat_model_for(provider=provider, model=model, settings=settings)
    )
    return CachedChatModel(inner, db, write_through=False)


def build_plan(*, db: Any, settings: Any, run_id: str) -> Plan:
    """Everything a run needs, read in one transaction."""
    with db.read() as session:
        run = session.get(models.EvalRun, run_id)
        eval_set = session.get(models.EvalSet, run.set_id)
        version = eval_sets.get_version(session=session, eval_set=eval_set, number=run.set_version)
        items = [
            run_item(i)
            for i in eval_sets.iter_version_items(
                session=session, eval_set=eval_set, version=version
            )
        ]
        spec = run.spec
        recorded = bool(spec.get("params", {}).get("recorded"))
        model = _cached(db, run.provider_id, run.model, settings, session, recorded=recorded)
        judge_spec = spec.get("judge")
        judge: Any = None
        judge_models: list[CachedChatModel] = []
        if judge_spec:
            members = judge_spec.get("panel") or [
                {"provider_id": judge_spec["provider_id"], "model": judge_spec["model"]}
            ]
            for member in members:
                judge_models.append(
                    _cached(db, member["provider_id"], member["model"], settings, session)
                )
            judges = [Judge(m) for m in judge_models]
            judge = (
                Panel(judges, judge_spec.get("rule", "majority"))
                if judge_spec.get("panel")
                else judges[0]
            )
        bound = [get_scorer(s["name"]).bind(s["options"]) for s in spec.get("scorers", [])]
        done = set(
            session.scalars(
                select(models.EvalRunResult.seq).where(models.EvalRunResult.run_id == run_id)
            )
        )
    params = spec.get("params", {})
    return Plan(
        run_id=run_id,
        model=model,
        judge=judge,
        judge_mode=(judge_spec or {}).get("mode", "explicit"),
        judge_models=judge_models,
        scorers=[b for b in bound if b.spec.kind == "item"],
        corpus_scorers=[b for b in bound if b.spec.kind == "corpus"],
        items=items,
        samples=int(params.get("samples", 1)),
        concurrency=int(params.get("concurrency", 16)),
        params=params,
        done=done,
    )


class Writer:
    """Group commit of results and cached answers (see the module's docstring)."""

    def __init__(self, db: Any, plan: Plan, on_written: Any) -> None:
        self.db, self.plan, self.on_written = db, plan, on_written
        self.rows: list[dict[str, Any]] = []
        self.wake = asyncio.Event()
        self.closing = False
        self.written = 0
        self.cost = 0.0

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.wake.set()

    async def loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            rows, self.rows = self.rows, []
            await asyncio.to_thread(self._write, rows)
            self.written += len(rows)
            self.cost += sum(r["cost_usd"] for r in rows)
            if rows:
                await asyncio.to_thread(self.on_written, self.written, self.cost)
            if self.closing and not self.rows:
                return

    async def close(self) -> None:
        self.closing = True
        self.wake.set()

    def _write(self, rows: list[dict[str, Any]]) -> None:
        answers = []
        for cached in (self.plan.model, *self.plan.judge_models):
            if isinstance(cached, CachedChatModel):
                # The answers the cache has not stored yet, stored in this transaction: one
                # commit per write instead of one per model (CachedChatModel.flush's).
                answers += cached.take_pending()
        if not rows and not answers:
            return
        judge_calls = sum(r.pop("_judge_calls") for r in rows)
        with self.db.write() as session:
            chat_cache.put_many(session=session, entries=answers)
            if not rows:
                return
            dialect = session.get_bind().dialect.name
            insert = dialects.insert(RESULT_TABLE, dialect).on_conflict_do_nothing(
                index_elements=["run_id", "seq"]
            )
            session.execute(insert, rows)
            tags = [
                {"run_id": r["run_id"], "tag": tag, "seq": r["seq"]}
                for r in rows
                for tag in r["tags"]
            ]
            if tags:
                session.execute(
                    dialects.insert(TAG_TABLE, dialect).on_conflict_do_nothing(
                        index_elements=["run_id", "tag", "seq"]
                    ),
                    tags,
                )
            run = models.EvalRun.__table__.c
            session.execute(
                update(models.EvalRun.__table__)
                .where(run.id == self.plan.run_id)
                .values(
                    done_calls=run.done_calls + len(rows),
                    error_calls=run.error_calls + sum(r["failed"] for r in rows),
                    judge_calls=run.judge_calls + judge_calls,
                    prompt_tokens=run.prompt_tokens + sum(r["prompt_tokens"] for r in rows),
                    completion_tokens=run.completion_tokens
                    + sum(r["completion_tokens"] for r in rows),
                    cost_usd=run.cost_usd + sum(r["cost_usd"] for r in rows),
                )
            )


async def _grade(plan: Plan, item: RunItem, text: str, sample: int) -> dict[str, Any]:
    """The judge's grade of one answer as result columns."""
    if plan.judge is None or item.rubric is None:
        return {"_judge_calls": 0}
    await plan.prefetch_judge(item, text, sample)
    if plan.judge_mode == "implicit":
        grade = await plan.judge.judge_rubric(item.messages, text, item.rubric)
        calls = 1
    else:
        verdicts = await asyncio.gather(
            *(
                plan.judge.judge_criterion(item.messages, text, c, sample=sample)
                for c in item.rubric.criteria
            )
        )
        calls = sum(v.calls for v in verdicts)
        grade = grade_from_verdicts(item.rubric, verdicts, plan.judge.version)
    return {
        "rubric_score": grade.score,
        "judge_version": grade.judge_version[:400],
        "judge_error": grade.error,
        "verdicts": [
            {
                "criterion_id": v.criterion_id,
                "met": v.met,
                "credit": v.credit,
                "explanation": v.explanation,
                "error": v.error,
            }
            for v in grade.verdicts
        ]
        or None,
        "_judge_calls": calls,
    }


async def _unit(plan: Plan, writer: Writer, position: int, item: RunItem, sample: int) -> None:
    seq = position * plan.samples + sample
    row: dict[str, Any] = {
        "run_id": plan.run_id,
        "seq": seq,
        "item_id": item.item_id,
        "sample": sample,
        "prompt_preview": preview(item.messages),
        "tags": list(item.tags),
        "response": None,
        "error": None,
        "failed": False,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "latency_ms": None,
        "cached": False,
        "score": None,
        "scores": {},
        "verdicts": None,
        "rubric_score": None,
        "judge_version": None,
        "judge_error": None,
        "_judge_calls": 0,
    }
    try:
        result: ChatResult = await plan.model.complete(plan.request(item, sample))
    except Exception as error:  # the provider's failure is this result's, not the run's
        row.update(failed=True, error=f"{type(error).__name__}: {error}"[:10_000])
        writer.add(row)
        return
    writer.wake.set()  # the answer is in the cache's queue: store it now
    scores = {b.name: b.score(result.text, item.reference).value for b in plan.scorers}
    row.update(
        response=result.text,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost_usd=result.cost_usd,
        latency_ms=None if result.cached else result.latency_s * 1000,
        cached=result.cached,
        scores=scores,
    )
    row.update(await _grade(plan, item, result.text, sample))
    headline = row["rubric_score"] if plan.judge is not None else None
    if headline is None and scores:
        headline = next(iter(scores.values()))
    row["score"] = headline
    writer.add(row)


async def execute(plan: Plan, *, db: Any, on_written: Any) -> int:
    """Run every (item, sample) without a result; returns how many were run."""
    todo = [
        (position, item, sample)
        for position, item in enumerate(plan.items)
        for sample in range(plan.samples)
        if position * plan.samples + sample not in plan.done
    ]
    assert isinstance(plan.model, CachedChatModel)
    await asyncio.to_thread(
        plan.model.prefetch, [plan.request(item, sample) for _p, item, sample in todo]
    )
    writer = Writer(db, plan, on_written)
    writing = asyncio.create_task(writer.loop())
    queue = iter(todo)

    async def worker() -> None:
        for position, item, sample in queue:
            await _unit(plan, writer, position, item, sample)

    workers = [asyncio.create_task(worker()) for _ in range(min(plan.concurrency, len(todo)))]
    working = asyncio.gather(*workers)
    try:
        # The writer ends early only by failing (a cancelled job, a lost database).
        await asyncio.wait({working, writing}, return_when=asyncio.FIRST_COMPLETED)
        if writing.done():
            working.cancel()
            writing.result()
        await working
        await writer.close()
        await writing
    finally:
        working.cancel()
        writing.cancel()
        for model in (plan.model, *plan.judge_models):
            closing = getattr(model.inner, "aclose", None)
            if closing is not None:
                await closing()
    return len(todo)


def _interval(values: np.ndarray, clusters: list[str], groups: Any = None) -> dict[Any, Any]:
    found = bootstrap_means(values, clusters=clusters, groups=groups, resamples=1000)
    return {
        key: {
            "mean": round(i.estimate, 6),
            "low": round(i.low, 6),
            "high": round(i.high, 6),
            "n": i.samples,
        }
        for key, i in found.items()
    }


def summarize(*, session: Any, plan: Plan) -> dict[str, Any]:
    """The run's summary: means with bootstrap intervals overall and per tag, corpus scores,
    tokens, cost, latency percentiles and errors."""
    r = RESULT_TABLE.c
    rows = session.execute(
        select(
            r.seq,
            r.item_id,
            r.response,
            r.failed,
            r.scores,
            r.rubric_score,
            r.tags,
            r.latency_ms,
            r.prompt_tokens,
            r.completion_tokens,
            r.cost_usd,
            r.judge_error,
        )
        .where(r.run_id == plan.run_id)
        .order_by(r.seq)
    ).all()
    metrics: dict[str, list[tuple[float, str, list[str]]]] = {}
    for row in rows:
        for name, value in (row.scores or {}).items():
            if value is not None:
                metrics.setdefault(name, []).append((float(value), row.item_id, row.tags))
        if row.rubric_score is not None:
            metrics.setdefault("rubric", []).append((row.rubric_score, row.item_id, row.tags))
    scores: dict[str, Any] = {}
    by_tag: dict[str, Any] = {}
    for name, found in metrics.items():
        values = np.array([v for v, _i, _t in found])
        (scores[name],) = _interval(values, [i for _v, i, _t in found]).values()
        tagged = [(v, i, t) for v, i, tags in found for t in tags]
        if tagged:
            per = _interval(
                np.array([v for v, _i, _t in tagged]),
                [f"{t}\x00{i}" for _v, i, t in tagged],
                [t for _v, _i, t in tagged],
            )
            for tag, interval in sorted(per.items()):
                by_tag.setdefault(tag, {})[name] = interval
    answered = [row for row in rows if not row.failed]
    by_item = {i.item_id: i for i in plan.items}
    corpus = {}
    for bound in plan.corpus_scorers:
        result = bound.score_corpus(
            [row.response or "" for row in answered],
            [
                by_item[row.item_id].reference if row.item_id in by_item else None
                for row in answered
            ],
        )
        corpus[bound.name] = {"value": result.value, "metrics": result.metrics}
    latencies = np.array([row.latency_ms for row in rows if row.latency_ms is not None])
    return {
        "results": len(rows),
        "errors": sum(1 for row in rows if row.failed),
        "judge_errors": sum(1 for row in rows if row.judge_error),
        "scores": scores,
        "by_tag": by_tag,
        "corpus": corpus,
        "prompt_tokens": sum(row.prompt_tokens for row in rows),
        "completion_tokens": sum(row.completion_tokens for row in rows),
        "cost_usd": round(sum(row.cost_usd for row in rows), 9),
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)), 3) if latencies.size else None,
            "p95": round(float(np.percentile(latencies, 95)), 3) if latencies.size else None,
        },
    }


def run_job(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The `evaluation.run` job: run what is left of the run, then summarise it."""
    run_id = payload["run_id"]
    with ctx.db.write() as session:
        run = session.get(models.EvalRun, run_id)
        if run is None or run.status in ("succeeded", "cancelled"):
            return {"run_id": run_id, "skipped": True}
        run.status = "running"
        run.started_at = run.started_at or utcnow()
        total, spent = run.total_calls, run.cost_usd
    with refusals_as_user_errors():  # a provider deleted since: the user's to fix
        plan = build_plan(db=ctx.db, settings=ctx.settings, run_id=run_id)
    already = len(plan.done)
    started = time.perf_counter()

    def on_written(written: int, cost: float) -> None:
        done = already + written
        ctx.progress(done, total, f"{done} of {total} calls, ${spent + cost:.4f}")

    try:
        ran = asyncio.run(execute(plan, db=ctx.db, on_written=on_written))
    except JobCancelled:
        with ctx.db.write() as session:
            session.get(models.EvalRun, run_id).status = "cancelled"
        raise
    with ctx.db.write() as session:
        run = session.get(models.EvalRun, run_id)
        run.summary = summarize(session=session, plan=plan)
        run.status = "succeeded"
        run.finished_at = utcnow()
    return {
        "run_id": run_id,
        "ran": ran,
        "resumed_after": already,
        "seconds": round(time.perf_counter() - started, 3),
    }


def mark_failed(session: Any, job: Any) -> None:
    """The job gave up: the run says so."""
    run = session.get(models.EvalRun, (job.payload or {}).get("run_id"))
    if run is not None and run.status not in ("succeeded", "cancelled"):
        run.status, run.error, run.finished_at = "failed", job.error, utcnow()
