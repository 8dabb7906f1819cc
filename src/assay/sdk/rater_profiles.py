"""`client.rater_profiles`: what a person brings to rating work — languages, country,
profession, expertise — which human evaluations choose their raters by."""

from __future__ import annotations

from assay.sdk._api.rater_profiles import RaterProfilesAPI
from assay.sdk._http import HTTP
from assay.sdk.eval_models import RaterProfile


class RaterProfiles:
    def __init__(self, http: HTTP) -> None:
        self._api = RaterProfilesAPI(http)

    def get(self, user_id: str) -> RaterProfile:
        return self._api.get(user_id=user_id)

    def set(
        self,
        user_id: str,
        *,
        languages: list[str] | None = None,
        country: str | None = None,
        profession: str | None = None,
        expertise: list[str] | None = None,
    ) -> RaterProfile:
        """Replace the person's profile."""
        body = {
            "languages": languages or [],
            "country": country,
            "profession": profession,
            "expertise": expertise or [],
        }
        return self._api.set(user_id=user_id, json=body)
