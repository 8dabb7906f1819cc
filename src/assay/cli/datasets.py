"""`assay datasets`: list, create, import a file into, and delete curation datasets, directly
on the database (as an administrator, in the live sandbox). Imports and deletes are jobs run
by the server's workers (or `assay worker`); the commands follow them with a progress bar."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
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
from assay.cli.jobs import follow
from assay.core.errors import NotFound

datasets_app = typer.Typer(help="Curation datasets. `assay datasets` alone lists them.")
NO_SUCH_DATASET = "list datasets with `assay datasets list`"
# The file formats a name's suffix implies; archives hold plain images or a YOLO dataset.
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".json": "coco"}


class Format(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    coco = "coco"
    yolo = "yolo"
    images = "images"


DatasetArg = Annotated[str, typer.Argument(help="The dataset's id or name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]
WaitOption = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Follow the job with a progress bar.")
]
IntervalOption = Annotated[float, typer.Option(min=0.01, help="Seconds between progress checks.")]


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")


def _system() -> Any:
    from assay.core.auth import SYSTEM

    return SYSTEM


@datasets_app.callback(invoke_without_command=True)
def datasets_default(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Curation datasets. Without a subcommand: list them."""
    if ctx.invoked_subcommand is None:
        list_(as_json=as_json)


@datasets_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Datasets, newest first, with their counts."""
    from assay.curation import datasets, schemas

    with database() as db, db.read() as session:
        rows = every_page(
            lambda cursor: datasets.list_datasets(
                session=session, mode="live", cursor=cursor, limit=1000
            ),
            schemas.Dataset,
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no datasets yet; `assay datasets create NAME` makes one")
        return
    table = Table(id_column(), "name", "items", "annotations", time_column("created"))
    for dataset in rows:
        table.add_row(
            dataset.id,
            escape(dataset.name),
            str(dataset.item_count),
            str(dataset.annotation_count),
            when(dataset.created_at),
        )
    print_table(table)


@datasets_app.command("create")
def create(name: Annotated[str, typer.Argument(help="The dataset's name.")]) -> None:
    """An empty dataset; prints its id."""
    from assay.curation import datasets

    with explained(), database(writes=True) as db, db.write() as session:
        dataset_id = datasets.create_dataset(
            session=session, mode="live", name=name, created_by=None
        ).id
    out.print(f"created dataset {dataset_id}")


@datasets_app.command("import")
def import_(
    dataset: DatasetArg,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file.")
    ],
    file_format: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="jsonl, csv, coco (a JSON file), or for a zip or tar archive: images (one "
            "item per image) or yolo. Default: from the file's suffix.",
        ),
    ] = None,
    wait: WaitOption = True,
    interval: IntervalOption = 0.5,
) -> None:
    """Store the file and append its items as an import job, following its progress (the
    server's workers, or `assay worker`, run it)."""
    from assay.cli.main import load_settings
    from assay.core import blobs
    from assay.curation import imports

    chosen = file_format.value if file_format else _BY_SUFFIX.get(file.suffix.lower())
    if chosen is None:
        fail(
            f"cannot tell the format of {file.name}",
            "say --format images or --format yolo for an archive, or jsonl, csv, coco",
        )
    settings = load_settings()
    with explained({NotFound: NO_SUCH_DATASET}), database(writes=True) as db:
        with db.read() as session:
            dataset_id = _find(session, dataset).id
        with file.open("rb") as stream, db.write() as session:
            blob = blobs.store_upload(
                session=session,
                store=blobs.open_store(settings),
                stream=stream,
                filename=file.name,
                declared_type=None,
                actor=_system(),
                limit=settings.max_upload_bytes,
            )
            job_id = imports.start_import(
                session=session,
                dataset=_find(session, dataset_id),
                actor=_system(),
                file_format=chosen,
                sha256=blob.sha256,
            ).id
    out.print(f"importing {escape(file.name)} as {chosen}: job {job_id}")
    if not wait:
        out.print(f"follow it with `assay jobs watch {job_id}`")
        return
    job = follow(job_id, interval=interval)
    out.print(json.dumps(job.result))


@datasets_app.command("delete")
def delete(dataset: DatasetArg, wait: WaitOption = True, interval: IntervalOption = 0.5) -> None:
    """Delete a dataset with its items: gone from lists at once, its rows by a job."""
    import assay.curation.jobs  # noqa: F401  (the delete job's kind)
    from assay.curation import datasets

    with (
        explained({NotFound: NO_SUCH_DATASET}),
        database(writes=True) as db,
        db.write() as session,
    ):
        found = _find(session, dataset)
        name = found.name
        job_id = datasets.delete_dataset(session=session, dataset=found, actor=_system()).id
    out.print(f"deleting dataset {escape(name)}: job {job_id}")
    if wait:
        follow(job_id, interval=interval)


def _find(session: Any, dataset: str) -> Any:
    """The live dataset with this id, else the one with this name (NotFound, or a failure
    when several share it)."""
    from sqlalchemy import select

    from assay.curation import datasets, models

    try:
        return datasets.get_dataset(session=session, dataset_id=dataset, mode="live")
    except NotFound:
        named = list(
            session.scalars(
                select(models.Dataset).where(
                    models.Dataset.name == dataset,
                    models.Dataset.mode == "live",
                    models.Dataset.deleting.is_(False),
                )
            )
        )
        if len(named) > 1:
            fail(
                f"{len(named)} datasets are named {dataset!r}",
                "name it by its id (`assay datasets list`)",
            )
        if not named:
            raise NotFound(f"no dataset with id or name {dataset!r}") from None
        return named[0]
