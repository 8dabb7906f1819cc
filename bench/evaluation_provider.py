"""The provider layer's throughput: chat calls/s and the caller's CPU per call, with N calls
in flight against the fast OpenAI-protocol stand-in on loopback (its own process).

    /work/main/.venv/bin/python bench/evaluation_provider.py [--calls 4000] [--in-flight 64]

Rows, side by side in one run (the same stand-in, the same requests):
- `httpx2 post`, `aiohttp post` — floors: the two HTTP clients the `openai` package can run
  on, one POST per call and `json.loads` of the answer, nothing else;
- `openai create <transport>` — `AsyncOpenAI.chat.completions.create`, the parsed
  `ChatCompletion`, over httpx2 (the client's default) and over its aiohttp transport;
- `openai post <transport>` — `AsyncOpenAI.post(..., cast_to=httpx2.Response)` and
  `json.loads`: the client's auth, retries and errors without its parameter transform and
  response model (what `OpenAIChatModel` does);
- `OpenAIChatModel` — Assay's model: aiohttp transport, the post path, semaphore, accounting;
- `LeanChatModel` — Assay's lean transport (`transport: "lean"`): the same semaphore and
  accounting, the wire format over bare aiohttp with msgspec, the client's retry rules;
- `CachedChatModel hit` — every answer prefetched from the response cache (no call).

CPU is this process's (user + system) over the run: the client side, the stand-in excluded.
Last line: `provider: LeanChatModel <calls/s> calls/s <µs> µs CPU/call ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.support.fast_openai_server import FastChatServer  # noqa: E402

from assay.evaluation.chat import ChatRequest  # noqa: E402
from assay.evaluation.lean_chat import LeanChatModel  # noqa: E402
from assay.evaluation.provider_models import (  # noqa: E402
    OpenAIChatModel,
    ProviderConfig,
    request_arguments,
)


def requests(n: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=(
                {"role": "system", "content": "You grade one criterion. Answer met or not met."},
                {"role": "user", "content": f"Criterion {k % 5}: the answer cites a source. {k}"},
            ),
            temperature=0.0,
            max_tokens=8,
        )
        for k in range(n)
    ]


async def drive(
    calls: list[ChatRequest], in_flight: int, one: Callable[[ChatRequest], Awaitable[str]]
) -> tuple[float, float]:
    """Wall seconds and CPU seconds for all calls, `in_flight` at a time."""
    semaphore = asyncio.Semaphore(in_flight)

    async def limited(request: ChatRequest) -> str:
        async with semaphore:
            return await one(request)

    await asyncio.gather(*(limited(r) for r in calls[: in_flight * 2]))  # warm connections
    cpu, wall = time.process_time(), time.perf_counter()
    answers = await asyncio.gather(*(limited(r) for r in calls))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert all(a for a in answers), "an empty answer"
    return wall, cpu


def report(name: str, n: int, wall: float, cpu: float) -> tuple[str, float, float]:
    rate, cpu_us = n / wall, cpu / n * 1e6
    print(f"{name:22s} {rate:8.0f} calls/s  {cpu_us:7.0f} µs CPU/call  ({n} calls, {wall:.2f} s)")
    return name, rate, cpu_us


async def run_all(server: FastChatServer, n: int, in_flight: int) -> list[tuple[str, float, float]]:
    import httpx2
    from openai import AsyncOpenAI, DefaultAioHttpClient

    calls = requests(n)
    rows = []
    limits = httpx2.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)

    async with httpx2.AsyncClient(limits=limits) as http:
        url = f"{server.base_url}/chat/completions"

        async def post(request: ChatRequest) -> str:
            answer = await http.post(url, json=request_arguments(request, "judge"))
            return json.loads(answer.content)["choices"][0]["message"]["content"]

        rows.append(report("httpx2 post", n, *await drive(calls, in_flight, post)))

    import aiohttp

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"{server.base_url}/chat/completions"

        async def aio_post(request: ChatRequest) -> str:
            async with session.post(url, json=request_arguments(request, "judge")) as answer:
                return json.loads(await answer.read())["choices"][0]["message"]["content"]

        rows.append(report("aiohttp post", n, *await drive(calls, in_flight, aio_post)))

    for transport in ("httpx2", "aiohttp"):
        http = (
            httpx2.AsyncClient(limits=limits)
            if transport == "httpx2"
            else DefaultAioHttpClient(limits=limits)
        )
        client = AsyncOpenAI(
            base_url=server.base_url, api_key="no-key", max_retries=0, http_client=http
        )

        async def parsed(request: ChatRequest, client: AsyncOpenAI = client) -> str:
            answer = await client.chat.completions.create(**request_arguments(request, "judge"))
            return answer.choices[0].message.content or ""

        async def posted(request: ChatRequest, client: AsyncOpenAI = client) -> str:
            answer = await client.post(
                "/chat/completions",
                body=request_arguments(request, "judge"),
                cast_to=httpx2.Response,
            )
            return json.loads(answer.content)["choices"][0]["message"]["content"]

        rows.append(report(f"openai create {transport}", n, *await drive(calls, in_flight, parsed)))
        rows.append(report(f"openai post {transport}", n, *await drive(calls, in_flight, posted)))
        await client.close()

    prices = {"judge": {"input": 0.1, "output": 0.4}}
    config = ProviderConfig(
        name="stand-in", base_url=server.base_url, max_concurrency=in_flight, prices=prices
    )
    model = OpenAIChatModel(config, "judge")

    async def ours(request: ChatRequest) -> str:
        return (await model.complete(request)).text

    rows.append(report("OpenAIChatModel", n, *await drive(calls, in_flight, ours)))
    await model.aclose()

    lean = LeanChatModel(config, "judge")

    async def lean_call(request: ChatRequest) -> str:
        return (await lean.complete(request)).text

    rows.append(report("LeanChatModel", n, *await drive(calls, in_flight, lean_call)))
    await lean.aclose()
    return rows


async def cached_hits(n: int, in_flight: int) -> tuple[str, float, float]:
    """Every call answered from a prefetched response cache (SQLite file)."""
    from assay.core.db import Database
    from assay.core.migrate import upgrade
    from assay.evaluation import chat_cache
    from assay.evaluation.chat import ChatResult
    from assay.evaluation.provider_models import CachedChatModel

    calls = requests(n)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/cache.db"
        db = Database(url)
        upgrade(db)
        with db.write() as session:
            chat_cache.put_many(
                session=session,
                entries=[
                    (r.cache_key("stand-in/judge"), "stand-in/judge", ChatResult("met"))
                    for r in calls
                ],
            )
        config = ProviderConfig(name="stand-in", base_url="http://127.0.0.1:9/v1")
        cached = CachedChatModel(OpenAIChatModel(config, "judge"), db)
        started = time.perf_counter()
        found = cached.prefetch(calls)
        prefetch_s = time.perf_counter() - started
        assert found == n

        async def hit(request: ChatRequest) -> str:
            return (await cached.complete(request)).text

        wall, cpu = await drive(calls, in_flight, hit)
        db.dispose()
    print(f"{'(cache prefetch)':22s} {n / prefetch_s:8.0f} answers/s read in bulk")
    return report("CachedChatModel hit", n, wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--in-flight", type=int, default=64)
    args = parser.parse_args()
    with FastChatServer(answer="met") as server:
        rows = asyncio.run(run_all(server, args.calls, args.in_flight))
        answered = server.calls()
    rows.append(asyncio.run(cached_hits(args.calls, args.in_flight)))
    expected = (args.calls + 2 * args.in_flight) * len(rows[:-1])
    assert answered == expected, f"the stand-in answered {answered} calls, expected {expected}"
    ours = dict((name, (rate, cpu)) for name, rate, cpu in rows)
    lean_rate, lean_cpu = ours["LeanChatModel"]
    rate, cpu = ours["OpenAIChatModel"]
    default_rate, default_cpu = ours["openai create httpx2"]
    aio_rate, aio_cpu = ours["aiohttp post"]
    print(
        f"provider: LeanChatModel {lean_rate:.0f} calls/s {lean_cpu:.0f} µs CPU/call "
        f"(OpenAIChatModel {rate:.0f}/s {cpu:.0f} µs, "
        f"openai's default create {default_rate:.0f}/s {default_cpu:.0f} µs, "
        f"bare aiohttp {aio_rate:.0f}/s {aio_cpu:.0f} µs; {args.in_flight} in flight)"
    )


if __name__ == "__main__":
    main()
