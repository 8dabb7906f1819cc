"""The rubric_grading task type: a labeler says, for each rubric criterion, met or not met.

Params: `messages` (the conversation, as in the LLM types), `responses` (exactly one: the
response under review) and `criteria`, a list of `{id, text, category}`. A criterion's points
and any judge's verdict are not params and are refused: the labeler sees every param, and a
grade given knowing the points or the judge's answer would not measure the judge.

A response holds one `verdict` annotation per criterion: `{criterion, met, comment}` with
`met` true or false and an optional free-text `comment`.
"""

from __future__ import annotations

from typing import Any

from assay.core.errors import Invalid
from assay.labeling.task_types import MAX_RUBRIC_CRITERIA, RUBRIC_CRITERION_KEYS

MAX_TEXT = 20_000
MAX_COMMENT = 5_000


def check_params(params: dict[str, Any]) -> tuple[str, ...]:
    """The criterion ids of a rubric_grading task's params, in order; Invalid naming the field."""
    responses = params.get("responses")
    if type(responses) is not list or len(responses) != 1:
        count = len(responses) if type(responses) is list else 0
        raise Invalid(
            f"a rubric_grading task reviews exactly 1 response, got {count}",
            field="params.responses",
        )
    criteria = params.get("criteria")
    if type(criteria) is not list or not criteria:
        raise Invalid(
            "a rubric_grading task needs params.criteria, a non-empty list of {id, text, category}",
            field="params.criteria",
        )
    if len(criteria) > MAX_RUBRIC_CRITERIA:
        raise Invalid(
            f"at most {MAX_RUBRIC_CRITERIA} criteria per task, got {len(criteria)}",
            field="params.criteria",
        )
    ids: dict[str, int] = {}
    for i, criterion in enumerate(criteria):
        path = f"params.criteria[{i}]"
        if type(criterion) is not dict:
            raise Invalid("a criterion is a JSON object {id, text, category}", field=path)
        extra = sorted(str(key) for key in criterion.keys() - RUBRIC_CRITERION_KEYS)
        if extra:
            raise Invalid(
                f"unknown field {extra[0]!r}; allowed: category, id, text (labelers never "
                "see points or a judge's verdict)",
                field=f"{path}.{extra[0]}",
            )
        criterion_id = criterion.get("id")
        if type(criterion_id) is not str or not criterion_id or len(criterion_id) > 200:
            raise Invalid(
                "id must be a non-empty string of at most 200 characters", field=f"{path}.id"
            )
        if criterion_id in ids:
            raise Invalid(
                f"duplicate criterion id {criterion_id!r} (also criteria[{ids[criterion_id]}])",
                field=f"{path}.id",
            )
        ids[criterion_id] = i
        text = criterion.get("text")
        if type(text) is not str or not text.strip() or len(text) > MAX_TEXT:
            raise Invalid(
                f"text must be a non-empty string of at most {MAX_TEXT} characters",
                field=f"{path}.text",
            )
        category = criterion.get("category")
        if category is not None and (type(category) is not str or len(category) > 200):
            raise Invalid(
                "category must be a string of at most 200 characters", field=f"{path}.category"
            )
    return tuple(ids)


def verdict_fields(ann: dict, path: str, criteria: tuple[str, ...]) -> dict[str, Any]:
    """The checked fields of one verdict annotation."""
    name = ann.get("criterion")
    if type(name) is not str or name not in criteria:
        what = "criterion is required" if name is None else f"criterion {name!r} is unknown"
        raise Invalid(f"{what}; allowed: {', '.join(criteria)}", field=f"{path}.criterion")
    met = ann.get("met")
    if type(met) is not bool:
        raise Invalid(f"met must be true or false, not {met!r}", field=f"{path}.met")
    out: dict[str, Any] = {"criterion": name, "met": met}
    comment = ann.get("comment")
    if comment is not None:
        if type(comment) is not str or len(comment) > MAX_COMMENT:
            raise Invalid(
                f"comment must be a string of at most {MAX_COMMENT} characters",
                field=f"{path}.comment",
            )
        if comment:
            out["comment"] = comment
    return out


def verdicts_of(response: dict | None) -> dict[str, bool]:
    """{criterion id: met} of a rubric_grading response (the last verdict per criterion)."""
    found: dict[str, bool] = {}
    for ann in (response or {}).get("annotations") or []:
        if ann.get("type", "verdict") == "verdict" and type(ann.get("met")) is bool:
            found[str(ann.get("criterion"))] = ann["met"]
    return found
