from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Job, JobLog, Page


class JobsAPI(API):
    list = endpoint("GET", "/jobs", returns=Page[Job])
    get = endpoint("GET", "/jobs/{job_id}", returns=Job)
    cancel = endpoint("POST", "/jobs/{job_id}/cancel", returns=Job)
    logs = endpoint("GET", "/jobs/{job_id}/logs", returns=Page[JobLog])
