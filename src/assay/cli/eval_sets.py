"""`assay eval sets`: create, list, import a file into and export private evaluation sets,
directly on the database, as a named user (`--as EMAIL`): a set's items are its owners', so
the command acts as one of them, under the same policies as the API, and its reads are
logged like the API's. Imports are jobs run by the server's workers (or `assay worker`);
the command follows them with a progress bar."""

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

eval_app = typer.Typer(help="Evaluation: private evaluation sets.", no_args_is_help=True)
sets_app = typer.Typer(help="Private evaluation sets, acting as one of their owners (--as EMAIL).")
eval_app.add_typer(sets_app, name="sets")
NO_SUCH_SET = "list your sets with `assay eval sets list --as EMAIL`"
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


class Format(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


AsOption = Annotated[
    str,
    typer.Option(
        "--as", envvar="ASSAY_USER", help="Act as this user (by email): sets are their owners'."
    ),
]
SetArg = Annotated[str, typer.Argument(help="The evaluation set's id.")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]


def register(app: typer.Typer) -> None:
    """`assay eval sets`: under the `eval` group another module registered, if there is one
    (the evaluate pillar's commands share it), else under a new one."""
    for group in app.registered_groups:
        if group.name == "eval" and group.typer_instance is not None:
            group.typer_instance.add_typer(sets_app, name="sets")
            return
    app.add_typer(eval_app, name="eval")


def _actor(session: Any, email: str) -> Any:
    from assay.core import users
    from assay.core.auth import Actor

    try:
        user = users.get_user_by_email(session=session, email=email)
    except NotFound:
        fail(f"no user {email}", "list users with `assay users list`")
    return Actor(user_id=user.id, email=user.email, role=user.role)


def _loaded(session: Any, set_id: str, actor: Any) -> tuple[Any, bool]:
    from assay.evaluation import eval_sets

    eval_set = eval_sets.get_eval_set(session=session, set_id=set_id, mode="live")
    return eval_set, eval_sets.is_owner(session=session, eval_set=eval_set, user_id=actor.user_id)


@sets_app.callback(invoke_without_command=True)
def sets_default(ctx: typer.Context) -> None:
    """Private evaluation sets."""
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())


@sets_app.command("list")
def list_(as_user: AsOption, as_json: JsonOption = False) -> None:
    """Your sets (and sets with a public teaser), with their newest version."""
    from assay.evaluation import eval_sets

    with explained(), database() as db, db.read() as session:
        actor = _actor(session, as_user)
        rows, cursor = [], None
        while True:
            page = eval_sets.list_eval_sets(session=session, actor=actor, cursor=cursor, limit=1000)
            rows += [
                eval_sets.describe_eval_set(
                    session=session,
                    eval_set=found,
                    owner=eval_sets.is_owner(
                        session=session, eval_set=found, user_id=actor.user_id
                    ),
                )
                for found in page.items
            ]
            if not (cursor := page.next_cursor):
                break
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no evaluation sets yet; `assay eval sets create NAME --as EMAIL` makes one")
        return
    table = Table(id_column(), "name", "version", "sealed", time_column("created"))
    for row in rows:
        table.add_row(
            row.id,
            escape(row.name),
            str(row.version),
            "yes" if row.sealed else "",
            when(row.created_at),
        )
    print_table(table)


@sets_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The set's name.")],
    as_user: AsOption,
    sealed: Annotated[
        bool, typer.Option("--sealed", help="Its items never leave the server.")
    ] = False,
) -> None:
    """A private set owned by the user; prints its id."""
    from assay.evaluation import eval_sets
    from assay.evaluation.eval_set_schemas import EvalSetCreate
    from assay.evaluation.policies import eval_sets as policy

    with explained(), database(writes=True) as db, db.write() as session:
        actor = _actor(session, as_user)
        policy.can_create(actor)
        set_id = eval_sets.create_eval_set(
            session=session, actor=actor, set_in=EvalSetCreate(name=name, sealed=sealed)
        ).id
    out.print(f"created evaluation set {set_id}")


@sets_app.command("import")
def import_(
    eval_set: SetArg,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file.")
    ],
    as_user: AsOption,
    file_format: Annotated[
        Format | None, typer.Option("--format", help="Default: from the file's suffix.")
    ] = None,
    message: Annotated[str, typer.Option(help="What this version changes.")] = "",
    replace: Annotated[
        bool, typer.Option("--replace", help="Retire the items the file does not name.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the job.")] = True,
    interval: Annotated[float, typer.Option(min=0.01, help="Seconds between checks.")] = 0.5,
) -> None:
    """Import a JSONL, CSV or Parquet file as the set's next version (a job)."""
    import assay.evaluation.jobs  # noqa: F401  (the import job's kind)
    from assay.evaluation import eval_set_imports
    from assay.evaluation.eval_set_schemas import EvalSetImport
    from assay.evaluation.policies import eval_sets as policy

    chosen = file_format.value if file_format else _BY_SUFFIX.get(file.suffix.lower())
    if chosen is None:
        fail(f"cannot tell the format of {file.name}", "say --format jsonl, csv or parquet")
    with explained({NotFound: NO_SUCH_SET}), database(writes=True) as db, db.write() as session:
        actor = _actor(session, as_user)
        found, owner = _loaded(session, eval_set, actor)
        policy.can_write(actor, found, owner=owner)
        job_id = eval_set_imports.start_import(
            session=session,
            eval_set=found,
            actor=actor,
            data=file.read_bytes(),
            import_in=EvalSetImport(format=chosen, message=message, replace=replace),
        ).id
    out.print(f"importing {escape(file.name)} as {chosen}: job {job_id}")
    if not wait:
        out.print(f"follow it with `assay jobs watch {job_id}`")
        return
    job = follow(job_id, interval=interval)
    out.print(json.dumps(job.result))


@sets_app.command("export")
def export(
    eval_set: SetArg,
    as_user: AsOption,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Default: the newest.")] = None,
) -> None:
    """The version as JSONL with the set's canary (owners; never a sealed set; logged)."""
    from assay.evaluation import eval_sets
    from assay.evaluation.policies import eval_sets as policy

    with explained({NotFound: NO_SUCH_SET}), database(writes=True) as db:
        with db.write() as session:
            actor = _actor(session, as_user)
            found, owner = _loaded(session, eval_set, actor)
            policy.can_export(actor, found, owner=owner)
            number = eval_sets.start_export(
                session=session, eval_set=found, actor=actor, number=version, route="cli export"
            ).number
        with db.read() as session:
            found = eval_sets.get_eval_set(session=session, set_id=eval_set, mode="live")
            chosen = eval_sets.get_version(session=session, eval_set=found, number=number)
            lines = eval_sets.export_lines(session=session, eval_set=found, version=chosen)
            if output is None:
                for line in lines:
                    typer.echo(line, nl=False)
            else:
                with output.open("w", encoding="utf-8") as sink:
                    sink.writelines(lines)
                out.print(f"wrote version {number} ({chosen.item_count} items) to {output}")
