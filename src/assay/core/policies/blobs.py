"""Who may upload blobs, read them, and have the server fetch a URL.

Anyone signed in may upload. A blob is readable by the people who uploaded it, admins, and
whoever may see something that references it (a labeling project whose tasks show it):
`blob_refs.readable` works that out; to everyone else the blob does not exist (404).
"""

from assay.core import models
from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_role


def can_upload(actor: Actor) -> None:
    """Every authenticated user may upload."""


def can_read(actor: Actor, blob: models.Blob, readable: bool) -> None:
    """Metadata and signed media URLs; `readable` from `blob_refs.may_read`."""
    if not readable:
        raise NotFound(f"no blob {blob.sha256}", field="sha256")


def can_import_url(actor: Actor) -> None:
    """The server fetching a URL for the caller is an outbound request: managers and admins."""
    require_role(actor, "manager", "importing files by URL")
