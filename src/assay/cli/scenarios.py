"""`assay scenarios`: a dataset's scenario tests, and `run` — evaluate a model against all of
them and exit nonzero when any fails, for CI pipelines. Directly on the database (as an
administrator, in the live sandbox); the evaluation is a job the server's workers (or
`assay worker`) run, followed with a progress bar."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli._common import database, err, explained, fail, id_column, out, print_table
from assay.cli.datasets import NO_SUCH_DATASET, _find, _system
from assay.cli.jobs import follow
from assay.core.errors import NotFound

scenarios_app = typer.Typer(help="Scenario tests: a slice and the metrics a model must reach.")
NO_SUCH_MODEL = "list models with the API (GET /api/v1/models) or the SDK"
RESULT = {
    "passed": "[green]PASS[/]",
    "failed": "[red]FAIL[/]",
    "error": "[red]ERROR[/]",
    "not_evaluated": "[yellow]NOT EVALUATED[/]",
    "no_criterion": "—",
    "undefined": "[yellow]UNDEFINED[/]",
}

DatasetOption = Annotated[str, typer.Option("--dataset", help="The dataset's id or name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]


def register(app: typer.Typer) -> None:
    app.add_typer(scenarios_app, name="scenarios")


def _model(session: Any, model: str) -> Any:
    """The live model with this id, else this reference id, else this name."""
    from sqlalchemy import or_, select

    from assay.curation import models

    found = session.get(models.Model, model)
    if found is not None and found.mode == "live":
        return found
    named = list(
        session.scalars(
            select(models.Model).where(
                models.Model.mode == "live",
                or_(models.Model.reference_id == model, models.Model.name == model),
            )
        )
    )
    by_reference = [m for m in named if m.reference_id == model]
    if by_reference:
        return by_reference[0]
    if len(named) > 1:
        fail(f"{len(named)} models are named {model!r}", "name it by its id or reference id")
    if not named:
        raise NotFound(f"no model with id, reference id or name {model!r}")
    return named[0]


def _metric_name(metric: Any) -> str:
    arguments = ", ".join(f"{k}={v}" for k, v in metric.arguments.items() if v is not None)
    return f"{metric.function}({arguments})"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _criterion(metric: Any) -> str:
    parts = []
    if metric.threshold is not None:
        parts.append(f"{metric.comparison} {metric.threshold:g}")
    if metric.baseline_value is not None:
        text = f"baseline {metric.baseline_value:.4f}"
        if metric.tolerance:
            text += f" {'-' if metric.comparison in ('>=', '>') else '+'} {metric.tolerance:g}"
        parts.append(text)
    return ", ".join(parts)


def print_run(table: Any) -> None:
    """A row per test and metric: value, what it had to meet, PASS / FAIL."""
    rows = Table("test", "metric", "value", "must meet", "result")
    for test in table.tests:
        for metric in test.metrics or []:
            note = f" ({metric.error})" if metric.error else ""
            rows.add_row(
                escape(test.name),
                escape(_metric_name(metric)),
                _number(metric.value),
                escape(_criterion(metric)),
                RESULT[metric.status] + escape(note),
            )
        if not test.metrics:
            rows.add_row(escape(test.name), "", "", "", RESULT[test.status])
    print_table(rows)


@scenarios_app.command("list")
def list_(dataset: DatasetOption, as_json: JsonOption = False) -> None:
    """The dataset's scenario tests with their metrics."""
    from assay.curation import scenarios
    from assay.curation.scenario_schemas import ScenarioMetric, ScenarioTest

    with explained({NotFound: NO_SUCH_DATASET}), database() as db, db.read() as session:
        found = _find(session, dataset)
        tests = scenarios.tests_of(session=session, dataset=found)
        metrics = scenarios.metrics_of(session=session, test_ids=[t.id for t in tests])
        rows = [
            ScenarioTest.model_validate(t).model_copy(
                update={"metrics": [ScenarioMetric.model_validate(m) for m in metrics[t.id]]}
            )
            for t in tests
        ]
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    if not rows:
        out.print("no scenario tests in this dataset")
        return
    table = Table(id_column(), "name", "slice", "metrics", "baseline")
    for test in rows:
        criteria = [
            _metric_name(m)
            + (f" {m.comparison} {m.threshold:g}" if m.threshold is not None else "")
            for m in test.metrics
        ]
        table.add_row(
            test.id,
            escape(test.name),
            test.slice_id,
            escape("; ".join(criteria)),
            test.baseline_model_id or "",
        )
    print_table(table)


@scenarios_app.command("run")
def run(
    model: Annotated[str, typer.Option("--model", help="The model's id, reference id or name.")],
    dataset: DatasetOption,
    interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between progress checks.")
    ] = 0.5,
    as_json: JsonOption = False,
) -> None:
    """Evaluate the model on the dataset, then print every scenario test's metrics with
    their values, thresholds and baselines and PASS / FAIL; exits 1 when any test fails."""
    from assay.curation import scenario_results, scenarios

    with (
        explained({NotFound: f"{NO_SUCH_DATASET}; {NO_SUCH_MODEL}"}),
        database(writes=True) as db,
        db.write() as session,
    ):
        found = _find(session, dataset)
        chosen = _model(session, model)
        evaluation = scenarios.start_run(
            session=session, dataset=found, model=chosen, actor=_system()
        )
        dataset_id, evaluation_id, job_id = found.id, evaluation.id, evaluation.job_id
        name = chosen.name
    err.print(f"evaluating {escape(name)} on {dataset_id}: job {job_id}", highlight=False)
    follow(job_id, interval=interval)
    with database() as db, db.read() as session:
        found = _find(session, dataset_id)
        table = scenario_results.run_table(
            session=session,
            dataset=found,
            evaluation=scenarios.get_run(
                session=session, dataset=found, evaluation_id=evaluation_id
            ),
        )
    if as_json:
        typer.echo(json.dumps(table.model_dump(mode="json"), indent=2))
    else:
        print_run(table)
    failing = [t for t in table.tests if t.status != "passed"]
    if failing:
        fail(
            f"{len(failing)} of {len(table.tests)} scenario tests did not pass: "
            + ", ".join(t.name for t in failing)
        )
    out.print(f"all {len(table.tests)} scenario tests passed")
