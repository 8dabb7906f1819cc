"""Judges and the grading service through the SDK against a real `assay serve` at DEBUG
level: a judge made and versioned, a probe report run by the server's worker flagging a
gullible judge, a batch graded then answered from the cache, drift flags — and the
provider's key in no answer and nowhere in the server's log."""

from __future__ import annotations

import pytest

from assay.sdk import Conflict, NotFound
from tests.api.test_judges import CASES, FACTS, GAMED
from tests.support.judge_rules import gullible, honest
from tests.support.openai_server import ChatCompletionsServer

pytestmark = pytest.mark.live
KEY = "sk-judges-live-never-shown-9z8y"


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    """The module's `assay serve` (tests/conftest.py) logs at DEBUG: the key must not show."""
    return {"ASSAY_LOG_LEVEL": "DEBUG"}


def test_judges_and_grading_through_the_sdk(connect, server, accounts):
    client = connect(server.url, accounts.make("manager").key)

    def answer(request):
        return (gullible if request["model"] == "gullible" else honest)(FACTS)(request)

    with ChatCompletionsServer(answer) as llm:
        provider = client.providers.create(name="llm", base_url=llm.base_url, api_key=KEY)
        fooled = client.judges.create(name="gullible", provider_id=provider.id, model="gullible")
        fair = client.judges.create(name="honest", provider_id=provider.id, model="honest")
        with pytest.raises(Conflict):
            client.judges.create(name="honest", provider_id=provider.id, model="honest")
        prompt = client.judges.add_prompt(fair.id, name="v2", system="Grade carefully.")
        assert prompt.number == 2 and client.judges.get(fair.id).version.startswith("v2@")
        assert [p.number for p in client.judges.prompts(fair.id)] == [1, 2]

        report = client.judges.probe(fooled.id, CASES, max_edits=1, rewording=False)
        assert report.flagged is True and set(report.flagged_probes) == GAMED
        assert client.judges.get(fooled.id).flagged is True
        passed = client.judges.probe(fair.id, CASES, max_edits=1, rewording=False)
        assert passed.flagged is False and not client.judges.get(fair.id).flagged
        assert [r.id for r in client.judges.probe_reports(fair.id)] == [passed.id]

        items = [
            {"conversation": c["conversation"], "response": c["reference"], "rubric": c["rubric"]}
            for c in CASES
        ]
        graded = client.grading.grade(fair.id, items)
        assert [i.reward for i in graded.items] == [1.0, 1.0]
        calls = llm.calls
        again = client.grading.grade(fair.id, items)
        assert llm.calls == calls and again.cache_hits == 5 and again.calls == 0
        assert {r.headers["authorization"] for r in llm.requests} == {f"Bearer {KEY}"}
    drift = client.judges.drift(
        fair.id,
        [
            {"name": "a", "rubric_score": 0.5, "independent_score": 0.6},
            {"name": "b", "rubric_score": 0.7, "independent_score": 0.4},
        ],
    )
    assert drift.drifting and drift.steps[0].start == "a"
    with pytest.raises(NotFound):
        client.judges.get("nope")
    shown = [fooled, fair, report, passed, graded, again, *client.judges.list()]
    assert all(KEY not in repr(x) for x in shown)
    assert "DEBUG" in server.output() and KEY not in server.output()
