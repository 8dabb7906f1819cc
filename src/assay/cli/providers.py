"""`assay eval providers`: the model endpoints evaluation calls — add one, list them.
Directly on the database, in the live sandbox. The API key is read from an environment
variable or a hidden prompt, never from the command line (where `ps` and shell history
would keep it), and never printed."""

from __future__ import annotations

import os
from typing import Annotated

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
)

providers_app = typer.Typer(help="Model providers: OpenAI-compatible endpoints and others.")
eval_app = typer.Typer(help="The evaluate pillar: model providers (and later runs).")
eval_app.add_typer(providers_app, name="providers")

JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def _prices(entries: list[str]) -> dict[str, dict[str, float]]:
    """`model=input,output` (USD per million tokens) entries as a price table."""
    prices = {}
    for entry in entries:
        model, _, pair = entry.partition("=")
        parts = pair.split(",")
        try:
            if not model or len(parts) != 2:
                raise ValueError
            prices[model] = {"input": float(parts[0]), "output": float(parts[1])}
        except ValueError:
            fail(f"--price {entry!r} is not MODEL=INPUT,OUTPUT", "e.g. --price gpt-x=0.15,0.6")
    return prices


@providers_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The provider's name (models are NAME/MODEL).")],
    base_url: Annotated[str, typer.Option("--base-url", help="e.g. http://host:8000/v1")],
    kind: Annotated[str, typer.Option(help="openai, or litellm (optional extra)")] = "openai",
    transport: Annotated[
        str, typer.Option(help="openai (the client, default) or lean (bare aiohttp, fast)")
    ] = "openai",
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Read the API key from this variable.")
    ] = None,
    ask_key: Annotated[bool, typer.Option("--ask-key", help="Prompt for the key, hidden.")] = False,
    max_concurrency: Annotated[int, typer.Option(help="Calls in flight at most.")] = 16,
    requests_per_minute: Annotated[int | None, typer.Option("--rpm")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per attempt.")] = 60.0,
    max_retries: Annotated[int, typer.Option(help="On 429, 5xx and timeouts.")] = 4,
    price: Annotated[
        list[str] | None, typer.Option(help="MODEL=INPUT,OUTPUT in USD per 1M tokens; repeat.")
    ] = None,
) -> None:
    """Add a provider."""
    from pydantic import ValidationError

    from assay.cli.datasets import _system
    from assay.cli.main import load_settings
    from assay.evaluation import providers
    from assay.evaluation.provider_schemas import Provider, ProviderCreate

    key = None
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            fail(f"the environment variable {api_key_env} is empty or not set")
    elif ask_key:
        key = typer.prompt("API key", hide_input=True)
    try:
        body = ProviderCreate(
            name=name,
            kind=kind,
            transport=transport,
            base_url=base_url,
            api_key=key,
            timeout_s=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            requests_per_minute=requests_per_minute,
            prices=_prices(price or []),
        )
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
    with explained(), database(writes=True) as db, db.write() as session:
        provider = providers.create_provider(
            session=session, provider_in=body, actor=_system(), settings=load_settings()
        )
        shown = Provider.model_validate(provider)
    out.print(f"added provider {escape(shown.name)} ({shown.id})", highlight=False)
    if not shown.prices:
        out.print("no prices given: its calls will be marked unpriced (add --price)")


@providers_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Providers, newest first (keys are never shown: `key` says whether one is stored)."""
    from assay.evaluation import providers
    from assay.evaluation.provider_schemas import Provider

    with database() as db, db.read() as session:
        rows = every_page(
            lambda cursor: providers.list_providers(
                session=session, mode="live", cursor=cursor, limit=1000
            ),
            Provider,
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no providers yet; `assay eval providers add NAME --base-url URL` adds one")
        return
    table = Table(
        id_column(), "name", "kind", "transport", "base url", "key", "in flight", "rpm", "priced"
    )
    for p in rows:
        table.add_row(
            p.id,
            escape(p.name),
            p.kind,
            p.transport,
            escape(p.base_url or ""),
            "yes" if p.has_api_key else "no",
            str(p.max_concurrency),
            str(p.requests_per_minute or "—"),
            ", ".join(sorted(p.prices)) or "—",
        )
    print_table(table)
