from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Batch, Page


class BatchesAPI(API):
    create = endpoint("POST", "/projects/{project_id}/batches", returns=Batch, create=True)
    list = endpoint("GET", "/batches", returns=Page[Batch])
    get = endpoint("GET", "/batches/{batch_id}", returns=Batch)
    # Finalizing twice changes nothing, so a retry is harmless.
    finalize = endpoint("POST", "/batches/{batch_id}/finalize", returns=Batch, retry=True)
    set_metadata = endpoint("PUT", "/batches/{batch_id}/metadata", returns=Batch)
    # Pausing a paused batch, resuming one in progress, canceling a canceled one: no change.
    pause = endpoint("POST", "/batches/{batch_id}/pause", returns=Batch, retry=True)
    resume = endpoint("POST", "/batches/{batch_id}/resume", returns=Batch, retry=True)
    cancel = endpoint("POST", "/batches/{batch_id}/cancel", returns=Batch, retry=True)
