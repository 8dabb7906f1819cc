"""Evaluation runs end to end in process: a real worker runs the job against a real
OpenAI-protocol server on loopback, which plays both the model under test and the judge.
Calls are counted at the server: retries on 429 and 500, a timeout recorded as the result's
error, a re-run answered from the response cache without a call, recorded responses
re-scored offline; results, rubric scores and the summary checked against hand-computed
values; the results table's filters and cursor."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.evaluation import eval_sets, models, providers, runs
from assay.evaluation import jobs as _jobs  # noqa: F401  (registers evaluation.run)
from assay.evaluation.eval_set_schemas import EvalItemIn, EvalSetCreate
from assay.evaluation.provider_schemas import ProviderCreate
from assay.evaluation.run_schemas import RunCreate
from tests.labeling.factories import actor_for
from tests.support.openai_server import ChatCompletionsServer, user_text
from tests.support.polling import wait_for

# Item i asks "what is i plus i"; the model answers 2i, except for item 3, where it says 5.
ITEMS = 6
WRONG = {3: "5"}
RUBRIC = {
    "criteria": [
        {"id": "right", "text": "states the correct sum", "points": 3, "category": "accuracy"},
        {"id": "short", "text": "answers in one word", "points": 1, "category": "style"},
        {"id": "rude", "text": "insults the user", "points": -2, "category": "safety"},
    ]
}


def answer(request: dict[str, Any]) -> str:
    """The model under test ("tiny") and the judge ("judge") in one deterministic server."""
    text = user_text(request)
    if request["model"].startswith("judge") and "<<rubric>>" in text:  # implicit mode
        response = text.split("<<response>>\n", 1)[1].split("\n<</response>>", 1)[0]
        asked = text.split("what is ", 1)[1].split(" plus", 1)[0]
        score = 0.9 if response == str(2 * int(asked)) else 0.1
        return json.dumps({"explanation": "holistic", "score": score})
    if request["model"].startswith("judge"):
        response = text.split("<<response>>\n", 1)[1].split("\n<</response>>", 1)[0]
        criterion = text.split("<<criterion>>\n", 1)[1].split("\n<</criterion>>", 1)[0]
        asked = text.split("what is ", 1)[1].split(" plus", 1)[0]
        met = {
            "states the correct sum": response == str(2 * int(asked)),
            "answers in one word": len(response.split()) == 1,
            "insults the user": False,
        }[criterion]
        return json.dumps({"explanation": f"{criterion}: {met}", "criteria_met": met})
    number = int(text.split("what is ", 1)[1].split(" plus", 1)[0])
    return WRONG.get(number, str(2 * number))


@pytest.fixture
def server():
    with ChatCompletionsServer(answer) as running:
        yield running


@pytest.fixture
def owner(accounts) -> Actor:
    return actor_for(accounts.make("manager"))


def make_set(db, owner: Actor, count: int = ITEMS, sealed: bool = False) -> str:
    with db.write() as session:
        eval_set = eval_sets.create_eval_set(
            session=session, actor=owner, set_in=EvalSetCreate(name="sums", sealed=sealed)
        )
        eval_sets.apply_items(
            session=session,
            eval_set=eval_set,
            actor=owner,
            items=[
                EvalItemIn(
                    external_id=f"q{i}",
                    prompt=f"what is {i} plus {i}?",
                    reference=str(2 * i),
                    rubric=RUBRIC,
                    domain="math",
                    tags=["even" if i % 2 == 0 else "odd"],
                )
                for i in range(count)
            ],
        )
        return eval_set.id


def make_provider(db, ctx, owner: Actor, server, name: str = "stand-in", **options: Any) -> str:
    with db.write() as session:
        return providers.create_provider(
            session=session,
            provider_in=ProviderCreate(
                name=name,
                base_url=server.base_url,
                prices={"*": {"input": 1.0, "output": 2.0}},
                **options,
            ),
            actor=owner,
            settings=ctx.settings,
        ).id


def start(db, owner: Actor, set_id: str, provider_id: str, **spec: Any) -> str:
    spec.setdefault("scorers", [{"name": "exact_match"}])
    spec.setdefault("judge", {"provider_id": provider_id, "model": "judge"})
    run_in = RunCreate(set_id=set_id, provider_id=provider_id, model="tiny", **spec)
    with db.write() as session:
        eval_set = session.get(models.EvalSet, set_id)
        provider = session.get(models.Provider, provider_id)
        return runs.create_run(
            session=session, actor=owner, eval_set=eval_set, provider=provider, run_in=run_in
        ).id


def finished(db, run_id: str) -> models.EvalRun:
    def done() -> bool:
        with db.read() as session:
            return session.get(models.EvalRun, run_id).status in runs.TERMINAL

    wait_for(done, timeout=60)
    with db.read() as session:
        run = session.get(models.EvalRun, run_id)
        session.expunge(run)
        return run


def results(db, run_id: str) -> list[models.EvalRunResult]:
    with db.read() as session:
        rows = list(
            session.scalars(
                select(models.EvalRunResult)
                .where(models.EvalRunResult.run_id == run_id)
                .order_by(models.EvalRunResult.seq)
            )
        )
        session.expunge_all()
        return rows


def expected_rubric(i: int) -> float:
    right = WRONG.get(i, str(2 * i)) == str(2 * i)
    return (3 * right + 1) / 4


def test_a_run_answers_scores_grades_and_summarises(db, ctx, owner, server, pool):
    set_id = make_set(db, owner)
    provider_id = make_provider(db, ctx, owner, server)
    run_id = start(db, owner, set_id, provider_id, params={"samples": 2, "seed": 10})
    run = finished(db, run_id)
    assert run.status == "succeeded", run.error
    # 6 items x 2 samples asked, each answer graded on 3 criteria.
    assert server.calls == ITEMS * 2 + ITEMS * 2 * 3
    assert (run.total_calls, run.done_calls, run.error_calls) == (12, 12, 0)
    assert run.judge_calls == 36
    rows = results(db, run_id)
    assert [(r.seq, r.sample) for r in rows] == [(s, s % 2) for s in range(12)]
    for row in rows:
        i = row.seq // 2
        assert row.response == WRONG.get(i, str(2 * i))
        assert row.scores == {"exact_match": 0.0 if i in WRONG else 1.0}
        assert row.rubric_score == pytest.approx(expected_rubric(i))
        assert row.score == row.rubric_score
        assert {v["criterion_id"]: v["met"] for v in row.verdicts} == {
            "right": i not in WRONG,
            "short": True,
            "rude": False,
        }
        assert row.judge_version.startswith("rubric-v1@") and row.judge_version.endswith(
            "stand-in/judge"
        )
        assert sorted(row.tags) == sorted(["domain:math", "even" if i % 2 == 0 else "odd"])
        assert row.latency_ms > 0 and not row.cached
    # Samples are distinct calls: seed + sample went to the server.
    seeds = sorted(b["seed"] for b in server.bodies() if b["model"] == "tiny")
    assert seeds == [10] * ITEMS + [11] * ITEMS
    summary = run.summary
    assert summary["results"] == 12 and summary["errors"] == 0
    assert summary["scores"]["exact_match"]["mean"] == pytest.approx(5 / 6)
    rubric_mean = sum(expected_rubric(i) for i in range(ITEMS)) / ITEMS
    assert summary["scores"]["rubric"]["mean"] == pytest.approx(rubric_mean)
    low, high = summary["scores"]["rubric"]["low"], summary["scores"]["rubric"]["high"]
    assert low < rubric_mean < high
    # Per tag: item 3 (the wrong one) is odd; the even items are all right.
    assert summary["by_tag"]["even"]["exact_match"]["mean"] == 1.0
    assert summary["by_tag"]["odd"]["exact_match"]["mean"] == pytest.approx(2 / 3)
    assert summary["by_tag"]["domain:math"]["rubric"]["mean"] == pytest.approx(rubric_mean)
    tokens = sum(r.prompt_tokens for r in rows), sum(r.completion_tokens for r in rows)
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == tokens
    assert (run.prompt_tokens, run.completion_tokens) == tokens
    # $1 / $2 per million input / output tokens.
    assert run.cost_usd == pytest.approx((tokens[0] * 1 + tokens[1] * 2) / 1e6)
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]


def test_429_and_500_are_retried_and_counted_at_the_server(db, ctx, owner, server, pool):
    set_id = make_set(db, owner, count=2)
    provider_id = make_provider(db, ctx, owner, server, max_retries=3)
    server.fail(429, 500)
    run = finished(db, start(db, owner, set_id, provider_id, judge=None))
    assert run.status == "succeeded" and run.error_calls == 0
    assert server.calls == 2 + 2  # two answers, after one 429 and one 500
    assert [r.response for r in results(db, run.id)] == ["0", "2"]


def test_a_timeout_is_the_results_error_and_the_run_goes_on(db, ctx, owner, server, pool):
    set_id = make_set(db, owner, count=3)
    provider_id = make_provider(db, ctx, owner, server, timeout_s=0.3, max_retries=0)
    server.slow(1.5)  # the first call outlives the provider's timeout
    run = finished(db, start(db, owner, set_id, provider_id, judge=None, params={"concurrency": 1}))
    assert run.status == "succeeded"
    assert (run.done_calls, run.error_calls) == (3, 1)
    rows = results(db, run.id)
    failed = [r for r in rows if r.failed]
    assert len(failed) == 1 and "no answer within 0.3 s" in failed[0].error
    assert failed[0].response is None and failed[0].score is None
    assert run.summary["errors"] == 1
    with db.read() as session:
        only = runs.list_results(
            session=session, run=run, cursor=None, limit=10, errors_only=True
        ).items
        assert [r.seq for r in only] == [failed[0].seq]


def test_a_re_run_is_answered_from_the_cache_without_a_call(db, ctx, owner, server, pool):
    set_id = make_set(db, owner, count=4)
    provider_id = make_provider(db, ctx, owner, server)
    first = finished(db, start(db, owner, set_id, provider_id))
    calls = server.calls
    assert calls == 4 + 4 * 3
    again = finished(db, start(db, owner, set_id, provider_id))
    assert again.status == "succeeded"
    assert server.calls == calls  # model and judge answers all from the cache
    before, after = results(db, first.id), results(db, again.id)
    assert all(r.cached for r in after) and all(r.latency_ms is None for r in after)
    assert [r.rubric_score for r in after] == [r.rubric_score for r in before]
    assert again.cost_usd == 0.0


def test_recorded_responses_are_re_scored_offline(db, ctx, owner, server, pool):
    set_id = make_set(db, owner, count=4)
    provider_id = make_provider(db, ctx, owner, server)
    finished(db, start(db, owner, set_id, provider_id, judge=None))
    calls = server.calls
    server.fail(*([500] * 50))  # were anything asked again, it would fail
    rescored = finished(
        db,
        start(
            db,
            owner,
            set_id,
            provider_id,
            judge=None,
            scorers=[
                {"name": "number_match"},
                {"name": "regex", "options": {"pattern": "^([0-9])$"}},
            ],
            params={"recorded": True},
        ),
    )
    assert server.calls == calls
    rows = results(db, rescored.id)
    assert [r.scores["number_match"] for r in rows] == [1.0, 1.0, 1.0, 0.0]
    # The pattern captures one digit, which must also be the reference: "0", "2", "4", not "5".
    assert [r.scores["regex"] for r in rows] == [1.0, 1.0, 1.0, 0.0]
    assert all(set(r.scores) == {"number_match", "regex"} and r.cached for r in rows)
    # A sample never asked was never recorded: an error, not a call.
    unrecorded = finished(
        db, start(db, owner, set_id, provider_id, judge=None, params={"recorded": True, "seed": 3})
    )
    assert unrecorded.error_calls == 4 and server.calls == calls
    assert all("NotRecorded" in r.error for r in results(db, unrecorded.id))


def test_results_filter_by_tag_and_score_and_page_by_cursor(db, ctx, owner, server, pool):
    set_id = make_set(db, owner)
    provider_id = make_provider(db, ctx, owner, server)
    run = finished(db, start(db, owner, set_id, provider_id))
    with db.read() as session:

        def page(**filters: Any) -> list[int]:
            seqs, cursor = [], None
            while True:
                found = runs.list_results(
                    session=session, run=run, cursor=cursor, limit=2, **filters
                )
                seqs += [r.seq for r in found.items]
                cursor = found.next_cursor
                if cursor is None:
                    return seqs

        assert page() == list(range(ITEMS))
        assert page(tag="odd") == [1, 3, 5]
        assert page(tag="domain:math", max_score=0.5) == [3]
        assert page(min_score=0.9) == [0, 1, 2, 4, 5]
        with pytest.raises(Invalid) as refused:
            page(min_score=0.9, max_score=0.1)
        assert refused.value.field == "min_score"


def test_create_refuses_unknown_scorers_options_and_judges_naming_the_field(db, ctx, owner, server):
    set_id = make_set(db, owner, count=1)
    provider_id = make_provider(db, ctx, owner, server)
    cases = [
        ({"scorers": [{"name": "nope"}]}, "scorers[0].name"),
        ({"scorers": [{"name": "regex", "options": {"patern": "x"}}]}, "scorers[0].options.patern"),
        ({"judge": {"provider_id": "missing", "model": "judge"}}, "judge.provider_id"),
        ({"set_version": 2}, "version"),
    ]
    for spec, field in cases:
        with pytest.raises(Exception) as refused:
            start(db, owner, set_id, provider_id, **spec)
        assert getattr(refused.value, "field", None) == field, spec


def test_cache_keys_are_the_sha256_of_the_requests_canonical_json():
    """The run engine's hot path computes keys without copying the request; stored answers
    must still be found under the keys they were stored with."""
    import hashlib

    from assay.evaluation.chat import ChatRequest

    request = ChatRequest(
        messages=({"role": "user", "content": [{"type": "text", "text": "hi"}]},),
        temperature=0.0,
        stop=("x",),
        json_schema={"type": "object"},
        sample=2,
    )
    canonical = (
        '{"json_schema":{"type":"object"},"max_tokens":null,"messages":[{"content":[{"text":'
        '"hi","type":"text"}],"role":"user"}],"model":"p/m","sample":2,"seed":null,'
        '"stop":["x"],"temperature":0.0,"top_p":null}'
    )
    assert request.cache_key("p/m") == hashlib.sha256(canonical.encode()).hexdigest()


def test_implicit_mode_and_a_panel_grade_as_configured(db, ctx, owner, server, pool):
    set_id = make_set(db, owner, count=4)
    provider_id = make_provider(db, ctx, owner, server)
    implicit = finished(
        db,
        start(
            db,
            owner,
            set_id,
            provider_id,
            judge={"provider_id": provider_id, "model": "judge", "mode": "implicit"},
        ),
    )
    assert implicit.judge_calls == 4 and server.calls == 4 + 4
    assert [r.rubric_score for r in results(db, implicit.id)] == [0.9, 0.9, 0.9, 0.1]
    panel = {
        "panel": [
            {"provider_id": provider_id, "model": "judge"},
            {"provider_id": provider_id, "model": "judge-b"},
            {"provider_id": provider_id, "model": "judge-c"},
        ],
        "rule": "majority",
    }
    calls = server.calls
    run = finished(db, start(db, owner, set_id, provider_id, judge=panel))
    # The answers come from the cache; each of 3 judges grades 3 criteria of 4 answers.
    assert run.judge_calls == 36 and server.calls == calls + 36
    rows = results(db, run.id)
    assert [r.rubric_score for r in rows] == [expected_rubric(i) for i in range(4)]
    assert rows[0].judge_version.startswith("panel:majority[")
