"""`client.eval_runs` against a real `assay serve` (its workers run the run's job) and the
OpenAI-protocol stand-in: start a run, wait for it, read its results filtered, and a stranger
refused."""

from __future__ import annotations

import json

import pytest

from assay.sdk import NotFound
from tests.evaluation.test_runs import answer
from tests.support.openai_server import ChatCompletionsServer

pytestmark = pytest.mark.live


def test_an_eval_run_through_the_sdk(connect, server, accounts):
    owner = connect(server.url, accounts.make("manager").key)
    eval_set = owner.eval_sets.create("sums")
    rows = [
        {
            "external_id": f"q{n}",
            "prompt": f"what is {n} plus {n}?",
            "reference": str(2 * n),
            "tags": ["odd" if n % 2 else "even"],
        }
        for n in range(5)
    ]
    lines = "\n".join(json.dumps(r) for r in rows).encode()
    owner.eval_sets.import_file(eval_set.id, lines, format="jsonl", timeout=60)
    with ChatCompletionsServer(answer) as stand_in:
        provider = owner.providers.create(name="stand-in", base_url=stand_in.base_url)
        run = owner.eval_runs.create(
            set_id=eval_set.id,
            provider_id=provider.id,
            model="tiny",
            scorers=[{"name": "exact_match"}],
            params={"concurrency": 2},
        )
        done = owner.eval_runs.wait(run.id, timeout=60, interval=0.1)
        assert stand_in.calls == 5
    assert done.status == "succeeded" and done.done_calls == 5
    assert done.summary["scores"]["exact_match"]["mean"] == pytest.approx(0.8)
    results = list(owner.eval_runs.results(run.id, page_size=2))
    assert [r.response for r in results] == ["0", "2", "4", "5", "8"]
    odd = list(owner.eval_runs.results(run.id, tag="odd", max_score=0.5))
    assert [r.response for r in odd] == ["5"]
    assert [r.id for r in owner.eval_runs.list()] == [run.id]
    stranger = connect(server.url, accounts.make("manager").key)
    with pytest.raises(NotFound):
        stranger.eval_runs.get(run.id)
    with pytest.raises(NotFound):
        next(stranger.eval_runs.results(run.id))
