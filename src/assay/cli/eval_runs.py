"""`assay eval run`: start an evaluation run of a model on a set's version, acting as one of
the set's owners (--as EMAIL), directly on the database; a worker (`assay serve` or
`assay worker`) runs it. `--wait` follows it with a progress bar (calls done of all, cost)
and prints its summary."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from assay.cli._common import database, err, explained, fail, out

AsOption = Annotated[
    str,
    typer.Option(
        "--as", envvar="ASSAY_USER", help="Act as this user (by email): an owner of the set."
    ),
]


def register(app: typer.Typer) -> None:
    """`assay eval run` under the `eval` group another module registered (or a new one)."""
    for group in app.registered_groups:
        if group.name == "eval" and group.typer_instance is not None:
            group.typer_instance.command("run")(run)
            return
    eval_app = typer.Typer(help="The evaluate pillar.", no_args_is_help=True)
    eval_app.command("run")(run)
    app.add_typer(eval_app, name="eval")


def _scorer(entry: str) -> dict[str, Any]:
    """`name` or `name:{"option": value}`."""
    name, _, options = entry.partition(":")
    try:
        return {"name": name, "options": json.loads(options) if options else {}}
    except ValueError:
        fail(
            f"--scorer {entry!r}: the options are not JSON", 'e.g. --scorer regex:{"pattern": "x"}'
        )


def run(
    set_id: Annotated[str, typer.Argument(help="The evaluation set's id.")],
    provider: Annotated[str, typer.Option(help="The provider's name (`assay eval providers`).")],
    model: Annotated[str, typer.Option(help="The provider's model to evaluate.")],
    as_user: AsOption,
    version: Annotated[
        int | None, typer.Option(help="The set's version (default: newest).")
    ] = None,
    scorer: Annotated[
        list[str] | None, typer.Option(help='A scorer: NAME or NAME:{"option": …} (repeat).')
    ] = None,
    judge_provider: Annotated[str | None, typer.Option(help="The rubric judge's provider.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="The rubric judge's model.")] = None,
    judge_mode: Annotated[str, typer.Option(help="explicit or implicit")] = "explicit",
    samples: Annotated[int, typer.Option(help="Answers per item.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Items in flight at once.")] = 16,
    temperature: Annotated[float | None, typer.Option()] = None,
    max_tokens: Annotated[int | None, typer.Option()] = None,
    system_prompt: Annotated[str | None, typer.Option()] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run to its end.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between looks, with --wait.")] = 0.5,
) -> None:
    """Start a run of MODEL on a set's items; print its id (and with --wait, its summary)."""
    from assay.cli.eval_sets import _actor
    from assay.evaluation import eval_sets, providers, runs
    from assay.evaluation.policies import runs as policy
    from assay.evaluation.run_schemas import RunCreate

    with explained(), database(writes=True) as db:
        with db.write() as session:
            actor = _actor(session, as_user)
            found = providers.get_provider_by_name(session=session, mode="live", name=provider)
            judge = None
            if judge_provider or judge_model:
                if not (judge_provider and judge_model):
                    fail("name both --judge-provider and --judge-model")
                judging = providers.get_provider_by_name(
                    session=session, mode="live", name=judge_provider
                )
                judge = {"provider_id": judging.id, "model": judge_model, "mode": judge_mode}
            run_in = RunCreate.model_validate(
                {
                    "set_id": set_id,
                    "set_version": version,
                    "provider_id": found.id,
                    "model": model,
                    "scorers": [_scorer(s) for s in scorer or []],
                    "judge": judge,
                    "params": {
                        "samples": samples,
                        "concurrency": concurrency,
                        "temperature": temperature,
                        "max_tokens": max_tokens,
                        "system_prompt": system_prompt,
                    },
                }
            )
            eval_set = eval_sets.get_eval_set(session=session, set_id=set_id, mode="live")
            owner = eval_sets.is_owner(session=session, eval_set=eval_set, user_id=actor.user_id)
            policy.can_create(actor, eval_set, found, owner=owner)
            created = runs.create_run(
                session=session, actor=actor, eval_set=eval_set, provider=found, run_in=run_in
            )
            run_id, total = created.id, created.total_calls
        out.print(f"started evaluation run {run_id} ({total} calls)")
        if wait:
            _follow(db, run_id, total, interval)


def _follow(db: Any, run_id: str, total: int, interval: float) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from assay.evaluation import models, runs

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("${task.fields[cost]:.4f} · {task.fields[errors]} errors"),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(run_id, total=total, cost=0.0, errors=0)
        while True:
            with db.read() as session:
                found = session.get(models.EvalRun, run_id)
                status, done = found.status, found.done_calls
                cost, errors = found.cost_usd, found.error_calls
                summary, error = found.summary, found.error
            bar.update(task, completed=done, cost=cost, errors=errors)
            if status in runs.TERMINAL:
                break
            time.sleep(interval)
    out.print(f"run {run_id} {status}")
    if error:
        fail(error)
    out.print(json.dumps(summary, indent=2, sort_keys=True))
    if status != "succeeded":
        raise typer.Exit(1)
