"""`assay demo`: a ready-to-use server with an admin account and an API key, in one command."""

from __future__ import annotations

import errno
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from assay.cli._common import err, out
from assay.cli.main import DataDir, load_settings, serve
from assay.core.settings import Settings

DEMO_EMAIL = "admin@assay.local"
CREDENTIALS_FILE = "demo-credentials.json"


@dataclass(frozen=True)
class DemoCredentials:
    email: str
    password: str
    api_key: str
    path: Path
    # The demo labeling project (None without the demo extra's sample images).
    project_id: str | None = None
    # The quality-lab project: training course, gold tasks, labelers' dashboards.
    quality_project_id: str | None = None
    dataset_id: str | None = None


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve Assay with a demo admin and API key (created on first run, reused after)."""
    refuse_taken_port(host, port)
    credentials = seed_demo(load_settings(data_dir))
    refuse_taken_port(host, port)  # seeding takes a while: still free before the box says so
    shown_host = "localhost" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host}:{port}"
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("URL", url)
    if credentials.project_id:
        grid.add_row("Label now", f"{url}/label/{credentials.project_id}")
    if credentials.quality_project_id:
        grid.add_row("Quality lab", f"{url}/projects/{credentials.quality_project_id}")
    if credentials.dataset_id:
        grid.add_row("Curate", f"{url}/datasets/{credentials.dataset_id}")
    grid.add_row("Email", credentials.email)
    grid.add_row("Password", credentials.password)
    grid.add_row("API key", credentials.api_key)
    grid.add_row("", "")
    grid.add_row("Saved in", escape(f"{credentials.path} (readable only by you)"))
    out.print(Panel(grid, title="Assay demo", expand=False))
    # Outside the box so it stays on one line and can be copied as is.
    out.print(
        f'try: curl -H "Authorization: Bearer {credentials.api_key}" {url}/api/v1/me',
        highlight=False,
    )
    serve(host=host, port=port, data_dir=data_dir, workers=None)


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, or None when it can (bound as uvicorn
    binds, with SO_REUSEADDR, so a port in TIME_WAIT counts as free)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"{host} is not an address this machine can listen on ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use"
            return f"cannot listen on {host}:{port} ({exc.strerror})"
    return None


def refuse_taken_port(host: str, port: int) -> None:
    """Stop with what to do instead when the demo could not listen where it was asked."""
    problem = port_problem(host, port)
    if problem is None:
        return
    err.print(
        f"[red]error:[/] {escape(problem)}: another Assay or another program is listening "
        "there.\nStop it, or choose another port: "
        f"[bold]assay demo --port {port + 1}[/] (or [bold]make demo PORT={port + 1}[/]).",
        highlight=False,
    )
    raise typer.Exit(code=1)


def seed_demo(settings: Settings) -> DemoCredentials:
    """Make sure the demo admin and a live key exist; reuse what an earlier run stored."""
    from assay.core import keys, migrate, schemas, users
    from assay.core.auth import verify_password
    from assay.core.db import Database
    from assay.core.errors import NotFound, Unauthorized

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / CREDENTIALS_FILE
    saved = _read(path)
    db = Database(settings.resolved_database_url)
    try:
        migrate.upgrade(db)
        with db.write() as session:
            try:
                user = users.get_user_by_email(session=session, email=DEMO_EMAIL)
            except NotFound:
                user = None
            password = saved.get("password")
            if user is None:
                password = secrets.token_urlsafe(12)
                user = users.create_user(
                    session=session,
                    user_in=schemas.UserCreate(
                        email=DEMO_EMAIL, name="Demo admin", role="admin", password=password
                    ),
                )
            elif not (isinstance(password, str) and verify_password(user.password_hash, password)):
                # The stored credentials are gone or stale: give the demo admin a new password
                # rather than leave a demo nobody can sign in to.
                password = secrets.token_urlsafe(12)
                users.set_password(session=session, user=user, password=password)
            api_key = saved.get("api_key")
            try:
                actor = keys.resolve_key(session=session, raw_key=str(api_key))
                usable = actor.user_id == user.id and actor.mode == "live"
            except Unauthorized:
                usable = False
            if not usable:
                _, api_key = keys.create_key(session=session, user=user, mode="live", name="demo")
        project_id, quality_project_id = _seed_content(db, settings, user.id)
        dataset_id = _seed_dataset(db, settings, user.id)
        credentials = DemoCredentials(
            DEMO_EMAIL, password, str(api_key), path, project_id, quality_project_id, dataset_id
        )
        if saved != {"email": DEMO_EMAIL, "password": password, "api_key": api_key}:
            _write(path, {"email": DEMO_EMAIL, "password": password, "api_key": api_key})
        return credentials
    finally:
        db.dispose()


def _seed_content(db: Any, settings: Settings, admin_id: str) -> tuple[str | None, str | None]:
    """The demo workspace's projects (once; later runs find them and change nothing): the
    labeling project's id and the quality-lab project's."""
    from assay.core.auth import Actor
    from assay.core.blobs import open_store
    from assay.labeling import demo_data, demo_quality

    actor = Actor(user_id=admin_id, email=DEMO_EMAIL, role="admin")
    try:
        with db.write() as session:
            project = demo_data.seed_all(
                session=session, store=open_store(settings), settings=settings, actor=actor
            )
    except ModuleNotFoundError as exc:
        out.print(
            f"[yellow]no demo projects:[/] {exc.name} is not installed; "
            "install the demo extra: pip install 'assay[demo]'"
        )
        return None, None
    quality_id = project.quality_project_id
    if quality_id and demo_quality.needs_history(db, quality_id):
        with out.status("Simulating three labelers in the quality-lab project…"):
            demo_quality.simulate(db=db, settings=settings, project_id=quality_id)
    return project.project_id, project.quality_project_id


def _seed_dataset(db: Any, settings: Settings, admin_id: str) -> str | None:
    """The demo's curation dataset (once): sample photographs with ground truth, two
    detectors' predictions, embeddings, slices and an autotag."""
    from assay.core.auth import Actor
    from assay.core.blobs import open_store

    try:
        from assay.curation import demo_data as curation_demo
    except ModuleNotFoundError:  # pragma: no cover - the core install has what it needs
        return None
    actor = Actor(user_id=admin_id, email=DEMO_EMAIL, role="admin")
    try:
        with (
            out.status("Building the curation dataset (tiles, detectors, embeddings)…"),
            db.write() as session,
        ):
            found = curation_demo.seed(
                session=session, store=open_store(settings), settings=settings, actor=actor
            )
    except ModuleNotFoundError as exc:
        out.print(
            f"[yellow]no demo dataset:[/] {exc.name} is not installed; "
            "install the demo extra: pip install 'assay[demo]'"
        )
        return None
    return found.dataset_id


def _read(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write(path: Path, value: dict[str, Any]) -> None:
    """Atomically, readable by the owner only: it holds a password and an API key."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
