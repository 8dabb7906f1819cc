"""Rater profiles under /api/v1/users/{user_id}/rater-profile: languages, country,
profession and expertise, which human evaluations choose their raters by."""

from __future__ import annotations

from fastapi import APIRouter

from assay.api.deps import CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.labeling import rater_profile_schemas as schemas
from assay.labeling import rater_profiles
from assay.labeling.policies import rater_profiles as policy

router = APIRouter(tags=["rater_profiles"], route_class=JsonRoute)


@router.get(
    "/users/{user_id}/rater-profile",
    response_model=schemas.RaterProfile,
    operation_id="get_rater_profile",
)
def get_rater_profile(user_id: str, actor: CurrentActor, db: Db) -> schemas.RaterProfile:
    policy.can_read(actor, user_id)
    with db.read() as session:
        return rater_profiles.get_profile(session=session, user_id=user_id)


@router.put(
    "/users/{user_id}/rater-profile",
    response_model=schemas.RaterProfile,
    operation_id="set_rater_profile",
)
def set_rater_profile(
    user_id: str, profile_in: schemas.RaterProfileSet, actor: CurrentActor, db: Db
) -> schemas.RaterProfile:
    """Replace the person's profile (idempotent)."""
    policy.can_set(actor)
    with db.write() as session:
        return rater_profiles.set_profile(session=session, user_id=user_id, profile_in=profile_in)
