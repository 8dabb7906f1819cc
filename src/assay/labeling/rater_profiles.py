"""Rater profiles — languages, country, profession, expertise — and choosing raters by them.

A profile filter matches a person when every field it names matches: `languages` and
`expertise` when the person has at least one of those listed, `countries` when theirs is
listed, `professions` likewise (case-insensitive). Only active labelers and reviewers are
raters. The chosen raters reach the work through a worker group (`labeling/workforce.py`):
a batch assigned to a group is served only to its members.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.db import utcnow
from assay.core.errors import NotFound
from assay.labeling import models
from assay.labeling.rater_profile_schemas import RaterFilter, RaterProfile, RaterProfileSet

RATER_ROLES = ("labeler", "reviewer")


def _folded(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(v.casefold() for v in values))


def get_profile(*, session: Session, user_id: str) -> RaterProfile:
    """The user's profile (empty when none was set); NotFound for an unknown user."""
    if session.get(core_models.User, user_id) is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    found = session.get(models.RaterProfile, user_id)
    if found is None:
        return RaterProfile(user_id=user_id)
    return RaterProfile.model_validate(found)


def set_profile(*, session: Session, user_id: str, profile_in: RaterProfileSet) -> RaterProfile:
    """Replace the user's profile (idempotent)."""
    if session.get(core_models.User, user_id) is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    found = session.get(models.RaterProfile, user_id)
    if found is None:
        found = models.RaterProfile(user_id=user_id)
        session.add(found)
    found.languages = _folded(profile_in.languages)
    found.country = profile_in.country
    found.profession = profile_in.profession
    found.expertise = _folded(profile_in.expertise)
    found.updated_at = utcnow()
    session.flush()
    return RaterProfile.model_validate(found)


def matches(profile: models.RaterProfile, wanted: RaterFilter) -> bool:
    if wanted.languages and not set(_folded(wanted.languages)) & set(profile.languages or ()):
        return False
    if wanted.countries and profile.country not in wanted.countries:
        return False
    if wanted.professions and (profile.profession or "").casefold() not in _folded(
        wanted.professions
    ):
        return False
    return not (
        wanted.expertise and not set(_folded(wanted.expertise)) & set(profile.expertise or ())
    )


def matching_raters(*, session: Session, wanted: RaterFilter) -> list[core_models.User]:
    """Active labelers and reviewers whose profile matches, by email."""
    rows = session.execute(
        select(core_models.User, models.RaterProfile)
        .join(models.RaterProfile, models.RaterProfile.user_id == core_models.User.id)
        .where(core_models.User.is_active.is_(True), core_models.User.role.in_(RATER_ROLES))
        .order_by(core_models.User.email)
    ).all()
    return [user for user, profile in rows if matches(profile, wanted)]
