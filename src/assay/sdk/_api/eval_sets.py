from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import (
    CanaryCheckResult,
    EvalItem,
    EvalItemPage,
    EvalSet,
    EvalSetOwners,
    EvalSetRead,
    EvalSetVersion,
)
from assay.sdk.models import Job, Page


class EvalSetsAPI(API):
    create = endpoint("POST", "/eval-sets", returns=EvalSet, create=True)
    list = endpoint("GET", "/eval-sets", returns=Page[EvalSet])
    get = endpoint("GET", "/eval-sets/{set_id}", returns=EvalSet)
    # Sealing a sealed set changes nothing.
    seal = endpoint("POST", "/eval-sets/{set_id}/seal", returns=EvalSet, retry=True)
    owners = endpoint("GET", "/eval-sets/{set_id}/owners", returns=EvalSetOwners)
    add_owner = endpoint("POST", "/eval-sets/{set_id}/owners", returns=EvalSetOwners, retry=True)
    # Importing the same file twice changes nothing the second time.
    import_file = endpoint("POST", "/eval-sets/{set_id}/imports", returns=Job, retry=True)
    remove = endpoint("POST", "/eval-sets/{set_id}/items/remove", returns=EvalSetVersion)
    versions = endpoint("GET", "/eval-sets/{set_id}/versions", returns=Page[EvalSetVersion])
    version = endpoint("GET", "/eval-sets/{set_id}/versions/{number}", returns=EvalSetVersion)
    items = endpoint("GET", "/eval-sets/{set_id}/items", returns=EvalItemPage)
    item = endpoint("GET", "/eval-sets/{set_id}/items/{item_id}", returns=EvalItem)
    teaser = endpoint("GET", "/eval-sets/{set_id}/teaser", returns=EvalItemPage)
    export = endpoint("GET", "/eval-sets/{set_id}/export")
    reads = endpoint("GET", "/eval-sets/{set_id}/reads", returns=Page[EvalSetRead])
    check_canaries = endpoint("POST", "/eval-sets/canary-check", returns=CanaryCheckResult)
