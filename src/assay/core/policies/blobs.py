"""Who may upload blobs and read them.

For now any authenticated user may upload, read blob metadata and get signed media URLs.
Project-scoped reads (a blob readable only by people who may see a project, dataset or
evaluation set that references it) come with the labeling pillar; these functions are
where that check will go, so routers need not change.
"""

from assay.core import models
from assay.core.auth import Actor
from assay.core.policies import require_role


def can_upload(actor: Actor) -> None:
    """Every authenticated user may upload."""


def can_read(actor: Actor, blob: models.Blob) -> None:
    """Metadata and signed media URLs: every authenticated user, until project scoping."""


def can_import_url(actor: Actor) -> None:
    """The server fetching a URL for the caller is an outbound request: managers and admins."""
    require_role(actor, "manager", "importing files by URL")
