"""Task params: what each task type needs, attachments, and the labeler's view of them.

An `attachment` is an http(s) URL, a blob (`blob:<sha256>` or the bare sha256) or absent when
the task carries inline `text`. Labelers never get blob ids to fetch with a key: their view
turns blob attachments into short-lived signed `/media/...` URLs.
"""

from __future__ import annotations

import re
from typing import Any

from assay.core import blobs
from assay.core.errors import Invalid
from assay.labeling.annotations import validate_params
from assay.labeling.taxonomy import Taxonomy

BLOB_PREFIX = "blob:"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# http(s), a host, then anything without whitespace; a regex is several times faster than
# urlsplit, which matters at tens of thousands of tasks per request.
_URL = re.compile(r"(?i)https?://[^\s/?#@]+(?:[/?#]\S*)?\Z")
# Task types that show the labeler a file (image, video, audio or document).
ATTACHMENT_REQUIRED = frozenset(("image", "video", "transcription"))
# Task types that show a file or an inline text.
ATTACHMENT_OR_TEXT = frozenset(("categorization",))
# Task types that rate, rank or compare model responses.
RESPONSES_REQUIRED = frozenset(("llm_rating", "llm_ranking", "llm_comparison"))


def blob_sha(value: Any) -> str | None:
    """The sha256 an attachment names, or None for a URL (or anything else)."""
    if type(value) is not str:
        return None
    if value.startswith(BLOB_PREFIX):
        value = value[len(BLOB_PREFIX) :]
    return value if _SHA256.fullmatch(value) else None


def _check_attachment(value: Any, field: str) -> str | None:
    """Return the blob sha256 an attachment names (None for a URL); Invalid otherwise."""
    if type(value) is not str or not value.strip():
        raise Invalid("attachment must be a URL or a blob sha256 string", field=field)
    sha = blob_sha(value)
    if sha is not None:
        return sha
    if value.startswith(BLOB_PREFIX):
        raise Invalid("blob attachments are `blob:` and a 64-character sha256", field=field)
    if not _URL.match(value):
        raise Invalid(
            "attachment must be an http(s) URL, `blob:<sha256>` of an uploaded file, "
            f"or a sha256; got {value[:100]!r}",
            field=field,
        )
    if len(value) > 2000:
        raise Invalid("attachment URLs are at most 2000 characters", field=field)
    return None


def check_params(
    taxonomy: Taxonomy, task_type: str, params: dict[str, Any], path: str = "params"
) -> str | None:
    """Check a task's params for its type; returns the blob sha256 its attachment names."""
    sha = None
    attachment = params.get("attachment")
    if attachment is not None:
        sha = _check_attachment(attachment, f"{path}.attachment")
    if task_type in ATTACHMENT_REQUIRED and attachment is None:
        raise Invalid(
            f"a {task_type} task needs params.attachment (a URL or an uploaded blob)",
            field=f"{path}.attachment",
        )
    if task_type in ATTACHMENT_OR_TEXT and attachment is None and params.get("text") is None:
        raise Invalid(
            f"a {task_type} task needs params.attachment (a URL or a blob) or params.text",
            field=f"{path}.attachment",
        )
    if task_type in RESPONSES_REQUIRED and not params.get("responses"):
        raise Invalid(
            f"a {task_type} task needs params.responses (the model responses to judge)",
            field=f"{path}.responses",
        )
    try:
        validate_params(taxonomy, task_type, params)
    except Invalid as exc:
        raise Invalid(exc.message, field=rebase(exc.field, "params", path)) from None
    return sha


def rebase(field: str | None, old: str, new: str) -> str:
    """`params.text` → `tasks[3].params.text`: a field path moved under another prefix."""
    if field is None:
        return new
    if field == old or field.startswith((old + ".", old + "[")):
        return new + field[len(old) :]
    return f"{new}.{field}"


def labeler_params(params: dict[str, Any], *, secret: str, ttl_seconds: int) -> dict[str, Any]:
    """The params a labeler sees: blob attachments become signed media URLs."""
    sha = blob_sha(params.get("attachment"))
    if sha is None:
        return params
    signed = blobs.signed_media_url(sha256=sha, secret=secret, ttl_seconds=ttl_seconds)
    return {**params, "attachment": signed.url}
