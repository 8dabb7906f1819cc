"""people and the test-key sandbox: idempotency records per key mode, login throttles,
blob references

- `idempotency_records` gains `mode` in its primary key: the same Idempotency-Key sent with
  a live and a test key are two requests, never a replay of each other.
- `login_throttles`: failed sign-ins per account and per client address, shared by every
  server process, for rate limits and temporary lockouts.
- `blob_refs`: who may read a blob — its uploaders (`user`), the projects whose tasks show
  it (`project`) and the projects it is an export of (`project_manager`); filled here from
  existing blobs, tasks and export jobs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:20:00
"""

import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import assay.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHA256 = re.compile(r"(?:blob:)?([0-9a-f]{64})")


def _loaded(value: object) -> dict:
    """A JSON column's value (SQLite returns text through a plain text query)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _named_blobs(params: object) -> set[str]:
    """The sha256s a task's params show (attachment, video frames), as task_params reads them."""
    params = _loaded(params)
    if not params:
        return set()
    values = [params.get("attachment")]
    if isinstance(params.get("frames"), list):
        values += params["frames"]
    return {m.group(1) for v in values if isinstance(v, str) and (m := _SHA256.fullmatch(v))}


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records", recreate="always") as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=8), nullable=False, server_default="live")
        )
        batch_op.drop_constraint("pk_idempotency_records", type_="primary")
        batch_op.create_primary_key("pk_idempotency_records", ["user_id", "mode", "key"])
    with op.batch_alter_table("idempotency_records") as batch_op:
        batch_op.alter_column("mode", server_default=None)

    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", assay.core.db.UTCDateTime(), nullable=False),
        sa.Column("locked_until", assay.core.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_index(
        op.f("ix_login_throttles_window_started_at"),
        "login_throttles",
        ["window_started_at"],
        unique=False,
    )

    op.create_table(
        "blob_refs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blobs.sha256"], name=op.f("fk_blob_refs_sha256_blobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sha256", "scope", "scope_id", name=op.f("pk_blob_refs")),
    )
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "INSERT INTO blob_refs (sha256, scope, scope_id) "
            "SELECT sha256, 'user', created_by FROM blobs WHERE created_by IS NOT NULL"
        )
    )
    stored = {row[0] for row in conn.execute(sa.text("SELECT sha256 FROM blobs"))}
    if not stored:
        return
    refs: set[tuple[str, str]] = set()
    for project_id, params in conn.execute(sa.text("SELECT project_id, params FROM tasks")):
        if project_id is not None:
            refs.update((sha, project_id) for sha in _named_blobs(params) if sha in stored)
    exports: set[tuple[str, str]] = set()
    finished = sa.text(
        "SELECT payload, result FROM jobs WHERE kind = 'labeling.export' AND status = 'succeeded'"
    )
    for payload, result in conn.execute(finished):
        payload, result = _loaded(payload), _loaded(result)
        sha, project_id = result.get("blob"), payload.get("project_id")
        if sha in stored and isinstance(project_id, str):
            exports.add((sha, project_id))
    for scope, pairs in (("project", refs), ("project_manager", exports)):
        rows = [{"sha256": sha, "scope_id": project_id} for sha, project_id in sorted(pairs)]
        for start in range(0, len(rows), 1000):
            conn.execute(
                sa.text(
                    "INSERT INTO blob_refs (sha256, scope, scope_id) "
                    f"VALUES (:sha256, '{scope}', :scope_id)"
                ),
                rows[start : start + 1000],
            )


def downgrade() -> None:
    op.drop_table("blob_refs")
    op.drop_index(op.f("ix_login_throttles_window_started_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
    op.execute("DELETE FROM idempotency_records WHERE mode <> 'live'")
    with op.batch_alter_table("idempotency_records", recreate="always") as batch_op:
        batch_op.drop_constraint("pk_idempotency_records", type_="primary")
        batch_op.create_primary_key("pk_idempotency_records", ["user_id", "key"])
        batch_op.drop_column("mode")
