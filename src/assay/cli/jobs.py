"""`assay jobs`: list, inspect, cancel and watch background jobs, directly on the database."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from assay.cli._common import (
    database,
    every_page,
    explained,
    fail,
    id_column,
    out,
    print_json,
    print_table,
    time_column,
    when,
)
from assay.core import schemas
from assay.core.errors import Conflict, NotFound

jobs_app = typer.Typer(help="Background jobs. `assay jobs` alone lists them.")
NO_SUCH_JOB = "list jobs with `assay jobs list`"
TERMINAL = ("succeeded", "failed", "cancelled")
STATUS_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
}


class Status(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


StatusOption = Annotated[Status | None, typer.Option(help="Only jobs in this state.")]
KindOption = Annotated[str | None, typer.Option(help="Only jobs of this kind.")]
LimitOption = Annotated[int, typer.Option(min=1, help="Show at most this many, newest first.")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]
JobId = Annotated[str, typer.Argument(help="The job's id.")]


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")


@jobs_app.callback(invoke_without_command=True)
def jobs_default(
    ctx: typer.Context,
    status: StatusOption = None,
    kind: KindOption = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """Background jobs. Without a subcommand: list them."""
    if ctx.invoked_subcommand is None:
        list_(status=status, kind=kind, limit=limit, as_json=as_json)


@jobs_app.command("list")
def list_(
    status: StatusOption = None,
    kind: KindOption = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """Jobs, newest first."""
    from assay.core import jobs

    with database() as db, db.read() as session:
        page = jobs.list_jobs(
            session=session,
            cursor=None,
            limit=limit,
            status=status.value if status else None,
            kind=kind,
        )
        rows = [schemas.Job.model_validate(job) for job in page.items]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no jobs" + (" match" if status or kind else " yet"))
        return
    table = Table(
        id_column(), "kind", "status", "progress", "attempts", time_column("created"), "error"
    )
    for job in rows:
        last_error_line = job.error.strip().splitlines()[-1][:60] if job.error else ""
        table.add_row(
            job.id,
            escape(job.kind),
            _status(job.status),
            f"{job.progress:.0%}",
            f"{job.attempts}/{job.max_attempts}",
            when(job.created_at),
            escape(last_error_line),
        )
    print_table(table)
    if page.next_cursor:
        out.print(f"showing the newest {limit}; --limit N for more")


@jobs_app.command("show")
def show(job_id: JobId, as_json: JsonOption = False) -> None:
    """One job with its logs."""
    from assay.core import jobs

    with explained({NotFound: NO_SUCH_JOB}), database() as db, db.read() as session:
        job = schemas.Job.model_validate(jobs.get_job(session=session, job_id=job_id))
        logs = every_page(
            lambda cursor: jobs.list_logs(
                session=session, job_id=job_id, cursor=cursor, limit=1000
            ),
            schemas.JobLog,
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "job": job.model_dump(mode="json"),
                    "logs": [line.model_dump(mode="json") for line in logs],
                },
                indent=2,
            )
        )
        return
    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold")
    details.add_column()
    progress = f"{job.progress:.0%}" + (f"  {job.progress_message}" if job.progress_message else "")
    for label, value in [
        ("id", job.id),
        ("kind", job.kind),
        ("status", _status(job.status)),
        ("progress", progress),
        ("attempts", f"{job.attempts} of {job.max_attempts}"),
        ("mode", job.mode),
        ("created by", job.created_by or "system"),
        ("created", when(job.created_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("payload", json.dumps(job.payload)),
        ("result", json.dumps(job.result) if job.result is not None else ""),
        ("error", job.error or ""),
    ]:
        details.add_row(label, value if label == "status" else escape(value))
    print_table(details)
    table = Table("time", "attempt", "level", "message", title="logs", title_justify="left")
    for line in logs:
        table.add_row(when(line.created_at), str(line.attempt), line.level, escape(line.message))
    print_table(table)


@jobs_app.command("cancel")
def cancel(job_id: JobId) -> None:
    """Cancel a job: a queued one stops at once, a running one at its next checkpoint."""
    from assay.core import jobs

    with explained({NotFound: NO_SUCH_JOB}), database(writes=True) as db, db.write() as session:
        job = jobs.get_job(session=session, job_id=job_id)
        try:
            status = jobs.cancel_job(session=session, job=job).status
        except Conflict as exc:
            fail(exc.message, f"see what happened with `assay jobs show {job_id}`")
    if status == "cancelled":
        out.print(f"cancelled job {job_id}")
    else:
        out.print(
            f"asked job {job_id} to stop; it stops at its next checkpoint "
            f"(`assay jobs watch {job_id}`)"
        )


@jobs_app.command("watch")
def watch(
    job_id: JobId,
    interval: Annotated[float, typer.Option(min=0.01, help="Seconds between checks.")] = 0.5,
) -> None:
    """Show a progress bar until the job ends; exits nonzero unless it succeeded."""
    follow(job_id, interval=interval)


def follow(job_id: str, *, interval: float = 0.5) -> schemas.Job:
    """A progress bar until the job ends; exits nonzero unless it succeeded (`assay jobs
    watch`, and the commands that start a job and wait for it)."""
    from assay.core import jobs

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}"),
    )
    with explained({NotFound: NO_SUCH_JOB}), database() as db:
        try:
            with Progress(*columns, console=out) as bar:
                task = bar.add_task(job_id, total=1.0, message="")
                while True:
                    with db.read() as session:
                        job = schemas.Job.model_validate(
                            jobs.get_job(session=session, job_id=job_id)
                        )
                    bar.update(
                        task,
                        completed=job.progress,
                        description=escape(f"{job.kind} {job.status}"),
                        message=escape(job.progress_message),
                    )
                    if job.status in TERMINAL:
                        break
                    time.sleep(interval)
        except KeyboardInterrupt:
            fail(
                "stopped watching; the job goes on",
                f"`assay jobs watch {job_id}` to resume",
                code=130,
            )
    out.print(f"job {job.id} {_status(job.status)}")
    if job.status != "succeeded":
        fail(
            f"job {job.id} {job.status}" + (f": {job.error}" if job.error else ""),
            f"details: `assay jobs show {job.id}`",
        )
    return job


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"
