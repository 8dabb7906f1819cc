"""The provider layer against a real OpenAI-protocol server on loopback: the `openai` client's
retries on 429 and 5xx (counted at the server), timeouts retried then reported, errors in the
provider's words, streaming, concurrency and rate limits, cost from the price table, the
response cache (bulk, no call on a hit) and recorded models; providers' keys encrypted at
rest (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from assay.core.errors import Conflict, Invalid
from assay.evaluation import chat_cache, providers
from assay.evaluation.chat import ChatRequest, ChatResult
from assay.evaluation.provider_models import (
    CachedChatModel,
    NotRecorded,
    OpenAIChatModel,
    ProviderConfig,
    ProviderError,
    RecordedChatModel,
    chat_model,
)
from assay.evaluation.provider_schemas import ProviderCreate, ProviderUpdate
from tests.labeling.factories import actor_for
from tests.support.aio import run
from tests.support.openai_server import ChatCompletionsServer, user_text

KEY = "sk-provider-very-secret-0123456789"


def reverse(request: dict[str, Any]) -> str:
    """A deterministic model: the user's words backwards."""
    return " ".join(reversed(user_text(request).split()))


def ask(content: str, **options: Any) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": content},), **options)


def config(server: ChatCompletionsServer, **options: Any) -> ProviderConfig:
    return ProviderConfig(name="stand-in", base_url=server.base_url, **options)


@pytest.fixture
def server():
    with ChatCompletionsServer(reverse) as running:
        yield running


async def complete_and_close(model: OpenAIChatModel, *requests: ChatRequest) -> list[ChatResult]:
    try:
        return list(await asyncio.gather(*(model.complete(r) for r in requests)))
    finally:
        await model.aclose()


def one(model: OpenAIChatModel, request: ChatRequest) -> ChatResult:
    return run(complete_and_close(model, request))[0]


def test_a_call_answers_with_tokens_latency_and_the_key_sent(server):
    model = OpenAIChatModel(config(server, api_key=KEY), "tiny")
    result = one(model, ask("one two three", temperature=0.0, max_tokens=5, seed=7))
    assert result.text == "three two one"
    assert (result.prompt_tokens, result.completion_tokens) == (3, 3)
    assert result.finish_reason == "stop" and result.latency_s > 0
    assert model.name == "stand-in/tiny"
    [received] = server.requests
    assert received.headers["authorization"] == f"Bearer {KEY}"
    body = server.bodies()[0]
    assert body["model"] == "tiny" and body["temperature"] == 0.0
    assert body["max_tokens"] == 5 and body["seed"] == 7


def test_429s_are_retried_honouring_retry_after_then_answer(server):
    server.fail(429, 429, retry_after=0.2)
    started = time.perf_counter()
    result = one(OpenAIChatModel(config(server, max_retries=3), "tiny"), ask("a b"))
    assert result.text == "b a"
    assert server.calls == 3
    assert time.perf_counter() - started >= 0.4  # waited the server's 0.2 s twice


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_with_backoff_then_answer(server, status):
    server.fail(status)
    result = one(OpenAIChatModel(config(server, max_retries=2), "tiny"), ask("x y"))
    assert result.text == "y x" and server.calls == 2


def test_retries_run_out_and_the_error_is_the_providers_own(server):
    server.fail(500, 500, 500)
    with pytest.raises(ProviderError) as raised:
        one(OpenAIChatModel(config(server, max_retries=1), "tiny"), ask("x"))
    assert raised.value.status_code == 500 and "scripted 500" in raised.value.message
    assert server.calls == 2


@pytest.mark.parametrize("status", [400, 401])
def test_client_errors_are_not_retried(server, status):
    server.fail(status)
    with pytest.raises(ProviderError) as raised:
        one(OpenAIChatModel(config(server, max_retries=3), "tiny"), ask("x"))
    assert raised.value.status_code == status
    assert f"HTTP {status}: scripted {status}" in str(raised.value)
    assert server.calls == 1


def test_a_timeout_is_retried_then_succeeds(server):
    server.slow(2.5)  # the first attempt outlasts the timeout; the retry is answered at once
    result = one(OpenAIChatModel(config(server, timeout_s=1.0, max_retries=2), "tiny"), ask("p q"))
    assert result.text == "q p" and server.calls == 2


def test_timeouts_past_the_retries_are_reported(server):
    server.delay = 1.0
    with pytest.raises(ProviderError) as raised:
        one(OpenAIChatModel(config(server, timeout_s=0.2, max_retries=1), "tiny"), ask("x"))
    assert "no answer within 0.2 s" in str(raised.value) and raised.value.status_code is None
    assert server.calls == 2


def test_streaming_gives_the_same_text_and_a_first_token_time(server):
    request = ask("alpha beta gamma delta")
    plain = one(OpenAIChatModel(config(server), "tiny"), request)
    streamed = one(OpenAIChatModel(config(server), "tiny", stream=True), request)
    assert streamed.text == plain.text == "delta gamma beta alpha"
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (4, 4)
    assert streamed.finish_reason == "stop"
    assert streamed.first_token_s is not None and 0 < streamed.first_token_s <= streamed.latency_s
    assert plain.first_token_s is None
    assert server.bodies()[1]["stream"] is True


def test_cost_comes_from_the_price_table_and_unpriced_models_say_so(server):
    prices = {"tiny": {"input": 2.0, "output": 10.0}}
    result = one(OpenAIChatModel(config(server, prices=prices), "tiny"), ask("a b c d e"))
    assert result.cost_usd == pytest.approx((5 * 2.0 + 5 * 10.0) / 1_000_000)
    assert "unpriced" not in result.extra
    other = one(OpenAIChatModel(config(server, prices=prices), "other"), ask("a b"))
    assert other.cost_usd == 0.0 and other.extra == {"unpriced": True}
    every = one(
        OpenAIChatModel(config(server, prices={"*": {"input": 1, "output": 1}}), "o"), ask("a")
    )
    assert every.cost_usd == pytest.approx(2 / 1_000_000)


def test_no_more_calls_in_flight_than_the_provider_allows():
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def slow_answer(request: dict[str, Any]) -> str:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.2)  # long enough for the client to have the next calls waiting
        with lock:
            in_flight[0] -= 1
        return "ok"

    with ChatCompletionsServer(slow_answer) as server:
        model = OpenAIChatModel(config(server, max_concurrency=3), "tiny")
        results = run(complete_and_close(model, *(ask(f"q{k}") for k in range(9))))
    assert [r.text for r in results] == ["ok"] * 9
    assert most[0] == 3


def test_requests_per_minute_spread_the_calls(server):
    # 300 a minute: 5 at once, then 5 a second.
    model = OpenAIChatModel(config(server, requests_per_minute=300), "tiny")
    started = time.perf_counter()
    run(complete_and_close(model, *(ask(f"q{k}") for k in range(10))))
    assert time.perf_counter() - started >= 0.8
    assert server.calls == 10


def test_an_unknown_kind_and_a_missing_extra_are_named():
    with pytest.raises(Invalid) as raised:
        chat_model(ProviderConfig(name="x", kind="carrier-pigeon", base_url="http://h/v1"), "m")
    assert raised.value.field == "kind" and "openai" in raised.value.message
    try:
        import litellm  # noqa: F401
    except ImportError:
        with pytest.raises(Invalid) as raised:
            chat_model(ProviderConfig(name="x", kind="litellm"), "anthropic/claude")
        assert "assay[litellm]" in raised.value.message


# --- the response cache ----------------------------------------------------------------


def test_a_cache_hit_makes_no_call_and_a_new_sample_does(server, db):
    async def go() -> tuple[list[ChatResult], int]:
        inner = OpenAIChatModel(config(server), "tiny")
        cached = CachedChatModel(inner, db)
        try:
            first = await cached.complete(ask("m n"))
            again = await cached.complete(ask("m n"))
            other_sample = await cached.complete(ask("m n", sample=1))
        finally:
            await inner.aclose()
        return [first, again, other_sample], cached.calls

    (first, again, other_sample), calls = run(go())
    assert server.calls == 2 and calls == 2
    assert not first.cached and again.cached and again.text == first.text == "n m"
    assert (again.prompt_tokens, again.completion_tokens) == (2, 2)
    assert not other_sample.cached

    # A new run (a new model object) prefetches in bulk and calls nothing it has.
    async def rerun() -> list[ChatResult]:
        inner = OpenAIChatModel(config(server), "tiny")
        cached = CachedChatModel(inner, db)
        found = cached.prefetch([ask("m n"), ask("m n", sample=1), ask("new")])
        assert found == 2
        try:
            return list(
                await asyncio.gather(
                    cached.complete(ask("m n")),
                    cached.complete(ask("m n", sample=1)),
                    cached.complete(ask("new")),
                )
            )
        finally:
            await inner.aclose()

    results = run(rerun())
    assert [r.cached for r in results] == [True, True, False]
    assert server.calls == 3


def test_put_many_keeps_the_first_answer_and_get_many_reads_in_bulk(db):
    keys = [ask(f"q{k}").cache_key("p/m") for k in range(1200)]
    with db.write() as session:
        chat_cache.put_many(
            session=session,
            entries=[
                (key, "p/m", ChatResult(text=f"a{k}", prompt_tokens=k))
                for k, key in enumerate(keys)
            ],
        )
    with db.write() as session:
        chat_cache.put_many(session=session, entries=[(keys[0], "p/m", ChatResult(text="later"))])
    with db.read() as session:
        found = chat_cache.get_many(session=session, keys=[*keys, "absent"])
    assert len(found) == 1200 and "absent" not in found
    assert found[keys[0]].text == "a0" and found[keys[7]].prompt_tokens == 7
    assert all(r.cached for r in found.values())


def test_a_cache_that_writes_at_flush(server, db):
    async def go() -> CachedChatModel:
        inner = OpenAIChatModel(config(server), "tiny")
        cached = CachedChatModel(inner, db, write_through=False)
        try:
            await asyncio.gather(*(cached.complete(ask(f"w{k}")) for k in range(5)))
        finally:
            await inner.aclose()
        return cached

    cached = run(go())
    keys = [ask(f"w{k}").cache_key("stand-in/tiny") for k in range(5)]
    with db.read() as session:
        assert chat_cache.get_many(session=session, keys=keys) == {}
    assert cached.flush() == 5
    with db.read() as session:
        assert {r.text for r in chat_cache.get_many(session=session, keys=keys).values()} == {
            f"w{k}" for k in range(5)
        }


def test_a_recorded_model_answers_what_was_recorded_and_names_what_was_not(server, db):
    async def record() -> None:
        inner = OpenAIChatModel(config(server), "tiny")
        try:
            await CachedChatModel(inner, db).complete(ask("seen before"))
        finally:
            await inner.aclose()

    run(record())
    requests = [ask("seen before"), ask("never asked")]
    with db.read() as session:
        recorded = RecordedChatModel.from_cache(
            session=session, name="stand-in/tiny", requests=requests
        )
    assert run(recorded.complete(requests[0])).text == "before seen"
    with pytest.raises(NotRecorded) as raised:
        run(recorded.complete(requests[1]))
    assert requests[1].cache_key("stand-in/tiny") in str(raised.value)
    assert "never asked" not in str(raised.value)  # the key, not the item's content
    assert server.calls == 1


# --- provider records ------------------------------------------------------------------


def test_the_key_is_encrypted_at_rest_and_decrypted_only_to_call(server, db, admin, settings):
    actor = actor_for(admin)
    with db.write() as session:
        provider = providers.create_provider(
            session=session,
            provider_in=ProviderCreate(name="local", base_url=server.base_url, api_key=KEY),
            actor=actor,
            settings=settings,
        )
    with db.read() as session:
        stored = session.execute(
            text("SELECT api_key FROM eval_providers WHERE id = :id"), {"id": provider.id}
        ).scalar_one()
    assert stored.startswith("enc1:") and KEY not in stored
    model = providers.chat_model_for(provider=provider, model="tiny", settings=settings)
    assert run(complete_and_close(model, ask("k l")))[0].text == "l k"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(providers.provider_config(provider, settings=settings))


def test_names_are_unique_per_mode_and_updates_change_what_is_given(server, db, admin, settings):
    actor = actor_for(admin)
    body = ProviderCreate(name="local", base_url=server.base_url, api_key=KEY)
    with db.write() as session:
        provider = providers.create_provider(
            session=session, provider_in=body, actor=actor, settings=settings
        )
    with pytest.raises(Conflict) as raised, db.write() as session:
        providers.create_provider(session=session, provider_in=body, actor=actor, settings=settings)
    assert raised.value.field == "name"
    with db.write() as session:  # the test world is another namespace
        providers.create_provider(
            session=session, provider_in=body, actor=actor_for(admin, "test"), settings=settings
        )
    with db.write() as session:
        provider = providers.get_provider(session=session, provider_id=provider.id)
        providers.update_provider(
            session=session,
            provider=provider,
            changes=ProviderUpdate(api_key="", max_retries=1),
            settings=settings,
        )
        assert provider.api_key is None and provider.max_retries == 1
        assert provider.base_url == server.base_url
    with pytest.raises(Invalid) as raised, db.write() as session:
        providers.create_provider(
            session=session,
            provider_in=ProviderCreate(name="nowhere"),
            actor=actor,
            settings=settings,
        )
    assert raised.value.field == "base_url"


def test_a_check_reports_latency_or_the_providers_error(server, db, admin, settings):
    with db.write() as session:
        provider = providers.create_provider(
            session=session,
            provider_in=ProviderCreate(name="local", base_url=server.base_url, max_retries=5),
            actor=actor_for(admin),
            settings=settings,
        )
    good = providers.check_provider(provider=provider, model="tiny", settings=settings)
    assert good["ok"] is True and good["latency_ms"] > 0
    server.fail(401)
    bad = providers.check_provider(provider=provider, model="tiny", settings=settings)
    assert bad == {
        "ok": False,
        "model": "tiny",
        "status_code": 401,
        "error": "local/tiny: HTTP 401: scripted 401",
    }
    server.fail(503)
    assert (
        providers.check_provider(provider=provider, model="tiny", settings=settings)["status_code"]
        == 503
    )
    assert server.calls == 3  # no retries in a check


def test_many_calls_in_flight_against_the_fast_stand_in_are_each_answered_once():
    from tests.support.fast_openai_server import FastChatServer

    with FastChatServer(answer="not met") as fast:
        prices = {"judge": {"input": 1.0, "output": 3.0}}
        model = OpenAIChatModel(
            ProviderConfig(name="fast", base_url=fast.base_url, max_concurrency=32, prices=prices),
            "judge",
        )
        results = run(complete_and_close(model, *(ask(f"criterion {k} met?") for k in range(300))))
        assert fast.calls() == 300
    assert {r.text for r in results} == {"not met"}
    assert {(r.prompt_tokens, r.completion_tokens) for r in results} == {(3, 2)}
    assert sum(r.cost_usd for r in results) == pytest.approx(300 * (3 * 1.0 + 2 * 3.0) / 1e6)


def test_identical_calls_in_flight_make_one_call_and_a_failed_one_is_asked_again(db):
    def slow(request: dict[str, Any]) -> str:
        time.sleep(0.1)
        return "same"

    with ChatCompletionsServer(slow) as server:

        async def go() -> tuple[list[ChatResult], int]:
            inner = OpenAIChatModel(config(server, max_retries=0), "tiny")
            cached = CachedChatModel(inner, db)
            try:
                results = await asyncio.gather(*(cached.complete(ask("twin")) for _ in range(5)))
                server.fail(400)  # whichever asks first fails; its twin asks again and gets it
                outcomes = await asyncio.gather(
                    cached.complete(ask("other")), cached.complete(ask("other")),
                    return_exceptions=True,
                )  # fmt: skip
            finally:
                await inner.aclose()
            [failed] = [o for o in outcomes if isinstance(o, ProviderError)]
            [answered] = [o for o in outcomes if isinstance(o, ChatResult)]
            assert failed.status_code == 400 and answered.text == "same"
            return list(results), cached.calls

        results, calls = run(go())
        assert server.calls == 3 and calls == 3
    assert [r.text for r in results] == ["same"] * 5
    assert sum(not r.cached for r in results) == 1  # the one that called; the rest waited
    assert {r.cost_usd for r in results if r.cached} == {0.0}
