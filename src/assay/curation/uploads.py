"""Bulk files staged for a dataset under a request id the uploader chose
(`models.StagedUpload`), taken by the import that names them."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core.db import utcnow
from assay.core.errors import Invalid
from assay.curation import models

_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
UPLOADS = models.StagedUpload.__table__


def check_request_id(request_id: str) -> str:
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise Invalid("a request id is 1 to 64 letters, digits, '-' or '_'", field="requestId")
    return request_id


def stage(
    *, session: Session, dataset_id: str, request_id: str, sha256: str, created_by: str | None
) -> None:
    """Record the stored file under the request id (a second upload of the id replaces it)."""
    check_request_id(request_id)
    values = {
        "dataset_id": dataset_id,
        "request_id": request_id,
        "sha256": sha256,
        "created_by": created_by,
        "created_at": utcnow(),
    }
    insert = dialects.insert(UPLOADS, session.get_bind().dialect.name).values(values)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["dataset_id", "request_id"],
            set_={"sha256": sha256, "created_by": created_by, "created_at": values["created_at"]},
        )
    )


def staged(*, session: Session, dataset_id: str, request_id: str, created_by: str | None) -> str:
    """The sha256 of the file staged under the request id by this user, or Invalid."""
    check_request_id(request_id)
    sha = session.scalar(
        select(UPLOADS.c.sha256).where(
            UPLOADS.c.dataset_id == dataset_id,
            UPLOADS.c.request_id == request_id,
            UPLOADS.c.created_by == created_by,
        )
    )
    if sha is None:
        raise Invalid(
            f"nothing was uploaded for requestId {request_id!r} to this dataset; "
            "PUT the file to the signed URL first",
            field="requestId",
        )
    return sha


def forget(*, session: Session, dataset_id: str, request_id: str) -> None:
    session.execute(
        delete(UPLOADS).where(
            UPLOADS.c.dataset_id == dataset_id, UPLOADS.c.request_id == request_id
        )
    )
