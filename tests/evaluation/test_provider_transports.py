"""Both transports of an `openai` provider — the `openai` client and the lean aiohttp one
(`lean_chat.py`) — held equal against the same real stand-ins on loopback: the same bodies
sent, the same answers, tokens and costs; the same retries counted at the server (429 with
`Retry-After`, 5xx, timeouts), the same errors word for word, the same limits; the key in
no error and no log. The lean retry rules are checked against the `openai` client's own."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import socket
import threading
import time
from typing import Any

import pytest

from assay.core.errors import Invalid
from assay.evaluation import lean_chat, providers
from assay.evaluation.chat import ChatRequest, ChatResult
from assay.evaluation.lean_chat import LeanChatModel
from assay.evaluation.provider_models import (
    OpenAIChatModel,
    ProviderConfig,
    ProviderError,
    chat_model,
)
from assay.evaluation.provider_schemas import ProviderCreate, ProviderUpdate
from tests.labeling.factories import actor_for
from tests.support.aio import run
from tests.support.openai_server import ChatCompletionsServer, user_text

KEY = "sk-provider-very-secret-0123456789"
TRANSPORTS = ["openai", "lean"]


def reverse(request: dict[str, Any]) -> str:
    return " ".join(reversed(user_text(request).split()))


def ask(content: str, **options: Any) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": content},), **options)


def model_for(
    url: str, transport: str, model: str = "tiny", *, stream: bool = False, **options: Any
) -> Any:
    config = ProviderConfig(name="stand-in", base_url=url, transport=transport, **options)
    return chat_model(config, model, stream=stream)


async def complete_and_close(model: Any, *requests: ChatRequest) -> list[ChatResult]:
    try:
        return list(await asyncio.gather(*(model.complete(r) for r in requests)))
    finally:
        await model.aclose()


def one(model: Any, request: ChatRequest) -> ChatResult:
    return run(complete_and_close(model, request))[0]


def failure(model: Any, request: ChatRequest) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        one(model, request)
    return raised.value


@pytest.fixture
def server():
    with ChatCompletionsServer(reverse) as running:
        yield running


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param


def test_the_transport_setting_chooses_the_model():
    assert type(model_for("http://h/v1", "openai")) is OpenAIChatModel
    assert type(model_for("http://h/v1", "lean")) is LeanChatModel
    with pytest.raises(Invalid) as raised:
        model_for("http://h/v1", "pigeon")
    assert raised.value.field == "transport"


def test_both_send_the_same_bodies_and_give_the_same_results():
    requests = [
        ask("one two three", temperature=0.0, max_tokens=5, seed=7),
        ask("a b c d e f", top_p=0.5, stop=("x", "y")),
        ask(
            "judge this", json_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}}
        ),
        ChatRequest(
            messages=(
                {"role": "system", "content": "Grade it."},
                {"role": "user", "content": [{"type": "text", "text": "é ü ß 漢字 text"}]},
            )
        ),
    ]
    prices = {"tiny": {"input": 2.0, "output": 10.0}}
    seen: dict[str, tuple[list[ChatResult], list[dict[str, Any]], str]] = {}
    for transport in TRANSPORTS:
        with ChatCompletionsServer(reverse) as server:
            model = model_for(server.base_url, transport, api_key=KEY, prices=prices)
            results = run(complete_and_close(model, *requests))
            seen[transport] = (
                results,
                server.bodies(),
                server.requests[0].headers["authorization"],
            )
    (client_results, client_bodies, client_auth) = seen["openai"]
    (lean_results, lean_bodies, lean_auth) = seen["lean"]
    arrival = lambda body: json.dumps(body, sort_keys=True)  # noqa: E731 - in flight together
    assert sorted(lean_bodies, key=arrival) == sorted(client_bodies, key=arrival)
    assert lean_auth == client_auth == f"Bearer {KEY}"

    def comparable(result: ChatResult) -> tuple[Any, ...]:
        return (
            result.text,
            result.prompt_tokens,
            result.completion_tokens,
            result.finish_reason,
            result.cost_usd,
            result.extra,
            result.first_token_s,
        )

    assert [comparable(r) for r in lean_results] == [comparable(r) for r in client_results]
    assert lean_results[0].text == "three two one" and lean_results[0].cost_usd > 0
    assert lean_results[3].text == "text 漢字 ß ü é"
    assert all(r.latency_s > 0 for r in lean_results)


def test_unpriced_models_say_so(server, transport):
    result = one(model_for(server.base_url, transport, "other", prices={"x": {}}), ask("a b"))
    assert result.cost_usd == 0.0 and result.extra == {"unpriced": True}


def test_streaming_gives_the_same_text_tokens_and_a_first_token_time(server, transport):
    request = ask("alpha beta gamma delta")
    streamed = one(model_for(server.base_url, transport, stream=True), request)
    assert streamed.text == "delta gamma beta alpha"
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (4, 4)
    assert streamed.finish_reason == "stop"
    assert streamed.first_token_s is not None and 0 < streamed.first_token_s <= streamed.latency_s
    body = server.bodies()[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_429s_are_retried_honouring_retry_after_then_answer(server, transport):
    server.fail(429, 429, retry_after=0.2)
    started = time.perf_counter()
    result = one(model_for(server.base_url, transport, max_retries=3), ask("a b"))
    assert result.text == "b a" and server.calls == 3
    assert time.perf_counter() - started >= 0.4  # waited the server's 0.2 s twice


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_then_answer(server, transport, status):
    server.fail(status)
    result = one(model_for(server.base_url, transport, max_retries=2), ask("x y"))
    assert result.text == "y x" and server.calls == 2


def test_max_retries_are_honoured_and_the_error_is_the_providers_own(server, transport):
    server.fail(500, 500, 500)
    error = failure(model_for(server.base_url, transport, max_retries=2), ask("x"))
    assert error.status_code == 500 and error.message == "stand-in/tiny: HTTP 500: scripted 500"
    assert server.calls == 3
    server.fail(503)
    error = failure(model_for(server.base_url, transport, max_retries=0), ask("x"))
    assert error.status_code == 503 and server.calls == 4  # no retries: one call


@pytest.mark.parametrize("status", [400, 401])
def test_client_errors_are_not_retried_and_read_the_same(status):
    messages = {}
    for transport in TRANSPORTS:
        with ChatCompletionsServer(reverse) as server:
            server.fail(status)
            error = failure(model_for(server.base_url, transport, max_retries=3), ask("x"))
            assert error.status_code == status and server.calls == 1
            messages[transport] = error.message
    assert (
        messages["lean"] == messages["openai"] == f"stand-in/tiny: HTTP {status}: scripted {status}"
    )


def test_a_404_without_an_openai_body_reads_the_same():
    """A wrong base URL: the stand-in's 404 names the route; both say it the same way."""
    messages = {}
    for transport in TRANSPORTS:
        with ChatCompletionsServer(reverse) as server:
            error = failure(model_for(server.base_url + "/extra", transport), ask("x"))
            messages[transport] = (error.status_code, error.message)
    assert messages["lean"] == messages["openai"]
    assert messages["lean"][0] == 404 and "no route" in messages["lean"][1]


def test_a_timeout_is_retried_then_succeeds(server, transport):
    server.slow(2.5)  # the first attempt outlasts the timeout; the retry is answered at once
    model = model_for(server.base_url, transport, timeout_s=1.0, max_retries=2)
    result = one(model, ask("p q"))
    assert result.text == "q p" and server.calls == 2


def test_timeouts_past_the_retries_are_reported_the_same_way(server, transport):
    server.delay = 1.0
    error = failure(model_for(server.base_url, transport, timeout_s=0.2, max_retries=1), ask("x"))
    assert error.message == "stand-in/tiny: no answer within 0.2 s (after 1 retries)"
    assert error.status_code is None and server.calls == 2


def test_an_endpoint_that_refuses_connections_reads_the_same():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    messages = {
        transport: failure(
            model_for(f"http://127.0.0.1:{port}/v1", transport, max_retries=1), ask("x")
        ).message
        for transport in TRANSPORTS
    }
    assert (
        messages["lean"]
        == messages["openai"]
        == "stand-in/tiny: cannot connect (Connection error.)"
    )


def test_no_more_calls_in_flight_than_the_provider_allows(transport):
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
        model = model_for(server.base_url, transport, max_concurrency=3)
        results = run(complete_and_close(model, *(ask(f"q{k}") for k in range(9))))
    assert [r.text for r in results] == ["ok"] * 9
    assert most[0] == 3


def test_requests_per_minute_spread_the_calls(server, transport):
    model = model_for(server.base_url, transport, requests_per_minute=300)  # 5 at once, 5/s
    started = time.perf_counter()
    run(complete_and_close(model, *(ask(f"q{k}") for k in range(10))))
    assert time.perf_counter() - started >= 0.8 and server.calls == 10


def test_the_key_is_in_no_error_and_no_log(server, transport, caplog):
    caplog.set_level(logging.DEBUG)
    server.fail(401, 500, 500)
    errors = [failure(model_for(server.base_url, transport, api_key=KEY, max_retries=0), ask("x"))]
    errors.append(
        failure(model_for(server.base_url, transport, api_key=KEY, max_retries=1), ask("x"))
    )
    server.delay = 0.5
    errors.append(
        failure(
            model_for(server.base_url, transport, api_key=KEY, timeout_s=0.1, max_retries=0),
            ask("x"),
        )
    )
    assert [e.status_code for e in errors] == [401, 500, None]
    for error in errors:
        assert KEY not in str(error) and KEY not in repr(error.args)
    assert KEY not in caplog.text
    assert KEY not in repr(model_for(server.base_url, transport, api_key=KEY).config)


def test_many_calls_in_flight_against_the_fast_stand_in_are_each_answered_once(transport):
    from tests.support.fast_openai_server import FastChatServer

    prices = {"judge": {"input": 1.0, "output": 3.0}}
    with FastChatServer(answer="not met") as fast:
        model = model_for(fast.base_url, transport, "judge", max_concurrency=32, prices=prices)
        results = run(complete_and_close(model, *(ask(f"criterion {k} met?") for k in range(300))))
        assert fast.calls() == 300
    assert {r.text for r in results} == {"not met"}
    assert {(r.prompt_tokens, r.completion_tokens) for r in results} == {(3, 2)}
    assert sum(r.cost_usd for r in results) == pytest.approx(300 * (3 * 1.0 + 2 * 3.0) / 1e6)


# --- the retry rules, against the `openai` client's own ------------------------------------

HEADER_CASES: list[dict[str, str]] = [
    {},
    {"retry-after": "3"},
    {"retry-after": "0.25"},
    {"retry-after": "0"},
    {"retry-after": "-1"},
    {"retry-after": "121"},
    {"retry-after": "1e999"},
    {"retry-after": "inf"},
    {"retry-after": "soon"},
    {"retry-after-ms": "1500"},
    {"retry-after-ms": "bad", "retry-after": "2"},
    {"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)},
    {"retry-after": email.utils.formatdate(time.time() + 600, usegmt=True)},
    {"x-should-retry": "true"},
    {"x-should-retry": "false"},
    {"x-should-retry": "true", "retry-after": "500"},
]


@pytest.fixture(scope="module")
def openai_client():
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="no-key", base_url="http://127.0.0.1:9/v1", max_retries=6)
    yield client
    asyncio.run(client.close())


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 529])
def test_which_statuses_are_retried_is_the_openai_clients_rule(openai_client, status):
    import httpx2

    for headers in HEADER_CASES:
        response = httpx2.Response(status, headers=headers)
        expected = openai_client._should_retry(response)
        assert lean_chat.should_retry(status, response.headers) is expected, (status, headers)


def test_how_long_to_wait_is_the_openai_clients_rule(openai_client):
    import httpx2
    from openai._models import FinalRequestOptions

    options = FinalRequestOptions.construct(method="post", url="/chat/completions")
    for headers in [None, *HEADER_CASES]:
        response_headers = httpx2.Headers(headers) if headers is not None else None
        for retries_taken in range(7):
            random.seed(retries_taken)
            expected = openai_client._calculate_retry_timeout(
                6 - retries_taken, options, response_headers
            )
            random.seed(retries_taken)
            got = lean_chat.retry_delay(retries_taken, response_headers)
            assert got == pytest.approx(expected, abs=0.01), (headers, retries_taken)


# --- the setting, stored ---------------------------------------------------------------------


def test_a_provider_stores_its_transport_and_lean_is_only_for_openai(db, admin, settings):
    actor = actor_for(admin)
    with db.write() as session:
        made = providers.create_provider(
            session=session,
            provider_in=ProviderCreate(
                name="fast", base_url="http://127.0.0.1:9/v1", transport="lean"
            ),
            actor=actor,
            settings=settings,
        )
        assert made.transport == "lean"
        assert (
            type(providers.chat_model_for(provider=made, model="m", settings=settings))
            is LeanChatModel
        )
        providers.update_provider(
            session=session,
            provider=made,
            changes=ProviderUpdate(transport="openai"),
            settings=settings,
        )
        assert (
            type(providers.chat_model_for(provider=made, model="m", settings=settings))
            is OpenAIChatModel
        )
        default = providers.create_provider(
            session=session,
            provider_in=ProviderCreate(name="plain", base_url="http://127.0.0.1:9/v1"),
            actor=actor,
            settings=settings,
        )
        assert default.transport == "openai"
        with pytest.raises(Invalid) as raised:
            providers.create_provider(
                session=session,
                provider_in=ProviderCreate(name="other", kind="litellm", transport="lean"),
                actor=actor,
                settings=settings,
            )
        assert raised.value.field == "transport"
