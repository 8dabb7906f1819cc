from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import Provider, ProviderCheckResult
from assay.sdk.models import Page


class ProvidersAPI(API):
    create = endpoint("POST", "/providers", returns=Provider, create=True)
    list = endpoint("GET", "/providers", returns=Page[Provider])
    get = endpoint("GET", "/providers/{provider_id}", returns=Provider)
    update = endpoint("PATCH", "/providers/{provider_id}", returns=Provider)
    delete = endpoint("DELETE", "/providers/{provider_id}")
    check = endpoint("POST", "/providers/{provider_id}/check", returns=ProviderCheckResult)
