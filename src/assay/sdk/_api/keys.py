from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import ApiKey, ApiKeyCreated, Page


class KeysAPI(API):
    # Not `create=True`: POST /keys does not honour Idempotency-Key yet, so a create is
    # sent once and never retried (a retry could leave an orphan key).
    create = endpoint("POST", "/keys", returns=ApiKeyCreated)
    list = endpoint("GET", "/keys", returns=Page[ApiKey])
    revoke = endpoint("DELETE", "/keys/{key_id}", returns=ApiKey)
