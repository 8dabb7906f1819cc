"""Schemas of rater profiles and of the filters that choose raters by them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from assay.core.schemas import Schema

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]


class RaterProfileSet(Schema):
    languages: list[Word] = Field(default_factory=list, max_length=50)
    country: Country | None = Field(None, description="ISO 3166-1 alpha-2, e.g. FR.")
    profession: Word | None = None
    expertise: list[Word] = Field(default_factory=list, max_length=50)


class RaterProfile(RaterProfileSet):
    user_id: str


class RaterFilter(Schema):
    """Who may rate: each field given must match (any of its values); none given: anyone."""

    languages: list[Word] = Field(default_factory=list, max_length=50)
    countries: list[Country] = Field(default_factory=list, max_length=250)
    professions: list[Word] = Field(default_factory=list, max_length=50)
    expertise: list[Word] = Field(default_factory=list, max_length=50)

    def is_empty(self) -> bool:
        return not (self.languages or self.countries or self.professions or self.expertise)
