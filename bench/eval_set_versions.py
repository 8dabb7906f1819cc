"""Evaluation set versions at scale, in process (the services the import job and the API call):

    python bench/eval_set_versions.py [--items 1000000] [--database-url postgresql+psycopg://…]

Imports `--items` items (a prompt, a reference, a 5-criterion rubric, tags) from JSONL as
version 1 (checking the file, then writing it in one transaction), edits 10 items as version
2, and reads a page of 100 items of each version, then exports version 2 whole. Reports
each step's time and how many item rows the edit wrote: versions share their unchanged
items, so an edit of 10 items writes 10 rows whatever the set's size. Last line: the summary.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from assay.core import migrate, schemas, users
from assay.core.auth import Actor
from assay.core.db import Database
from assay.evaluation import eval_set_imports, eval_sets, models
from assay.evaluation.eval_set_schemas import EvalItemIn, EvalSetCreate


def line(n: int, round_: int = 0) -> str:
    criteria = [
        {"id": f"c{k}", "text": f"criterion {k} of item {n}", "points": k - 1, "category": "acc"}
        for k in range(5)
    ]
    return json.dumps(
        {
            "external_id": f"item-{n}",
            "prompt": f"Question {n} (round {round_}): explain the result in two sentences.",
            "reference": f"The answer to {n} is {n * 7 % 113}.",
            "rubric": {"criteria": criteria},
            "domain": ("math", "law", "medicine")[n % 3],
            "language": "en",
            "tags": ["bench"],
        }
    )


def timed(what: str, fn):
    start = time.perf_counter()
    result = fn()
    took = time.perf_counter() - start
    print(f"{what}: {took:.3f} s")
    return result, took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="assay-bench-evalsets-"))
    db = Database(args.database_url or f"sqlite:///{folder / 'bench.db'}")
    migrate.upgrade(db)
    with db.write() as session:
        user = users.create_user(
            session=session,
            user_in=schemas.UserCreate(
                email="bench@example.test", name="Bench", role="manager", password="bench-pass-1"
            ),
        )
        actor = Actor(user_id=user.id, email=user.email, role="manager")
        set_id = eval_sets.create_eval_set(
            session=session, actor=actor, set_in=EvalSetCreate(name="bench")
        ).id
    data = "\n".join(line(n) for n in range(args.items)).encode()
    print(f"{args.items} items, {len(data) / 1e6:.1f} MB of JSONL")
    items, parse_s = timed("check the file", lambda: eval_set_imports.parse_items(data, "jsonl"))

    def apply(batch: list[EvalItemIn]) -> int:
        with db.write() as session:
            found = session.get(models.EvalSet, set_id)
            version = eval_sets.apply_items(
                session=session, eval_set=found, actor=actor, items=batch
            )
            return version.number

    _, write_s = timed("write version 1", lambda: apply(items))
    edits = [
        EvalItemIn.model_validate_json(line(n, 1)) for n in range(0, args.items, args.items // 10)
    ]
    _, edit_s = timed(f"edit {len(edits)} items as version 2", lambda: apply(edits))
    with db.read() as session:
        rows = session.scalar(select(func.count()).select_from(models.EvalSetItem))
    print(f"item rows: {rows} ({rows - args.items} written by the edit)")

    def page(number: int) -> int:
        with db.read() as session:
            found = session.get(models.EvalSet, set_id)
            version = eval_sets.get_version(session=session, eval_set=found, number=number)
            result = eval_sets.list_items(
                session=session, eval_set=found, version=version, cursor=None, limit=100
            )
            return len(result.items)

    _, page1_s = timed("a page of 100 items of version 1", lambda: page(1))
    _, page2_s = timed("a page of 100 items of version 2", lambda: page(2))

    def export() -> int:
        with db.read() as session:
            found = session.get(models.EvalSet, set_id)
            version = eval_sets.get_version(session=session, eval_set=found, number=2)
            return sum(
                len(x)
                for x in eval_sets.export_lines(session=session, eval_set=found, version=version)
            )

    size, export_s = timed("export version 2", export)
    print(
        f"summary: {args.items} items, {db.engine.dialect.name}: check {parse_s:.2f} s "
        f"({args.items / parse_s:,.0f} items/s), write {write_s:.2f} s "
        f"({args.items / write_s:,.0f} items/s), edit of {len(edits)} {edit_s * 1000:.0f} ms "
        f"writing {rows - args.items} rows, page v1 {page1_s * 1000:.1f} ms / v2 "
        f"{page2_s * 1000:.1f} ms, export {export_s:.2f} s ({size / 1e6:.0f} MB)"
    )
    db.dispose()


if __name__ == "__main__":
    main()
