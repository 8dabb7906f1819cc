"""Task params: what each task type needs, attachments, and the labeler's view of them.

An `attachment` is an http(s) URL, a blob (`blob:<sha256>` or the bare sha256) or absent when
the task carries inline `text`. Labelers never get blob ids to fetch with a key: their view
turns blob attachments into short-lived signed `/media/...` URLs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
RESPONSES_REQUIRED = frozenset(("llm_rating", "llm_ranking", "llm_comparison", "rubric_grading"))
# The kinds of file (the major part of the sniffed content type) an uploaded blob may be where
# a task type shows it: a text file in an image project cannot be labeled. A video task's
# attachment may be a still image (a frame or a poster) as well as a video.
_MEDIA_KINDS = {
    ("image", "params.attachment"): ("image",),
    ("video", "params.attachment"): ("video", "image"),
    ("video", "params.frames"): ("image",),
}


def blob_sha(value: Any) -> str | None:
    """The sha256 an attachment names, or None for a URL (or anything else)."""
    if type(value) is not str:
        return None
    if value.startswith(BLOB_PREFIX):
        value = value[len(BLOB_PREFIX) :]
    return value if len(value) == 64 and _SHA256.fullmatch(value) else None


def _check_attachment(value: Any, field: str) -> str | None:
    """Return the blob sha256 an attachment names (None for a URL); Invalid otherwise."""
    if type(value) is str and len(value) <= 2000 and _URL.match(value):
        return None  # the common case, settled first
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


# The params `validate_params` reads (through geometry.Limits.from_params). Params holding
# none of them pass or fail it exactly as `{}` does: a bulk check asks once per request.
_LIMIT_KEYS = frozenset(
    ("image_width", "image_height", "frame_count", "text", "responses", "criteria")
)


# Video tasks may carry their frames as a list of attachments (URLs or blobs).
MAX_FRAMES = 20_000


def _check_frames(frames: Any) -> list[tuple[str, str]]:
    if not isinstance(frames, list) or not frames:
        raise Invalid(
            "params.frames must be a non-empty list of attachments", field="params.frames"
        )
    if len(frames) > MAX_FRAMES:
        raise Invalid(f"at most {MAX_FRAMES} frames per task", field="params.frames")
    blobs_named = []
    for i, frame in enumerate(frames):
        field = f"params.frames[{i}]"
        sha = _check_attachment(frame, field)
        if sha is not None:
            blobs_named.append((sha, field))
    return blobs_named


def media_problem(task_type: str, field: str, content_type: str, filename: str) -> str | None:
    """Why an uploaded blob cannot be shown at `field` of a task of this type (None if it can)."""
    wanted = _MEDIA_KINDS.get((task_type, field.partition("[")[0]))
    if wanted is None or content_type.partition("/")[0] in wanted:
        return None
    name = f"{filename!r} " if filename else ""
    kinds = " or ".join(("an " if kind == "image" else "a ") + kind for kind in wanted)
    return f"the file {name}is {content_type}, not {kinds}: a {task_type} task cannot show it"


def params_checker(
    taxonomy: Taxonomy, task_type: str
) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    """A check of task params for one project: call it with each task's params; it returns
    the blobs they name, as (sha256, field) pairs, and raises Invalid(field="params....").

    Everything that depends only on the project (task type rules, the taxonomy's limits) is
    settled here once, not once per task of a 10,000-task request.
    """
    needs_attachment = task_type in ATTACHMENT_REQUIRED
    needs_attachment_or_text = task_type in ATTACHMENT_OR_TEXT
    needs_responses = task_type in RESPONSES_REQUIRED
    try:
        validate_params(taxonomy, task_type, {})
        bare_problem: Invalid | None = None
    except Invalid as exc:
        bare_problem = exc

    def check(params: dict[str, Any]) -> list[tuple[str, str]]:
        named: list[tuple[str, str]] = []
        attachment = params.get("attachment")
        frames = params.get("frames")
        if frames is not None:
            named = _check_frames(frames)
        if attachment is not None:
            sha = _check_attachment(attachment, "params.attachment")
            if sha is not None:
                named.append((sha, "params.attachment"))
        elif needs_attachment and frames is None:
            raise Invalid(
                f"a {task_type} task needs params.attachment (a URL or an uploaded blob)"
                + (" or params.frames" if task_type == "video" else ""),
                field="params.attachment",
            )
        elif needs_attachment_or_text and params.get("text") is None:
            raise Invalid(
                f"a {task_type} task needs params.attachment (a URL or a blob) or params.text",
                field="params.attachment",
            )
        if needs_responses and not params.get("responses"):
            raise Invalid(
                f"a {task_type} task needs params.responses (the model responses to judge)",
                field="params.responses",
            )
        if _LIMIT_KEYS.isdisjoint(params):
            if bare_problem is not None:
                raise Invalid(bare_problem.message, field=bare_problem.field)
        else:
            validate_params(taxonomy, task_type, params)
        return named

    return check


def rebase(field: str | None, old: str, new: str) -> str:
    """`params.text` → `tasks[3].params.text`: a field path moved under another prefix."""
    if field is None:
        return new
    if field == old or field.startswith((old + ".", old + "[")):
        return new + field[len(old) :]
    return f"{new}.{field}"


def labeler_params(params: dict[str, Any], *, secret: str, ttl_seconds: int) -> dict[str, Any]:
    """The params a labeler sees: blob attachments (and video frames) become signed media
    URLs."""

    def signed(value: Any) -> Any:
        sha = blob_sha(value)
        if sha is None:
            return value
        return blobs.signed_media_url(sha256=sha, secret=secret, ttl_seconds=ttl_seconds).url

    view = params
    if blob_sha(params.get("attachment")) is not None:
        view = {**view, "attachment": signed(params["attachment"])}
    frames = params.get("frames")
    if isinstance(frames, list) and any(blob_sha(f) is not None for f in frames):
        view = {**view, "frames": [signed(f) for f in frames]}
    return view
