"""Task imports from uploaded JSONL and CSV files, run by a real job worker."""

from __future__ import annotations

import json

import pytest

from assay.core import models as core_models
from assay.core.errors import Invalid, NotFound
from assay.labeling import imports, models, schemas
from tests.labeling.factories import actor_for, make_batch, make_project, upload
from tests.support.polling import wait_for


@pytest.fixture
def manager(accounts):
    return actor_for(accounts.make("manager"))


@pytest.fixture
def project(db, manager):
    return make_project(db, manager, params={"image_width": 640, "image_height": 480})


def run_import(ctx, project, manager, data: bytes, filename: str, batch=None) -> core_models.Job:
    sha = upload(ctx, manager, data, filename)
    with ctx.db.write() as session:
        job = imports.start_import(
            session=session,
            project=session.get(models.Project, project.id),
            import_in=schemas.ImportCreate(blob=sha, batch=batch.id if batch else None),
            actor=manager,
        )
    job_id = job.id

    def finished() -> bool:
        with ctx.db.read() as session:
            return session.get(core_models.Job, job_id).status in ("succeeded", "failed")

    wait_for(finished, timeout=60)
    with ctx.db.read() as session:
        return session.get(core_models.Job, job_id)


def job_log(db, job_id: str) -> list[str]:
    with db.read() as session:
        return [
            log.message
            for log in session.query(core_models.JobLog)
            .filter_by(job_id=job_id)
            .order_by(core_models.JobLog.id)
        ]


def project_tasks(db, project) -> list[models.Task]:
    with db.read() as session:
        return list(
            session.query(models.Task).filter_by(project_id=project.id).order_by(models.Task.id)
        )


def jsonl(rows: list) -> bytes:
    return b"".join(
        (row if isinstance(row, bytes) else json.dumps(row).encode()) + b"\n" for row in rows
    )


def test_jsonl_import_in_chunks_with_bad_lines_logged(db, ctx, pool, project, manager):
    rows: list = [
        {
            "unique_id": f"u{i}",
            "params": {"attachment": f"https://x.test/{i}.jpg"},
            "metadata": {"i": i},
        }
        for i in range(12_000)
    ]
    rows[3] = b"{not json"
    rows[7] = {"unique_id": "u7", "params": {}}
    rows[11] = {
        "unique_id": "u11",
        "params": {"attachment": "https://x.test/a.jpg"},
        "priority": "high",
    }
    rows[6000] = {"unique_id": "u5", "params": {"attachment": "https://x.test/5.jpg"}}
    job = run_import(ctx, project, manager, jsonl(rows), "tasks.jsonl")
    assert job.status == "succeeded", job.error
    assert job.result == {"lines": 12_000, "created": 11_996, "skipped": 1, "failed": 3}
    assert job.progress == 1.0
    log = job_log(db, job.id)
    bad = [line for line in log if line.startswith("line ")]
    assert len(bad) == 3
    assert any(line.startswith("line 4: not valid JSON") for line in bad)
    assert any(line.startswith("line 8: params.attachment") for line in bad)
    assert any(line.startswith("line 12: priority") for line in bad)
    created = project_tasks(db, project)
    assert len(created) == 11_996
    first = created[0]
    assert first.unique_id == "u0" and first.metadata_ == {"i": 0}
    assert first.params == {
        "image_width": 640,
        "image_height": 480,
        "attachment": "https://x.test/0.jpg",
    }
    assert first.stage == "label" and first.created_by == manager.user_id

    # The same file again creates nothing: every unique_id is already there.
    again = run_import(ctx, project, manager, jsonl(rows) + b"\n", "again.jsonl")
    assert again.result["created"] == 0 and again.result["skipped"] == 11_997
    assert len(project_tasks(db, project)) == 11_996


def test_csv_import_into_a_batch(db, ctx, pool, project, manager):
    batch = make_batch(db, project, manager)
    sha = upload(ctx, manager, b"\x89PNG\r\n\x1a\n" + bytes(64), "pixel.png")
    data = (
        "unique_id,attachment,text,priority,metadata.source,params.image_width,tags,extra\n"
        "a,https://x.test/a.jpg,,3,camera 1,320,day;street,x\n"
        f"b,blob:{sha},a caption,,camera 2,,,\n"
        "c,https://x.test/c.jpg,,soon,,,,\n"
        f"d,{'f' * 64},,,,,,\n"
    ).encode()
    job = run_import(ctx, project, manager, data, "tasks.csv", batch)
    assert job.status == "succeeded", job.error
    assert job.result == {"lines": 4, "created": 2, "skipped": 0, "failed": 2}
    log = job_log(db, job.id)
    assert any("unknown CSV column(s): extra" in line for line in log)
    assert any(line.startswith("line 4: priority") for line in log)
    assert any(line.startswith("line 5: params.attachment") for line in log)
    a, b = project_tasks(db, project)
    assert (a.unique_id, a.priority, a.tags, a.metadata_) == (
        "a",
        3,
        ["day", "street"],
        {"source": "camera 1"},
    )
    assert a.params["image_width"] == 320 and a.batch_id == batch.id and a.stage is None
    assert b.params["attachment"] == f"blob:{sha}" and b.params["text"] == "a caption"


def test_an_import_needs_an_uploaded_file_and_a_batch_of_the_project(db, ctx, project, manager):
    other_batch = make_batch(db, make_project(db, manager, name="other"), manager)
    sha = upload(ctx, manager, b'{"params": {}}\n', "t.jsonl")
    with db.write() as session:
        project = session.get(models.Project, project.id)
        with pytest.raises(NotFound) as missing:
            imports.start_import(
                session=session,
                project=project,
                actor=manager,
                import_in=schemas.ImportCreate(blob="0" * 64),
            )
        assert missing.value.field == "blob"
        with pytest.raises(Invalid) as foreign:
            imports.start_import(
                session=session,
                project=project,
                actor=manager,
                import_in=schemas.ImportCreate(blob=sha, batch=other_batch.id),
            )
        assert foreign.value.field == "batch"


def test_jsonl_lines_with_nan_or_infinity_fail_alone_naming_the_field(
    db, ctx, pool, project, manager
):
    good = b'{"params": {"attachment": "https://x.test/a.jpg"}, "metadata": {"score": 0.5}}'
    data = b"\n".join(
        [
            good,
            b'{"params": {"attachment": "https://x.test/b.jpg"}, "metadata": {"score": NaN}}',
            b'{"params": {"attachment": "https://x.test/c.jpg"}, "metadata": {"s": [1, 1e400]}}',
            good.replace(b"a.jpg", b"d.jpg"),
        ]
    )
    job = run_import(ctx, project, manager, data, "tasks.jsonl")
    assert job.status == "succeeded", job.error
    assert job.result == {"lines": 4, "created": 2, "skipped": 0, "failed": 2}
    bad = sorted(line for line in job_log(db, job.id) if line.startswith("line "))
    assert bad[0].startswith("line 2: metadata.score: NaN is not a JSON number"), bad
    assert bad[1].startswith("line 3: metadata.s[1]: a number this large"), bad
    assert [t.metadata_ for t in project_tasks(db, project)] == [{"score": 0.5}] * 2
