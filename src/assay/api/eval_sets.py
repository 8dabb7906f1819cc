"""Evaluation sets under /api/v1/eval-sets: create, list, read; import a file (a job) as the
next version; remove items; versions; items and the public teaser (each read logged);
exports with the set's canary; owners; the read log; and a canary check for leaked text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from assay.api.deps import CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core import schemas as core_schemas
from assay.core.auth import Actor
from assay.core.db import Database
from assay.core.pagination import cursor_key
from assay.evaluation import eval_set_imports, eval_sets, models
from assay.evaluation import eval_set_schemas as schemas
from assay.evaluation.policies import eval_sets as policy

router = APIRouter(tags=["eval-sets"], route_class=JsonRoute)
MAX_VERSION = 2**31 - 1
Version = Annotated[
    int | None,
    Query(ge=1, le=MAX_VERSION, description="a version number; the newest if left out"),
]


class Loaded:
    """A set and what the policy needs to know of the caller: owner? public teaser?"""

    def __init__(self, session: Session, set_id: str, actor: Actor) -> None:
        self.eval_set = eval_sets.get_eval_set(session=session, set_id=set_id, mode=actor.mode)
        self.owner = eval_sets.is_owner(
            session=session, eval_set=self.eval_set, user_id=actor.user_id
        )
        self.teaser = eval_sets.has_public_teaser(session=session, eval_set=self.eval_set)


def set_view(session: Session, eval_set: models.EvalSet, *, owner: bool) -> schemas.EvalSet:
    return eval_sets.describe_eval_set(session=session, eval_set=eval_set, owner=owner)


def item_view(eval_set: models.EvalSet, item: models.EvalSetItem) -> schemas.EvalItem:
    view = schemas.EvalItem.model_validate(item)
    return view.model_copy(update={"content": None}) if eval_set.sealed else view


@router.post(
    "/eval-sets", response_model=schemas.EvalSet, status_code=201, operation_id="create_eval_set"
)
def create_eval_set(
    set_in: schemas.EvalSetCreate, request: Request, actor: CurrentActor, db: Db
) -> JSONResponse:
    """A private set owned by its creator (sealed if asked: its items never leave)."""
    policy.can_create(actor)

    def create(session: Session) -> schemas.EvalSet:
        found = eval_sets.create_eval_set(session=session, actor=actor, set_in=set_in)
        return set_view(session, found, owner=True)

    return create_once(request, actor=actor, db=db, body=set_in, create=create)


@router.get("/eval-sets", response_model=schemas.EvalSetPage, operation_id="list_eval_sets")
def list_eval_sets(actor: CurrentActor, db: Db, page: Page) -> schemas.EvalSetPage:
    """The sets you own and the sets with a public teaser."""
    policy.can_list(actor)
    with db.read() as session:
        result = eval_sets.list_eval_sets(
            session=session, actor=actor, cursor=page.cursor, limit=page.limit
        )
        return schemas.EvalSetPage(
            items=[
                set_view(
                    session,
                    found,
                    owner=eval_sets.is_owner(
                        session=session, eval_set=found, user_id=actor.user_id
                    ),
                )
                for found in result.items
            ],
            next_cursor=result.next_cursor,
        )


@router.post(
    "/eval-sets/canary-check",
    response_model=schemas.CanaryCheckResult,
    operation_id="check_eval_set_canaries",
)
def check_canaries(
    check_in: schemas.CanaryCheck, actor: CurrentActor, db: Db
) -> schemas.CanaryCheckResult:
    """Which sets' canaries a text holds (a leaked copy?): among your sets; admins, all."""
    policy.can_check_canaries(actor)
    with db.read() as session:
        found = eval_sets.find_canaries(session=session, actor=actor, text=check_in.text)
        return schemas.CanaryCheckResult(
            matches=[schemas.CanaryMatch(set_id=s.id, name=s.name) for s in found]
        )


@router.get("/eval-sets/{set_id}", response_model=schemas.EvalSet, operation_id="get_eval_set")
def get_eval_set(set_id: str, actor: CurrentActor, db: Db) -> schemas.EvalSet:
    with db.read() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_see(actor, loaded.eval_set, owner=loaded.owner, teaser=loaded.teaser)
        return set_view(session, loaded.eval_set, owner=loaded.owner)


@router.post(
    "/eval-sets/{set_id}/seal", response_model=schemas.EvalSet, operation_id="seal_eval_set"
)
def seal_eval_set(set_id: str, actor: CurrentActor, db: Db) -> schemas.EvalSet:
    """Seal the set for good: from now on its content leaves through no route."""
    with db.write() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_write(actor, loaded.eval_set, owner=loaded.owner)
        sealed = eval_sets.seal_eval_set(session=session, eval_set=loaded.eval_set)
        return set_view(session, sealed, owner=True)


@router.get(
    "/eval-sets/{set_id}/owners",
    response_model=schemas.EvalSetOwners,
    operation_id="list_eval_set_owners",
)
def list_owners(set_id: str, actor: CurrentActor, db: Db) -> schemas.EvalSetOwners:
    with db.read() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_write(actor, loaded.eval_set, owner=loaded.owner)
        return schemas.EvalSetOwners(
            user_ids=eval_sets.owners_of(session=session, eval_set=loaded.eval_set)
        )


@router.post(
    "/eval-sets/{set_id}/owners",
    response_model=schemas.EvalSetOwners,
    operation_id="add_eval_set_owner",
)
def add_owner(
    set_id: str, owner_in: schemas.EvalSetOwnerAdd, actor: CurrentActor, db: Db
) -> schemas.EvalSetOwners:
    with db.write() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_write(actor, loaded.eval_set, owner=loaded.owner)
        return schemas.EvalSetOwners(
            user_ids=eval_sets.add_owner(
                session=session, eval_set=loaded.eval_set, user_id=owner_in.user_id
            )
        )


def _start_import(
    db: Database, set_id: str, actor: Actor, data: bytes, import_in: schemas.EvalSetImport
) -> core_schemas.Job:
    with db.write() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_write(actor, loaded.eval_set, owner=loaded.owner)
        job = eval_set_imports.start_import(
            session=session, eval_set=loaded.eval_set, actor=actor, data=data, import_in=import_in
        )
        return core_schemas.Job.model_validate(job)


@router.post(
    "/eval-sets/{set_id}/imports",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="import_eval_set_items",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def import_items(
    set_id: str,
    request: Request,
    actor: CurrentActor,
    db: Db,
    format: Annotated[Literal["jsonl", "csv", "parquet"], Query(description="the file's format")],
    message: Annotated[str, Query(max_length=500)] = "",
    replace: bool = False,
) -> JSONResponse:
    """Import the file in the body as the next version, as a job (poll /jobs/{id})."""
    import_in = schemas.EvalSetImport(format=format, message=message, replace=replace)
    data = await request.body()
    job = await run_in_threadpool(_start_import, db, set_id, actor, data, import_in)
    return JSONResponse(job.model_dump(mode="json"), 202)


@router.post(
    "/eval-sets/{set_id}/items/remove",
    response_model=schemas.EvalSetVersion,
    operation_id="remove_eval_set_items",
)
def remove_items(
    set_id: str, remove_in: schemas.EvalItemsRemove, actor: CurrentActor, db: Db
) -> schemas.EvalSetVersion:
    """Retire items by external id: the next version."""
    with db.write() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_write(actor, loaded.eval_set, owner=loaded.owner)
        version = eval_sets.remove_items(
            session=session,
            eval_set=loaded.eval_set,
            actor=actor,
            external_ids=remove_in.external_ids,
            message=remove_in.message,
        )
        return schemas.EvalSetVersion.model_validate(version)


@router.get(
    "/eval-sets/{set_id}/versions",
    response_model=schemas.EvalSetVersionPage,
    operation_id="list_eval_set_versions",
)
def list_versions(
    set_id: str, actor: CurrentActor, db: Db, page: Page
) -> schemas.EvalSetVersionPage:
    with db.read() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_read_items(actor, loaded.eval_set, owner=loaded.owner)
        result = eval_sets.list_versions(
            session=session, eval_set=loaded.eval_set, cursor=page.cursor, limit=page.limit
        )
        return schemas.EvalSetVersionPage(
            items=[schemas.EvalSetVersion.model_validate(v) for v in result.items],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/eval-sets/{set_id}/versions/{number}",
    response_model=schemas.EvalSetVersion,
    operation_id="get_eval_set_version",
)
def get_version(
    set_id: str,
    number: Annotated[int, Path(ge=1, le=MAX_VERSION)],
    actor: CurrentActor,
    db: Db,
) -> schemas.EvalSetVersion:
    with db.read() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_read_items(actor, loaded.eval_set, owner=loaded.owner)
        return schemas.EvalSetVersion.model_validate(
            eval_sets.get_version(session=session, eval_set=loaded.eval_set, number=number)
        )


def _item_page(
    db: Database,
    set_id: str,
    actor: Actor,
    page: Page,
    version: int | None,
    *,
    teaser: bool,
) -> schemas.EvalItemPage:
    """A page of a version's items (teaser items only for the teaser), its read logged."""
    if page.cursor:
        cursor_key(page.cursor, str)  # a bad cursor is the caller's first problem
    with db.write() as session:
        loaded = Loaded(session, set_id, actor)
        if teaser:
            policy.can_read_teaser(actor, loaded.eval_set, owner=loaded.owner, teaser=loaded.teaser)
        else:
            policy.can_read_items(actor, loaded.eval_set, owner=loaded.owner)
        found = eval_sets.get_version(session=session, eval_set=loaded.eval_set, number=version)
        result = eval_sets.list_items(
            session=session,
            eval_set=loaded.eval_set,
            version=found,
            cursor=page.cursor,
            limit=page.limit,
            teaser_only=teaser,
        )
        if not loaded.eval_set.sealed:
            eval_sets.record_read(
                session=session,
                eval_set=loaded.eval_set,
                actor=actor,
                version=found.number,
                route="teaser" if teaser else "items",
                item_ids=[item.id for item in result.items],
            )
        return schemas.EvalItemPage(
            items=[item_view(loaded.eval_set, item) for item in result.items],
            next_cursor=result.next_cursor,
            version=found.number,
        )


@router.get(
    "/eval-sets/{set_id}/items",
    response_model=schemas.EvalItemPage,
    operation_id="list_eval_set_items",
)
def list_items(
    set_id: str, actor: CurrentActor, db: Db, page: Page, version: Version = None
) -> schemas.EvalItemPage:
    """A page of a version's items (owners; logged). A sealed set's come without content."""
    return _item_page(db, set_id, actor, page, version, teaser=False)


@router.get(
    "/eval-sets/{set_id}/teaser",
    response_model=schemas.EvalItemPage,
    operation_id="list_eval_set_teaser",
)
def list_teaser(
    set_id: str, actor: CurrentActor, db: Db, page: Page, version: Version = None
) -> schemas.EvalItemPage:
    """The public teaser split: any signed-in user (logged)."""
    return _item_page(db, set_id, actor, page, version, teaser=True)


@router.get(
    "/eval-sets/{set_id}/items/{item_id}",
    response_model=schemas.EvalItem,
    operation_id="get_eval_set_item",
)
def get_item(set_id: str, item_id: str, actor: CurrentActor, db: Db) -> schemas.EvalItem:
    with db.write() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_read_items(actor, loaded.eval_set, owner=loaded.owner)
        item = eval_sets.get_item(session=session, eval_set=loaded.eval_set, item_id=item_id)
        if not loaded.eval_set.sealed:
            eval_sets.record_read(
                session=session,
                eval_set=loaded.eval_set,
                actor=actor,
                version=item.first_version,
                route="item",
                item_ids=[item.id],
            )
        return item_view(loaded.eval_set, item)


@router.get(
    "/eval-sets/{set_id}/export",
    operation_id="export_eval_set",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export_eval_set(
    set_id: str, actor: CurrentActor, db: Db, version: Version = None
) -> StreamingResponse:
    """The version as JSONL (owners, never a sealed set; logged): a header line, then the
    items in the import shape, the set's canary in the header and in every row."""
    with db.write() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_export(actor, loaded.eval_set, owner=loaded.owner)
        found = eval_sets.start_export(
            session=session, eval_set=loaded.eval_set, actor=actor, number=version, route="export"
        )
        number = found.number
    return StreamingResponse(
        _export_lines(db, set_id, number),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="eval-set-{set_id}-v{number}.jsonl"'
        },
    )


def _export_lines(db: Database, set_id: str, number: int) -> Iterator[bytes]:
    """The export a thousand lines per chunk, read in one read transaction."""
    with db.read() as session:
        eval_set = session.get(models.EvalSet, set_id)
        version = session.get(models.EvalSetVersion, (set_id, number))
        lines: list[str] = []
        for line in eval_sets.export_lines(session=session, eval_set=eval_set, version=version):
            lines.append(line)
            if len(lines) >= 1000:
                yield "".join(lines).encode()
                lines = []
        yield "".join(lines).encode()


@router.get(
    "/eval-sets/{set_id}/reads",
    response_model=schemas.EvalSetReadPage,
    operation_id="list_eval_set_reads",
)
def list_reads(set_id: str, actor: CurrentActor, db: Db, page: Page) -> schemas.EvalSetReadPage:
    """The read log: who read which items of which version, when, through which route."""
    with db.read() as session:
        loaded = Loaded(session, set_id, actor)
        policy.can_write(actor, loaded.eval_set, owner=loaded.owner)
        result = eval_sets.list_reads(
            session=session, eval_set=loaded.eval_set, cursor=page.cursor, limit=page.limit
        )
        return schemas.EvalSetReadPage(
            items=[schemas.EvalSetRead.model_validate(r) for r in result.items],
            next_cursor=result.next_cursor,
        )
