"""Who may upload blobs and read them.

For now any authenticated user may upload, read blob metadata and get signed media URLs.
Project-scoped reads (a blob readable only by people who may see a project, dataset or
evaluation set that references it) come with the labeling pillar; these functions are
where that check will go, so routers need not change.
"""

from assay.core import models
from assay.core.auth import Actor


def can_upload(actor: Actor) -> None:
    """Every authenticated user may upload."""


def can_read(actor: Actor, blob: models.Blob) -> None:
    """Metadata and signed media URLs: every authenticated user, until project scoping."""
