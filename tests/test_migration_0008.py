"""Migration 0008 fills `blob_refs` from what already exists: uploaders, the projects whose
tasks show a blob, the projects a finished export belongs to."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from assay.core import jobs, migrate, models
from tests.labeling.factories import PNG, actor_for, add_tasks, image_task, make_project, upload


def test_existing_blobs_get_their_references(ctx, db, settings, accounts):
    owner = accounts.make("admin")
    actor = actor_for(owner)
    sha = upload(ctx, actor, PNG, "photo.png")
    export_sha = upload(ctx, actor, PNG + b"export", "export.jsonl")
    project = make_project(db, actor, name="before")
    add_tasks(db, project, actor, settings, [image_task(params={"attachment": f"blob:{sha}"})])
    with db.write() as session:
        job = jobs.enqueue(
            session=session, kind="labeling.export", payload={"project_id": project.id}, actor=actor
        )
        job.status, job.result = "succeeded", {"blob": export_sha}
    expected = {
        (sha, "user", owner.user.id),
        (export_sha, "user", owner.user.id),
        (sha, "project", project.id),
        (export_sha, "project_manager", project.id),
    }

    config = migrate.alembic_config(db)
    command.downgrade(config, "0006")
    migrate.upgrade(db)
    columns = (models.BlobRef.sha256, models.BlobRef.scope, models.BlobRef.scope_id)
    with db.read() as session:
        refs = {tuple(row) for row in session.execute(sa.select(*columns))}
    assert refs == expected
