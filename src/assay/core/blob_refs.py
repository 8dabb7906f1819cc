"""Who may read a blob: the people who uploaded it, admins, and whoever may see something
that references it.

Identical bytes are stored once, so a blob has a row in `blob_refs` per uploader (scope
`user`) and per referencing thing of a pillar (scope `project` for a labeling project whose
tasks show it, recorded when the tasks are created). The core knows no pillar: each pillar
registers, per scope, a check of whether an actor may see any of the referencing ids
(`register_reader_check`), as the labeling pillar does for projects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import dialects, models
from assay.core.auth import Actor

USER = "user"
_REFS = models.BlobRef.__table__
_CHUNK = 5000

# check(session, actor, scope_ids) -> the ids among them the actor may see.
ReaderCheck = Callable[[Session, Actor, Sequence[str]], set[str]]
_reader_checks: dict[str, ReaderCheck] = {}


def register_reader_check(scope: str, check: ReaderCheck) -> ReaderCheck:
    """A pillar says who may read the blobs its rows reference (see the module docstring)."""
    _reader_checks[scope] = check
    return check


def add_refs(*, session: Session, sha256s: Iterable[str], scope: str, scope_id: str) -> None:
    """Record that `scope_id` references these (stored) blobs; known references are kept."""
    rows = [{"sha256": sha, "scope": scope, "scope_id": scope_id} for sha in sorted(set(sha256s))]
    if not rows:
        return
    insert = dialects.insert(_REFS, session.get_bind().dialect.name).on_conflict_do_nothing()
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert, rows[start : start + _CHUNK])


def readable(*, session: Session, actor: Actor, sha256s: Iterable[str]) -> set[str]:
    """The blobs among `sha256s` the actor may read: admins (and the system) every one,
    others those they uploaded or that something they may see references. A few indexed
    reads per 5,000 blobs, whatever their number of references."""
    wanted = list(dict.fromkeys(sha256s))
    if actor.at_least("admin") or actor.via == "system":
        return set(wanted)
    allowed: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        by_scope: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        rows = session.execute(
            select(_REFS.c.sha256, _REFS.c.scope, _REFS.c.scope_id).where(_REFS.c.sha256.in_(chunk))
        )
        for sha, scope, scope_id in rows:
            if scope == USER:
                if scope_id == actor.user_id:
                    allowed.add(sha)
            elif sha not in allowed:
                by_scope[scope][scope_id].append(sha)
        allowed.update(
            session.scalars(
                select(models.Blob.sha256).where(
                    models.Blob.sha256.in_(chunk), models.Blob.created_by == actor.user_id
                )
            )
        )
        for scope, shas_by_id in by_scope.items():
            check = _reader_checks.get(scope)
            if check is None:
                continue
            for scope_id in check(session, actor, list(shas_by_id)):
                allowed.update(shas_by_id[scope_id])
    return allowed


def may_read(*, session: Session, actor: Actor, blob: models.Blob) -> bool:
    return blob.sha256 in readable(session=session, actor=actor, sha256s=[blob.sha256])
