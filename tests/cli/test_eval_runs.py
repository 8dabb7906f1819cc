"""`assay eval run` in process against the test's database, a real worker pool running the
run's job and the OpenAI-protocol stand-in as the model and the judge: start, follow with
--wait to the summary; a user who does not own the set is refused."""

from __future__ import annotations

import json

from sqlalchemy import select

import assay.evaluation.jobs  # noqa: F401  (registers evaluation.run)
from assay.evaluation import models
from tests.evaluation.test_runs import answer, make_set
from tests.labeling.factories import actor_for
from tests.support.openai_server import ChatCompletionsServer


def test_eval_run_waits_with_progress_and_prints_the_summary(
    cli, pool, accounts, db, settings, monkeypatch
):
    monkeypatch.setenv("ASSAY_OUTBOUND_ALLOW", json.dumps(settings.outbound_allow))
    account = accounts.make("manager")
    owner = account.user.email
    set_id = make_set(db, actor_for(account), count=4)
    with ChatCompletionsServer(answer) as stand_in:
        added = cli("eval", "providers", "add", "stand-in", "--base-url", stand_in.base_url)
        assert added.exit_code == 0, added.output
        result = cli(
            "eval",
            "run",
            set_id,
            "--provider",
            "stand-in",
            "--model",
            "tiny",
            "--as",
            owner,
            "--scorer",
            "exact_match",
            "--judge-provider",
            "stand-in",
            "--judge-model",
            "judge",
            "--wait",
            "--interval",
            "0.05",
        )
        assert result.exit_code == 0, result.output
        assert stand_in.calls == 4 + 4 * 3
    assert "started evaluation run" in result.stdout and "succeeded" in result.stdout
    assert "4/4" in result.stderr  # the progress bar's last state
    summary = json.loads(result.stdout.split("succeeded", 1)[1])
    assert summary["results"] == 4
    assert summary["scores"]["exact_match"]["mean"] == 0.75
    with db.read() as session:
        (run,) = session.scalars(select(models.EvalRun)).all()
        assert run.status == "succeeded" and run.spec["judge"]["model"] == "judge"

    stranger = accounts.make("manager").user.email
    refused = cli(
        "eval", "run", set_id, "--provider", "stand-in", "--model", "tiny", "--as", stranger
    )
    assert refused.exit_code == 1 and "no evaluation set" in refused.stderr
