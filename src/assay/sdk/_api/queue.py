from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import LeaseRenewed, Submitted


class QueueAPI(API):
    # 200 with a lease or 204 with nothing: parsed by the caller.
    next = endpoint("POST", "/projects/{project_id}/queue/next")
    heartbeat = endpoint("POST", "/tasks/{task_id}/heartbeat", returns=LeaseRenewed, retry=True)
    draft = endpoint("PUT", "/tasks/{task_id}/draft")
    submit = endpoint("POST", "/tasks/{task_id}/submit", returns=Submitted)
    skip = endpoint("POST", "/tasks/{task_id}/skip")
    review = endpoint("POST", "/tasks/{task_id}/review", returns=Submitted)
