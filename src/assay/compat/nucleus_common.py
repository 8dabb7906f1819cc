"""What the Nucleus compat routers share: loading by Nucleus ids, job answers, signed upload
URLs, and the media URLs items are shown at."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from assay.compat import nucleus_format as fmt
from assay.core import blobs, users
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.errors import Forbidden, Invalid, NotFound
from assay.core.jobs import refusals_as_user_errors  # noqa: F401  (the routers' import)
from assay.curation import (
    datasets,
    embedding_jobs,
    embedding_spaces,
    evaluations,
    hosted_runs,
    model_merges,
    models,
    object_embedding_jobs,
)
from assay.curation.policies import datasets as policy

UPLOAD_TTL_SECONDS = 3600
MEDIA_TTL_SECONDS = 24 * 3600
SEND_TO_LABELING_JOB = "nucleus.send_to_labeling"
EXPORT_EMBEDDINGS_JOB = "nucleus.export_embeddings"
DEDUPLICATE_JOB = "nucleus.deduplicate"
AUTOTAG_INFERENCE_JOB = "nucleus.autotag_inference"
# Assay job kind → Nucleus's job_type.
JOB_TYPES = {
    "nucleus.import": None,  # by the payload's `what`
    datasets.DELETE_JOB: "datasetDeletion",
    hosted_runs.RUN_JOB: "modelInferenceRun",
    SEND_TO_LABELING_JOB: "sendToLabeling",
    EXPORT_EMBEDDINGS_JOB: "exportEmbeddings",
    DEDUPLICATE_JOB: "deduplication",
    AUTOTAG_INFERENCE_JOB: "autotagInference",
    # Validate's evaluate_model_on_scenario_tests starts evaluations.
    evaluations.EVALUATE_JOB: "testEvaluation",
    # 0.22's merge_model_runs (no CustomerJobTypes member: the client reads it as a string).
    model_merges.MERGE_JOB: "mergeModelRuns",
    embedding_jobs.COMPUTE_JOB: "indexingImage",
    embedding_spaces.IMPORT_JOB: "customIndexing",
    embedding_spaces.DELETE_JOB: "embeddingDelete",
    object_embedding_jobs.COMPUTE_JOB: "indexingObject",
}
IMPORT_JOB = "nucleus.import"
IMPORT_TYPES = {
    "items": "uploadDatasetItems",
    "annotations": "uploadAnnotations",
    "predictions": "uploadPredictions",
    "delete_annotations": "annotationDeletion",
    "metadata": "metadataUpdate",
    "lidar_scenes": "uploadLidarScene",
    "video_scenes": "uploadVideoScene",
}


def load_dataset(session: Session, dataset_id: str, actor: Actor, *, write: bool = False):
    """The dataset by its Nucleus id, for reading (or writing), else NotFound."""
    dataset = datasets.get_dataset(
        session=session, dataset_id=fmt.assay_id(fmt.DATASET, dataset_id), mode=actor.mode
    )
    (policy.can_write if write else policy.can_read)(actor, dataset)
    return dataset


def body_list(body: dict[str, Any], key: str, *, required: bool = False) -> list[Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise Invalid(f"{key} is required", field=key)
        return []
    if not isinstance(value, list):
        raise Invalid(f"{key} must be a list", field=key)
    return value


def string_list(body: dict[str, Any], key: str) -> list[str]:
    """A required list of non-empty strings (tags, ids)."""
    values = body_list(body, key, required=True)
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise Invalid(f"{key} holds non-empty strings", field=f"{key}[{i}]")
    return values


def flag(body: dict[str, Any], key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool | int):
        raise Invalid(f"{key} must be true or false", field=key)
    return bool(value)


# --- jobs -------------------------------------------------------------------------------


def job_type(job: core_models.Job) -> str:
    if job.kind == IMPORT_JOB:
        return IMPORT_TYPES.get(job.payload.get("what", ""), "uploadDatasetItems")
    return JOB_TYPES.get(job.kind) or job.kind


def user_error(job: core_models.Job) -> dict[str, Any] | None:
    """The refusal a failed import recorded (JSON: error and field), None for others."""
    if job.status != "failed" or not job.error:
        return None
    try:
        found = json.loads(job.error)
    except ValueError:
        return None
    return found if isinstance(found, dict) and "error" in found else None


def job_actor(session: Session, payload: dict[str, Any]) -> Actor:
    """The actor a Nucleus job runs as: its creator, in the sandbox it was made in."""
    user = users.get_user(session=session, user_id=payload["user_id"])
    return Actor(user_id=user.id, email=user.email, role=user.role, mode=payload["mode"])


def job_status(job: core_models.Job) -> str:
    if job.status == "failed":
        return "Errored_User" if user_error(job) else "Errored_Server"
    return fmt.STATUS.get(job.status, "Running")


def job_json(job: core_models.Job) -> dict[str, Any]:
    """The kickoff / info shape (all four keys are required by the client)."""
    return {
        "job_id": fmt.nucleus_id(fmt.JOB, job.id),
        "job_last_known_status": job_status(job),
        "job_type": job_type(job),
        "job_creation_time": fmt.iso(job.created_at),
    }


# --- signed upload URLs -----------------------------------------------------------------


def _upload_signature(secret: str, user_id: str, dataset_id: str, request_id: str, exp: int) -> str:
    # The mechanism of core/blobs' signed media URLs, with its own message prefix, so
    # neither signature can stand for the other.
    message = f"assay-nucleus-upload:v1:{user_id}:{dataset_id}:{request_id}:{exp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_upload_url(
    request: Request, secret: str, *, user_id: str, dataset_id: str, request_id: str
) -> str:
    exp = int(time.time()) + UPLOAD_TTL_SECONDS
    sig = _upload_signature(secret, user_id, dataset_id, request_id, exp)
    base = str(request.base_url).rstrip("/")
    return f"{base}/v1/nucleus/upload/{dataset_id}/{request_id}?user={user_id}&exp={exp}&sig={sig}"


def verify_upload(
    secret: str, *, user_id: str, dataset_id: str, request_id: str, exp: str, sig: str
) -> None:
    if not exp.isascii() or not exp.isdigit() or len(exp) > 12:
        raise Forbidden("the upload URL needs a valid exp; ask for a new signed URL")
    expected = _upload_signature(secret, user_id, dataset_id, request_id, int(exp))
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        raise Forbidden("the upload URL's signature does not match; ask for a new signed URL")
    if int(exp) <= time.time():
        raise Forbidden("the upload URL has expired; ask for a new signed URL")


# --- media ------------------------------------------------------------------------------


class MediaUrls:
    """Absolute URLs items show their media at: remote URLs as they are, uploaded files as
    signed /media URLs on this server."""

    def __init__(self, request: Request, secret: str) -> None:
        self.base = str(request.base_url).rstrip("/")
        self.secret = secret

    def __call__(self, item: models.Item) -> str | None:
        return self.show(item.media)

    def show(self, media: str | None) -> str | None:
        if media is None or not media.startswith("blob:"):
            return media
        signed = blobs.signed_media_url(
            sha256=media[5:], secret=self.secret, ttl_seconds=MEDIA_TTL_SECONDS
        )
        return self.base + signed.url


def not_found(what: str, value: str, field: str) -> NotFound:
    return NotFound(f"no {what} {value!r}", field=field)
