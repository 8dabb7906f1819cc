"""Evaluation sets: private, versioned sets of prompts (or conversations) with references and
rubrics, read only by their owners, every read of item content logged.

Versions: every import or edit makes the next immutable version. Items are never copied per
version: a row is live in `[first_version, until_version)` (see `evaluation/models.py`); an
edit inserts the new and changed items and stamps the replaced ones with the new version. A
version's `content_hash` is the sum of its items' sha256s mod 2**256, kept from the changes.

Privacy: a set's items are its owners' (`eval_set_owners`); a sealed set's content leaves the
server through no route (its items show tags and hashes only), only in requests to the model
under test (`iter_version_items`, server-side). Exports carry the set's canary in their header
and in every row; `find_canaries` says whose canary a text contains.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.ids import new_ids
from assay.core.pagination import PageResult, paginate
from assay.evaluation import eval_set_schemas as schemas
from assay.evaluation import models
from assay.evaluation.eval_set_schemas import EvalItemIn, EvalSetCreate

CHUNK = 5_000
CANARY = re.compile(r"assay-canary-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HASH_MODULUS = 2**256
# A read of this many items or fewer lists their ids in the read log.
LOGGED_IDS = 1_000
ITEMS = models.EvalSetItem.__table__


# --- sets and owners ----------------------------------------------------------------------


def create_eval_set(*, session: Session, actor: Actor, set_in: EvalSetCreate) -> models.EvalSet:
    """A new, empty set (version 0) owned by its creator, with a canary of its own."""
    eval_set = models.EvalSet(
        name=set_in.name,
        description=set_in.description,
        sealed=set_in.sealed,
        mode=actor.mode,
        canary=f"assay-canary-{uuid.uuid4()}",
        version=0,
        created_by=actor.user_id,
    )
    session.add(eval_set)
    session.flush()
    session.add(models.EvalSetOwner(set_id=eval_set.id, user_id=actor.user_id))
    session.flush()
    return eval_set


def get_eval_set(*, session: Session, set_id: str, mode: str) -> models.EvalSet:
    found = session.get(models.EvalSet, set_id)
    if found is None or found.mode != mode:
        raise NotFound(f"no evaluation set with id {set_id}", field="set_id")
    return found


def owners_of(*, session: Session, eval_set: models.EvalSet) -> list[str]:
    return list(
        session.scalars(
            select(models.EvalSetOwner.user_id)
            .where(models.EvalSetOwner.set_id == eval_set.id)
            .order_by(models.EvalSetOwner.user_id)
        )
    )


def is_owner(*, session: Session, eval_set: models.EvalSet, user_id: str) -> bool:
    return session.get(models.EvalSetOwner, (eval_set.id, user_id)) is not None


def has_public_teaser(*, session: Session, eval_set: models.EvalSet) -> bool:
    """Whether signed-in users may see the set's teaser split: never for a sealed set."""
    if eval_set.sealed or eval_set.version == 0:
        return False
    version = session.get(models.EvalSetVersion, (eval_set.id, eval_set.version))
    return version is not None and version.teaser_count > 0


def add_owner(*, session: Session, eval_set: models.EvalSet, user_id: str) -> list[str]:
    """Make a user an owner (again is a no-op); the owners after."""
    if session.get(core_models.User, user_id) is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    if not is_owner(session=session, eval_set=eval_set, user_id=user_id):
        session.add(models.EvalSetOwner(set_id=eval_set.id, user_id=user_id))
        session.flush()
    return owners_of(session=session, eval_set=eval_set)


def describe_eval_set(
    *, session: Session, eval_set: models.EvalSet, owner: bool
) -> schemas.EvalSet:
    """The set with its newest version's counts and hash; the canary and the owners only
    for an owner."""
    extra: dict[str, Any] = {"canary": None, "owners": None}
    if eval_set.version:
        version = get_version(session=session, eval_set=eval_set)
        extra |= {
            "item_count": version.item_count,
            "teaser_count": version.teaser_count,
            "content_hash": version.content_hash,
        }
    if owner:
        extra |= {
            "canary": eval_set.canary,
            "owners": owners_of(session=session, eval_set=eval_set),
        }
    return schemas.EvalSet.model_validate(eval_set).model_copy(update=extra)


def seal_eval_set(*, session: Session, eval_set: models.EvalSet) -> models.EvalSet:
    """Seal a set for good: there is no unsealing (a copy may have been taken before)."""
    eval_set.sealed = True
    session.flush()
    return eval_set


def list_eval_sets(
    *, session: Session, actor: Actor, cursor: str | None, limit: int
) -> PageResult[models.EvalSet]:
    """The sets the actor owns, and the sets with a public teaser, in the actor's mode."""
    owned = exists().where(
        models.EvalSetOwner.set_id == models.EvalSet.id,
        models.EvalSetOwner.user_id == actor.user_id,
    )
    teaser = exists().where(
        models.EvalSetVersion.set_id == models.EvalSet.id,
        models.EvalSetVersion.number == models.EvalSet.version,
        models.EvalSetVersion.teaser_count > 0,
    )
    stmt = select(models.EvalSet).where(
        models.EvalSet.mode == actor.mode, or_(owned, and_(teaser, ~models.EvalSet.sealed))
    )
    return paginate(session, stmt, key=models.EvalSet.id, cursor=cursor, limit=limit)


# --- versions -----------------------------------------------------------------------------


def get_version(
    *, session: Session, eval_set: models.EvalSet, number: int | None = None
) -> models.EvalSetVersion:
    """Version `number`, or the newest; NotFound naming `version` when there is none."""
    wanted = eval_set.version if number is None else number
    found = session.get(models.EvalSetVersion, (eval_set.id, wanted)) if wanted else None
    if found is None:
        if eval_set.version == 0:
            raise NotFound(f"evaluation set {eval_set.id} has no version yet", field="version")
        raise NotFound(
            f"evaluation set {eval_set.id} has versions 1 to {eval_set.version}", field="version"
        )
    return found


def list_versions(
    *, session: Session, eval_set: models.EvalSet, cursor: str | None, limit: int
) -> PageResult[models.EvalSetVersion]:
    stmt = select(models.EvalSetVersion).where(models.EvalSetVersion.set_id == eval_set.id)
    return paginate(session, stmt, key=models.EvalSetVersion.id, cursor=cursor, limit=limit)


def _live_in(number: int) -> ColumnElement[bool]:
    item = models.EvalSetItem
    return and_(
        item.first_version <= number,
        or_(item.until_version.is_(None), item.until_version > number),
    )


def _canonical_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


def item_hash(item: EvalItemIn, external_id: str) -> str:
    """sha256 of the item's canonical JSON: what it says, its tags and its teaser flag."""
    return _canonical_hash(
        item.model_dump(mode="json", exclude_none=True) | {"external_id": external_id}
    )


def external_id_of(item: EvalItemIn) -> str:
    """The item's external id, or (none given) one from its content: re-importing the same
    item without an id then finds it again."""
    if item.external_id is not None:
        return item.external_id
    return "sha256:" + _canonical_hash(item.model_dump(mode="json", exclude_none=True))[:32]


CONTENT_FIELDS = ("prompt", "messages", "reference", "rubric")


def _locked(session: Session, eval_set: models.EvalSet) -> models.EvalSet:
    """The set's row locked for the transaction: versions are numbered one writer at a time
    (SQLite's writes are serialised already)."""
    return session.scalars(
        select(models.EvalSet)
        .where(models.EvalSet.id == eval_set.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _new_version(
    session: Session,
    eval_set: models.EvalSet,
    *,
    actor: Actor,
    message: str,
    inserted: list[dict[str, Any]],
    retired: list[tuple[str, str, bool]],
) -> models.EvalSetVersion:
    """Write version `eval_set.version + 1`: insert `inserted` rows, stamp `retired`
    (id, hash, teaser) rows, and number the version."""
    number = eval_set.version + 1
    previous = (
        session.get(models.EvalSetVersion, (eval_set.id, eval_set.version))
        if eval_set.version
        else None
    )
    total = int(previous.content_hash, 16) if previous else 0
    count = previous.item_count if previous else 0
    teasers = previous.teaser_count if previous else 0
    retired_ids = [row_id for row_id, _, _ in retired]
    for start in range(0, len(retired_ids), CHUNK):
        session.execute(
            update(ITEMS)
            .where(ITEMS.c.id.in_(retired_ids[start : start + CHUNK]))
            .values(until_version=number)
        )
    for _, digest, teaser in retired:
        total -= int(digest, 16)
        teasers -= teaser
    for row in inserted:
        row["first_version"] = number
        total += int(row["content_hash"], 16)
        teasers += row["teaser"]
    for start in range(0, len(inserted), CHUNK):
        session.execute(insert(ITEMS), inserted[start : start + CHUNK])
    version = models.EvalSetVersion(
        set_id=eval_set.id,
        number=number,
        message=message,
        item_count=count + len(inserted) - len(retired),
        teaser_count=teasers,
        content_hash=f"{total % HASH_MODULUS:064x}",
        added=len(inserted),
        retired=len(retired),
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(version)
    eval_set.version = number
    session.flush()
    return version


def apply_items(
    *,
    session: Session,
    eval_set: models.EvalSet,
    actor: Actor,
    items: Sequence[EvalItemIn],
    message: str = "",
    replace: bool = False,
) -> models.EvalSetVersion | None:
    """Import items as the next version: an item whose external id is live is replaced when
    it changed and kept when not; with `replace`, live items the import does not name are
    retired. None when nothing changes (no empty version is made)."""
    eval_set = _locked(session, eval_set)
    by_external: dict[str, tuple[EvalItemIn, dict[str, Any], str]] = {}
    for index, item in enumerate(items):
        external_id = external_id_of(item)
        if external_id in by_external:
            raise Invalid(
                f"external id {external_id!r} appears twice", field=f"items[{index}].external_id"
            )
        body = item.model_dump(mode="json", exclude_none=True)
        digest = _canonical_hash(body | {"external_id": external_id})
        by_external[external_id] = (item, body, digest)
    live: dict[str, tuple[str, str, bool]] = {}
    names = list(by_external)
    columns = (ITEMS.c.external_id, ITEMS.c.id, ITEMS.c.content_hash, ITEMS.c.teaser)
    live_now = and_(ITEMS.c.set_id == eval_set.id, ITEMS.c.until_version.is_(None))
    if replace:
        rows = session.execute(select(*columns).where(live_now))
        live = {external: (row_id, digest, teaser) for external, row_id, digest, teaser in rows}
    else:
        for start in range(0, len(names), CHUNK):
            rows = session.execute(
                select(*columns).where(
                    live_now, ITEMS.c.external_id.in_(names[start : start + CHUNK])
                )
            )
            live.update(
                {external: (row_id, digest, teaser) for external, row_id, digest, teaser in rows}
            )
    inserted: list[dict[str, Any]] = []
    retired: list[tuple[str, str, bool]] = []
    ids = iter(new_ids(len(by_external)))
    for external_id, (item, body, digest) in by_external.items():
        current = live.get(external_id)
        if current is not None and current[1] == digest:
            continue
        if current is not None:
            retired.append(current)
        inserted.append(
            {
                "id": next(ids),
                "set_id": eval_set.id,
                "external_id": external_id,
                "until_version": None,
                "content": {k: body[k] for k in CONTENT_FIELDS if k in body},
                "domain": item.domain,
                "language": item.language,
                "difficulty": item.difficulty,
                "tags": item.tags,
                "teaser": item.teaser,
                "content_hash": digest,
            }
        )
    if replace:
        retired += [found for external, found in live.items() if external not in by_external]
    if not inserted and not retired:
        return None
    return _new_version(
        session, eval_set, actor=actor, message=message, inserted=inserted, retired=retired
    )


def remove_items(
    *,
    session: Session,
    eval_set: models.EvalSet,
    actor: Actor,
    external_ids: Sequence[str],
    message: str = "",
) -> models.EvalSetVersion:
    """Retire items by external id as the next version; every id must be live."""
    eval_set = _locked(session, eval_set)
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, tuple[str, str, bool]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(ITEMS.c.external_id, ITEMS.c.id, ITEMS.c.content_hash, ITEMS.c.teaser).where(
                ITEMS.c.set_id == eval_set.id,
                ITEMS.c.until_version.is_(None),
                ITEMS.c.external_id.in_(wanted[start : start + CHUNK]),
            )
        )
        found.update({external: (row_id, h, teaser) for external, row_id, h, teaser in rows})
    for index, external_id in enumerate(external_ids):
        if external_id not in found:
            raise NotFound(
                f"no current item with external id {external_id!r}",
                field=f"external_ids[{index}]",
            )
    return _new_version(
        session,
        eval_set,
        actor=actor,
        message=message,
        inserted=[],
        retired=[found[external] for external in wanted],
    )


# --- items and the read log ---------------------------------------------------------------


def list_items(
    *,
    session: Session,
    eval_set: models.EvalSet,
    version: models.EvalSetVersion,
    cursor: str | None,
    limit: int,
    teaser_only: bool = False,
) -> PageResult[models.EvalSetItem]:
    """A page of the version's items in a stable order (by id)."""
    stmt = select(models.EvalSetItem).where(
        models.EvalSetItem.set_id == eval_set.id, _live_in(version.number)
    )
    if teaser_only:
        stmt = stmt.where(models.EvalSetItem.teaser)
    return paginate(
        session, stmt, key=models.EvalSetItem.id, cursor=cursor, limit=limit, newest_first=False
    )


def get_item(*, session: Session, eval_set: models.EvalSet, item_id: str) -> models.EvalSetItem:
    found = session.get(models.EvalSetItem, item_id)
    if found is None or found.set_id != eval_set.id:
        raise NotFound(f"no item {item_id} in evaluation set {eval_set.id}", field="item_id")
    return found


def iter_version_items(
    *, session: Session, eval_set: models.EvalSet, version: models.EvalSetVersion
) -> Iterator[models.EvalSetItem]:
    """Every item of a version, `CHUNK` rows per query: for runs (server-side) and exports."""
    after = ""
    while True:
        rows = list(
            session.scalars(
                select(models.EvalSetItem)
                .where(
                    models.EvalSetItem.set_id == eval_set.id,
                    _live_in(version.number),
                    models.EvalSetItem.id > after,
                )
                .order_by(models.EvalSetItem.id)
                .limit(CHUNK)
            )
        )
        yield from rows
        if len(rows) < CHUNK:
            return
        after = rows[-1].id


def record_read(
    *,
    session: Session,
    eval_set: models.EvalSet,
    actor: Actor,
    version: int,
    route: str,
    item_ids: Sequence[str] | None = None,
    item_count: int | None = None,
) -> models.EvalSetRead:
    """Log one read of item content (the ids when few enough to list)."""
    count = len(item_ids) if item_ids is not None else (item_count or 0)
    read = models.EvalSetRead(
        set_id=eval_set.id,
        version=version,
        user_id=actor.user_id if actor.via != "system" else None,
        key_id=actor.key_id,
        route=route,
        item_count=count,
        item_ids=list(item_ids) if item_ids is not None and count <= LOGGED_IDS else None,
    )
    session.add(read)
    session.flush()
    return read


def list_reads(
    *, session: Session, eval_set: models.EvalSet, cursor: str | None, limit: int
) -> PageResult[models.EvalSetRead]:
    stmt = select(models.EvalSetRead).where(models.EvalSetRead.set_id == eval_set.id)
    return paginate(session, stmt, key=models.EvalSetRead.id, cursor=cursor, limit=limit)


# --- exports and canaries -----------------------------------------------------------------


def export_header(eval_set: models.EvalSet, version: models.EvalSetVersion) -> dict[str, Any]:
    return {
        "assay_eval_set": {
            "id": eval_set.id,
            "name": eval_set.name,
            "version": version.number,
            "item_count": version.item_count,
            "content_hash": version.content_hash,
            "canary": eval_set.canary,
            "notice": "Private evaluation data: do not train on it or publish it.",
        }
    }


def export_row(eval_set: models.EvalSet, item: models.EvalSetItem) -> dict[str, Any]:
    """An item in the import shape (so an export imports back), with the set's canary."""
    row: dict[str, Any] = {"external_id": item.external_id, **item.content}
    for name in ("domain", "language", "difficulty"):
        if getattr(item, name) is not None:
            row[name] = getattr(item, name)
    row["tags"] = item.tags
    row["teaser"] = item.teaser
    row["canary"] = eval_set.canary
    return row


def start_export(
    *, session: Session, eval_set: models.EvalSet, actor: Actor, number: int | None, route: str
) -> models.EvalSetVersion:
    """The version to export, its read logged (the whole version: a count, not the ids).
    The caller has checked that the set is not sealed (`policies.eval_sets.can_export`)."""
    version = get_version(session=session, eval_set=eval_set, number=number)
    record_read(
        session=session,
        eval_set=eval_set,
        actor=actor,
        version=version.number,
        route=route,
        item_count=version.item_count,
    )
    return version


def export_lines(
    *, session: Session, eval_set: models.EvalSet, version: models.EvalSetVersion
) -> Iterator[str]:
    """The version as JSONL: the header, then an item per line, each with the canary."""
    yield msgspec.json.encode(export_header(eval_set, version)).decode() + "\n"
    for item in iter_version_items(session=session, eval_set=eval_set, version=version):
        yield msgspec.json.encode(export_row(eval_set, item)).decode() + "\n"


def find_canaries(*, session: Session, actor: Actor, text: str) -> list[models.EvalSet]:
    """The sets whose canary the text contains: among every set for admins, among their own
    sets for others."""
    found = sorted(set(CANARY.findall(text)))
    if not found:
        return []
    stmt = select(models.EvalSet).where(models.EvalSet.canary.in_(found[:CHUNK]))
    if not actor.at_least("admin"):
        stmt = stmt.where(
            exists().where(
                models.EvalSetOwner.set_id == models.EvalSet.id,
                models.EvalSetOwner.user_id == actor.user_id,
            )
        )
    return list(session.scalars(stmt.order_by(models.EvalSet.id)))
