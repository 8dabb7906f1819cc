"""Model providers through the SDK against a real `assay serve` at DEBUG level: added,
listed, checked against an OpenAI-protocol server on loopback, changed and deleted; the key
reaches the provider and appears in no answer and nowhere in the server's log."""

from __future__ import annotations

import pytest

from assay.sdk import Conflict, NotFound
from tests.support.openai_server import ChatCompletionsServer

pytestmark = pytest.mark.live
KEY = "sk-provider-live-never-shown-1a2b3c"


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    """The module's `assay serve` (tests/conftest.py) logs at DEBUG: the key must not show."""
    return {"ASSAY_LOG_LEVEL": "DEBUG"}


def test_providers_through_the_sdk(connect, server, accounts):
    client = connect(server.url, accounts.make("manager").key)
    with ChatCompletionsServer(lambda request: "OK") as llm:
        provider = client.providers.create(
            name="vllm",
            base_url=llm.base_url,
            api_key=KEY,
            max_concurrency=4,
            prices={"tiny": {"input": 1.0, "output": 2.0}},
        )
        assert provider.has_api_key and provider.max_concurrency == 4
        assert provider.transport == "openai"
        assert [p.id for p in client.providers.list()] == [provider.id]
        checked = client.providers.check(provider.id, model="tiny")
        assert checked.ok and checked.latency_ms is not None and checked.latency_ms > 0
        llm.fail(401)
        refused = client.providers.check(provider.id, model="tiny")
        assert (refused.ok, refused.status_code) == (False, 401)
        assert refused.error == "vllm/tiny: HTTP 401: scripted 401"
        assert client.providers.update(provider.id, transport="lean").transport == "lean"
        llm.fail(401)
        assert client.providers.check(provider.id, model="tiny").error == refused.error
        assert {r.headers["authorization"] for r in llm.requests} == {f"Bearer {KEY}"}
    with pytest.raises(Conflict):
        client.providers.create(name="vllm", base_url="http://127.0.0.1:9/v1")
    changed = client.providers.update(provider.id, api_key="", requests_per_minute=60)
    assert not changed.has_api_key and changed.requests_per_minute == 60
    assert (
        client.providers.update(provider.id, requests_per_minute=None).requests_per_minute is None
    )
    assert all(KEY not in repr(p) for p in [provider, changed, *client.providers.list()])
    client.providers.delete(provider.id)
    with pytest.raises(NotFound):
        client.providers.get(provider.id)
    assert "DEBUG" in server.output() and KEY not in server.output()
