"""The `assay` command. One module per noun; server commands live here."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from assay.core import logs
from assay.core.settings import Settings, get_settings

app = typer.Typer(
    name="assay",
    help="Assay: a self-hosted data engine for labeling, curation and evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
err = Console(stderr=True, soft_wrap=True)  # paths and URLs stay whole

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="ASSAY_DATA_DIR",
        help="Where the database, blobs and logs live (default: ./.assay-demo when the demo "
        "made it in this directory, else ~/.assay).",
    ),
]


# Where `make demo` keeps its data, relative to the directory it was run in.
DEMO_DATA_DIR = Path(".assay-demo")
DEMO_MARKER = "demo-credentials.json"


def demo_data_dir() -> Path | None:
    """The demo's data directory in the current directory, when nothing else was chosen
    (no --data-dir, ASSAY_DATA_DIR or ASSAY_DATABASE_URL): after `make demo`, `assay users
    list` in the same directory reads the demo's database, not an empty ~/.assay."""
    if "ASSAY_DATA_DIR" in os.environ or "ASSAY_DATABASE_URL" in os.environ:
        return None
    return DEMO_DATA_DIR if (DEMO_DATA_DIR / DEMO_MARKER).is_file() else None


def load_settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment, with CLI overrides; exits with a readable message."""
    if data_dir is None and (data_dir := demo_data_dir()) is not None:
        err.print(
            f"using the demo's data directory {data_dir.resolve()} (found here; "
            "--data-dir or ASSAY_DATA_DIR choose another)"
        )
    if data_dir is not None:
        os.environ["ASSAY_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            err.print(f"[red]error:[/] {where}: {error['msg']}")
        raise typer.Exit(2) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Job worker threads per process (0: run `assay worker` separately)."),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="ASSAY_PROCESSES",
            help="Server processes sharing the port (use the machine's cores; they keep no "
            "state of their own, on SQLite as on PostgreSQL).",
        ),
    ] = 1,
) -> None:
    """Serve the API, the UI and background workers (migrates the database first)."""
    import uvicorn

    from assay.api.app import create_app

    if workers is not None:
        os.environ["ASSAY_WORKERS"] = str(workers)
    settings = load_settings(data_dir)
    try:
        settings.refuse_default_secret_beyond_loopback(host)
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    logs.configure(fmt=settings.log_format, level=settings.log_level)
    err.print(
        f"Assay on [bold]http://{host}:{port}[/]  (data: {settings.data_dir}"
        + (f", {processes} processes)" if processes > 1 else ")")
    )
    options = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if processes == 1:
        uvicorn.run(create_app(settings), **options)
        return
    from assay.core import migrate
    from assay.core.db import Database

    database = Database(settings.resolved_database_url)
    migrate.upgrade(database)
    database.dispose()
    uvicorn.run("assay.api.app:app_from_environment", factory=True, workers=processes, **options)


@app.command()
def worker(
    data_dir: DataDir = None,
    threads: Annotated[int, typer.Option(help="Jobs run at once by this process.")] = 2,
) -> None:
    """Run background jobs in this process (as many processes as you like, on any host)."""
    from assay import pillars
    from assay.api.app import build_context
    from assay.core import migrate
    from assay.core.worker import WorkerPool

    settings = load_settings(data_dir)
    logs.configure(fmt=settings.log_format, level=settings.log_level)
    pillars.load(settings)
    ctx = build_context(settings)
    migrate.upgrade(ctx.db)
    pool = WorkerPool(ctx, threads=threads, name="worker")

    def _stop(_signum: int, _frame: object) -> None:
        logging.getLogger("assay.worker").info("stopping: finishing running jobs")
        pool.stop(timeout=30)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    pool.start()
    err.print(f"worker {pool.prefix} running {threads} thread(s); Ctrl-C to stop")
    pool.wait()


@db_app.command("upgrade")
def db_upgrade(
    data_dir: DataDir = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (also done automatically by `assay serve`)."""
    from assay.cli._common import describe
    from assay.core import migrate
    from assay.core.db import Database

    settings = load_settings(data_dir)
    db = Database(settings.resolved_database_url)
    where = describe(db.engine.url)
    try:
        migrate.upgrade(db, revision)
        current, head = migrate.revision_status(db)
    except Exception as exc:
        err.print(f"[red]error:[/] could not migrate {escape(where)}: {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"database {where} at revision {current} (head {head})")


def _register_subcommands() -> None:
    """Noun modules add their own command groups."""
    from assay.cli import (
        datasets,
        demo,
        eval_runs,
        eval_sets,
        jobs,
        keys,
        providers,
        scenarios,
        users,
    )

    for module in (users, keys, jobs, datasets, scenarios, providers, eval_sets, eval_runs, demo):
        module.register(app)


_register_subcommands()
