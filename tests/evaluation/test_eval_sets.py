"""Evaluation set services: every version reads back exactly after later edits, without a
copy of the items per version; version hashes follow the content; the file readers name the
line (or row) and field of a problem; canaries are found for owners, and for admins."""

from __future__ import annotations

import io
import random

import polars as pl
import pytest
from sqlalchemy import func, select

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.jobs import PermanentError
from assay.evaluation import eval_set_imports, eval_sets, models
from assay.evaluation.eval_set_schemas import EvalItemIn, EvalSetCreate


@pytest.fixture
def owner(accounts) -> Actor:
    user = accounts.make("manager").user
    return Actor(user_id=user.id, email=user.email, role="manager")


def make_set(db, owner: Actor, **extra) -> str:
    with db.write() as session:
        return eval_sets.create_eval_set(
            session=session, actor=owner, set_in=EvalSetCreate(name="s", **extra)
        ).id


def apply(db, owner: Actor, set_id: str, items: list[EvalItemIn], **options):
    with db.write() as session:
        eval_set = session.get(models.EvalSet, set_id)
        version = eval_sets.apply_items(
            session=session, eval_set=eval_set, actor=owner, items=items, **options
        )
        return None if version is None else version.number


def read_version(db, set_id: str, number: int) -> dict[str, dict]:
    """The version's items by external id, read through the paged listing."""
    found: dict[str, dict] = {}
    with db.read() as session:
        eval_set = session.get(models.EvalSet, set_id)
        version = eval_sets.get_version(session=session, eval_set=eval_set, number=number)
        cursor = None
        while True:
            page = eval_sets.list_items(
                session=session, eval_set=eval_set, version=version, cursor=cursor, limit=7
            )
            for row in page.items:
                assert row.external_id not in found
                found[row.external_id] = {**row.content, "tags": row.tags, "teaser": row.teaser}
            cursor = page.next_cursor
            if cursor is None:
                break
        streamed = list(
            eval_sets.iter_version_items(session=session, eval_set=eval_set, version=version)
        )
        assert sorted(r.external_id for r in streamed) == sorted(found)
        assert version.item_count == len(found)
    return found


def expected(item: EvalItemIn) -> dict:
    body = item.model_dump(
        mode="json", include={"prompt", "messages", "reference", "rubric"}, exclude_none=True
    )
    return {**body, "tags": item.tags, "teaser": item.teaser}


def test_every_version_reads_back_exactly_after_random_edits(db, owner):
    rng = random.Random(7)
    sid = make_set(db, owner)
    truth: dict[int, dict[str, dict]] = {}
    live: dict[str, EvalItemIn] = {}
    for round_ in range(1, 9):
        changes: dict[str, EvalItemIn] = {}
        for _ in range(rng.randint(1, 25)):
            key = f"q{rng.randint(0, 40)}"
            changes[key] = EvalItemIn(
                external_id=key,
                prompt=f"round {round_} prompt {rng.random():.6f}",
                reference=rng.choice([None, "42"]),
                tags=rng.sample(["a", "b", "c"], rng.randint(0, 2)),
                teaser=rng.random() < 0.2,
            )
        replace = round_ % 4 == 0
        number = apply(
            db, owner, sid, list(changes.values()), replace=replace, message=f"r{round_}"
        )
        assert number == max(truth, default=0) + 1
        live = dict(changes) if replace else {**live, **changes}
        truth[number] = {key: expected(item) for key, item in live.items()}
        if round_ == 5:
            gone = sorted(live)[:3]
            with db.write() as session:
                eval_set = session.get(models.EvalSet, sid)
                removed = eval_sets.remove_items(
                    session=session, eval_set=eval_set, actor=owner, external_ids=gone
                )
            for key in gone:
                del live[key]
            truth[removed.number] = {key: expected(item) for key, item in live.items()}
    with db.read() as session:
        last = session.get(models.EvalSet, sid).version
    assert last == 9
    for number in range(1, last + 1):
        assert read_version(db, sid, number) == truth[number], number
    # Rows are written per change, not per version: at most one per item per edit.
    with db.read() as session:
        rows = session.scalar(select(func.count()).select_from(models.EvalSetItem))
        versions = list(
            session.scalars(select(models.EvalSetVersion).order_by(models.EvalSetVersion.number))
        )
    assert rows == sum(v.added for v in versions) < sum(v.item_count for v in versions)
    # The version hash is the sum of its rows' hashes, kept from the changes alone.
    with db.read() as session:
        eval_set = session.get(models.EvalSet, sid)
        for version in versions:
            hashes = [
                r.content_hash
                for r in eval_sets.iter_version_items(
                    session=session, eval_set=eval_set, version=version
                )
            ]
            assert version.content_hash == f"{sum(int(h, 16) for h in hashes) % 2**256:064x}"


def test_the_hash_follows_the_content_and_an_unchanged_import_makes_no_version(db, owner):
    sid = make_set(db, owner)
    first = [EvalItemIn(external_id=f"q{n}", prompt=f"p{n}") for n in range(4)]
    second = [
        EvalItemIn(external_id="q1", prompt="changed"),
        EvalItemIn(external_id="q9", prompt="new"),
    ]
    assert apply(db, owner, sid, first) == 1
    assert apply(db, owner, sid, first) is None
    assert apply(db, owner, sid, second) == 2
    assert apply(db, owner, sid, first, replace=True) == 3
    with db.read() as session:
        hashes = {v.number: v.content_hash for v in session.scalars(select(models.EvalSetVersion))}
        eval_set = session.get(models.EvalSet, sid)
        with pytest.raises(NotFound) as missing:
            eval_sets.get_version(session=session, eval_set=eval_set, number=4)
    assert missing.value.field == "version"
    assert hashes[3] == hashes[1] != hashes[2]
    # Items without an external id get one from their content: importing them again is a no-op.
    anonymous = [
        EvalItemIn(prompt="who?"),
        EvalItemIn(messages=[{"role": "user", "content": "hi"}]),
    ]
    assert apply(db, owner, sid, anonymous) == 4
    assert apply(db, owner, sid, anonymous) is None


def test_readers_name_the_line_or_row_and_field(db):
    # A CSV row spanning lines is named by the line it starts on.
    data = b'external_id,prompt,difficulty\nq1,"two\nlines",easy\nq2,,hard\n'
    with pytest.raises(
        PermanentError, match=r"^line 4: item: Value error, give a prompt or messages"
    ):
        eval_set_imports.parse_items(data, "csv")
    frame = pl.DataFrame(
        {"external_id": ["a", "b"], "prompt": ["x", "y"], "rubric": [None, '{"criteria": []}']}
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    with pytest.raises(PermanentError, match=r"^row 2: rubric.criteria: "):
        eval_set_imports.parse_items(buffer.getvalue(), "parquet")
    with pytest.raises(PermanentError, match="columns Assay does not know: answer"):
        eval_set_imports.parse_items(b"external_id,prompt,answer\nq,p,a\n", "csv")
    with pytest.raises(PermanentError, match="not a readable Parquet file"):
        eval_set_imports.parse_items(b"PAR1 no", "parquet")
    with pytest.raises(PermanentError, match="no items"):
        eval_set_imports.parse_items(b"\n\n", "jsonl")
    parsed = eval_set_imports.parse_items(
        b'{"prompt": "p", "rubric": {"criteria": [{"id": "a", "text": "t", "points": 1}]}}\n',
        "jsonl",
    )
    assert parsed[0].rubric.criteria[0].category == "general"
    unnamed = eval_set_imports.parse_items(
        b'{"prompt": "p", "rubric": {"criteria": [{"text": "t", "points": 1}, '
        b'{"text": "u", "points": -1, "category": "safety"}]}}\n',
        "jsonl",
    )
    assert [(c.id, c.category) for c in unnamed[0].rubric.criteria] == [
        ("c1", "general"),
        ("c2", "safety"),
    ]


def test_canaries_are_found_for_owners_and_admins_only(db, owner, accounts):
    mine = make_set(db, owner)
    theirs_user = accounts.make("manager").user
    theirs = make_set(db, Actor(user_id=theirs_user.id, email="", role="manager"))
    admin = Actor(user_id=accounts.make("admin").user.id, email="", role="admin")
    with db.read() as session:
        canaries = {s.id: s.canary for s in session.scalars(select(models.EvalSet))}
        leaked = f"some text {canaries[mine]} and more {canaries[theirs]}."
        assert [
            s.id for s in eval_sets.find_canaries(session=session, actor=owner, text=leaked)
        ] == [mine]
        assert {
            s.id for s in eval_sets.find_canaries(session=session, actor=admin, text=leaked)
        } == {mine, theirs}
        assert eval_sets.find_canaries(session=session, actor=admin, text="nothing here") == []


def test_checking_a_large_file_reports_progress():
    lines = b"\n".join(b'{"prompt": "p%d"}' % n for n in range(25_000))
    seen: list[int] = []
    items = eval_set_imports.parse_items(lines, "jsonl", seen.append)
    assert len(items) == 25_000 and seen == [10_000, 20_000]
