from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.eval_models import RaterProfile


class RaterProfilesAPI(API):
    get = endpoint("GET", "/users/{user_id}/rater-profile", returns=RaterProfile)
    # A PUT replaces the whole profile: repeating it changes nothing.
    set = endpoint("PUT", "/users/{user_id}/rater-profile", returns=RaterProfile, retry=True)
