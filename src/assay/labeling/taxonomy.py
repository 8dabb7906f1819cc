"""The taxonomy of a project: labels, attributes at three levels, links and LLM criteria.

`parse_taxonomy` checks both the shape (pydantic) and the meaning (names, geometries,
conditions, links) and reports the first problem as `Invalid` naming the exact field.
"""

from __future__ import annotations

import math
import re
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
)

from assay.core.errors import Invalid
from assay.labeling.attributes import check_attribute_value, format_number
from assay.labeling.task_types import (
    GEOMETRIES,
    LABELS_REQUIRED,
    LINKABLE_TASK_TYPES,
    LLM_TASK_TYPES,
    UNLABELED_TASK_TYPES,
    native_type,
)

ATTRIBUTE_TYPES = ("choice", "multi_choice", "number", "text", "linear_scale")

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# A skeleton edge: two keypoint names of the label, drawn joined (COCO's `skeleton`).
Edge = Annotated[list[Name], Field(min_length=2, max_length=2)]


def _number(value: Any) -> int | float:
    # Keeps ints as ints (linear_scale bounds) while refusing bools and numeric strings.
    if type(value) in (int, float) and math.isfinite(value):
        return value
    raise ValueError("must be a finite number")


Number = Annotated[int | float, PlainValidator(_number)]

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class _Model(BaseModel):
    # Strict: a taxonomy is JSON written by people; "5" is not silently the number 5.
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ConditionDef(_Model):
    """The attribute applies only when attribute `attribute` has a value in `in`."""

    attribute: Name
    values: list[Any] = Field(alias="in", min_length=1)


class AttributeDef(_Model):
    name: Name
    type: Literal["choice", "multi_choice", "number", "text", "linear_scale"]
    choices: list[Name] = []
    min: Number | None = None
    max: Number | None = None
    step: Number | None = None
    required: bool = False
    default: Any = None
    description: str = ""
    condition: ConditionDef | None = None


class LabelDef(_Model):
    name: Name
    geometries: list[str] = Field(
        default=[], description="Empty means every geometry of the task type except keypoints."
    )
    color: str | None = None
    attributes: list[AttributeDef] = []
    keypoints: list[Name] = Field(default=[], description="Point names, for keypoints.")
    skeleton: list[Edge] = Field(
        default=[], description="Edges between two keypoint names, drawn between the points."
    )
    description: str = ""


class LinkDef(_Model):
    name: Name
    from_labels: list[Name] = Field(default=[], description="Empty means any label.")
    to_labels: list[Name] = Field(default=[], description="Empty means any label.")
    attributes: list[AttributeDef] = []
    description: str = ""


class CriterionDef(_Model):
    name: Name
    description: str = ""
    min: int = 1
    max: int = 5
    labels: list[str] = Field(default=[], description="One caption per scale point, min first.")


class Taxonomy(_Model):
    labels: list[LabelDef] = []
    attributes: list[AttributeDef] = Field(default=[], description="On every annotation.")
    global_attributes: list[AttributeDef] = Field(default=[], description="On the whole task.")
    links: list[LinkDef] = []
    criteria: list[CriterionDef] = Field(default=[], description="llm_rating only.")
    multi_select: bool = Field(False, description="categorization: several categories.")
    allow_tie: bool = True
    allow_both_bad: bool = True
    allow_both_good: bool = True
    min_responses: int | None = Field(None, description="LLM tasks: fewest params.responses.")
    max_responses: int | None = Field(None, description="LLM tasks: most params.responses.")


# Fields that only mean something for some task types; a non-default value elsewhere is a
# mistake worth reporting rather than silently ignoring.
_TYPE_SPECIFIC: dict[str, frozenset[str]] = {
    "labels": frozenset(GEOMETRIES) - UNLABELED_TASK_TYPES,
    "links": LINKABLE_TASK_TYPES,
    "criteria": frozenset(("llm_rating",)),
    "multi_select": frozenset(("categorization",)),
    "allow_tie": frozenset(("llm_comparison",)),
    "allow_both_bad": frozenset(("llm_comparison",)),
    "allow_both_good": frozenset(("llm_comparison",)),
    "min_responses": LLM_TASK_TYPES,
    "max_responses": LLM_TASK_TYPES,
}


def parse_taxonomy(data: dict | None, task_type: str) -> Taxonomy:
    """Validate a taxonomy for a task type; raise Invalid naming the first bad field."""
    task_type = native_type(task_type)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Invalid("taxonomy must be a JSON object", field="taxonomy")
    try:
        taxonomy = Taxonomy.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_validation_error(exc, Taxonomy, "taxonomy") from None
    _check_taxonomy(taxonomy, task_type)
    return taxonomy


def taxonomy_json(taxonomy: Taxonomy) -> dict:
    """The taxonomy as plain JSON for storage; `parse_taxonomy` reads it back unchanged."""
    return taxonomy.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- pydantic errors -> field paths ----------------------------------------------------------


def invalid_from_validation_error(
    exc: ValidationError, model: type[BaseModel], prefix: str
) -> Invalid:
    """Turn the first pydantic error into Invalid with a path like `prefix.labels[2].name`."""
    error = exc.errors(include_url=False)[0]
    path, parent = pydantic_path(error["loc"], model)
    field = f"{prefix}.{path}" if path else prefix
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_input_names(parent)) if parent else ""
        name = str(error["loc"][-1])
        return Invalid(f"unknown field {name!r}; allowed: {allowed}", field=field)
    if error["type"] == "missing":
        return Invalid("this field is required", field=field)
    message = error["msg"].removeprefix("Value error, ")
    return Invalid(message[:1].lower() + message[1:], field=field)


def pydantic_path(loc: tuple, model: type[BaseModel]) -> tuple[str, type[BaseModel] | None]:
    """A pydantic `loc` as `labels[2].attributes[0].choices`, dropping union-member tags.

    Also returns the model owning the last field, for listing the allowed field names.
    """
    path = ""
    current: Any = model
    owner: type[BaseModel] | None = model
    for item in loc:
        if isinstance(item, int):
            path += f"[{item}]"
            current = _element_type(current)
            continue
        if _is_model(current):
            field_name = _field_for_input(current, item)
            owner = current
            path += f".{item}" if path else str(item)
            current = _unwrap(current.model_fields[field_name].annotation) if field_name else None
        # Anything else is a union-member tag such as 'int' or 'float': not a field.
    return path, owner


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _field_for_input(model: type[BaseModel], key: str) -> str | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return None


def _input_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated so that what remains is a model, a list or a scalar."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _element_type(annotation: Any) -> Any:
    if typing.get_origin(annotation) is list:
        return _unwrap(typing.get_args(annotation)[0])
    return None


# --- semantic checks -------------------------------------------------------------------------


def _check_taxonomy(taxonomy: Taxonomy, task_type: str) -> None:
    for name, task_types in _TYPE_SPECIFIC.items():
        if task_type not in task_types and getattr(taxonomy, name) != _default(name):
            raise Invalid(
                f"{name} does not apply to {task_type} tasks "
                f"(only to {', '.join(sorted(task_types))})",
                field=f"taxonomy.{name}",
            )
    if task_type in LABELS_REQUIRED and not taxonomy.labels:
        raise Invalid(f"a {task_type} taxonomy needs at least one label", field="taxonomy.labels")
    if task_type == "llm_rating" and not taxonomy.criteria:
        raise Invalid(
            "an llm_rating taxonomy needs at least one criterion", field="taxonomy.criteria"
        )
    _check_attributes(taxonomy.attributes, "taxonomy.attributes")
    _check_attributes(taxonomy.global_attributes, "taxonomy.global_attributes")
    _check_labels(taxonomy, task_type)
    _check_links(taxonomy)
    _check_criteria(taxonomy.criteria)
    _check_response_counts(taxonomy)


def _default(field_name: str) -> Any:
    return Taxonomy.model_fields[field_name].get_default(call_default_factory=True)


def _check_name(name: str, field: str) -> None:
    if _CONTROL_CHARS.search(name):
        raise Invalid("names cannot contain line breaks or control characters", field=field)
    if name != name.strip():
        raise Invalid(f"name {name!r} has leading or trailing spaces", field=field)


def _check_labels(taxonomy: Taxonomy, task_type: str) -> None:
    allowed = GEOMETRIES[task_type]
    seen: dict[str, int] = {}
    for i, label in enumerate(taxonomy.labels):
        path = f"taxonomy.labels[{i}]"
        _check_name(label.name, f"{path}.name")
        if label.name in seen:
            raise Invalid(
                f"duplicate label name {label.name!r} (also labels[{seen[label.name]}])",
                field=f"{path}.name",
            )
        seen[label.name] = i
        if not label.geometries:
            label.geometries = [
                g for g in allowed if g != "keypoints" or label.keypoints or len(allowed) == 1
            ]
        geometries: set[str] = set()
        for j, geometry in enumerate(label.geometries):
            if geometry not in allowed:
                raise Invalid(
                    f"geometry {geometry!r} is not allowed for {task_type} tasks; "
                    f"allowed: {', '.join(allowed)}",
                    field=f"{path}.geometries[{j}]",
                )
            if geometry in geometries:
                raise Invalid(
                    f"geometry {geometry!r} is listed twice", field=f"{path}.geometries[{j}]"
                )
            geometries.add(geometry)
        if "keypoints" in geometries and not label.keypoints:
            raise Invalid(
                "a label with the keypoints geometry needs keypoint names",
                field=f"{path}.keypoints",
            )
        if label.keypoints and "keypoints" not in geometries:
            raise Invalid(
                "keypoint names apply only to labels with the keypoints geometry",
                field=f"{path}.keypoints",
            )
        _check_unique_names(label.keypoints, f"{path}.keypoints", "keypoint")
        _check_skeleton(label, path)
        if label.color is not None and not _COLOR.match(label.color):
            raise Invalid(
                f"color {label.color!r} is not a hex color like #ff8800", field=f"{path}.color"
            )
        _check_attributes(label.attributes, f"{path}.attributes", outer=taxonomy.attributes)


def _check_skeleton(label: LabelDef, path: str) -> None:
    """Each edge joins two different keypoints of the label, and is listed once."""
    if label.skeleton and not label.keypoints:
        raise Invalid(
            "a skeleton joins keypoints: this label has no keypoint names",
            field=f"{path}.skeleton",
        )
    names = set(label.keypoints)
    seen: dict[frozenset[str], int] = {}
    for j, edge in enumerate(label.skeleton):
        for k, name in enumerate(edge):
            if name not in names:
                raise Invalid(
                    f"keypoint {name!r} is not one of this label's keypoints; "
                    f"allowed: {', '.join(label.keypoints)}",
                    field=f"{path}.skeleton[{j}][{k}]",
                )
        if edge[0] == edge[1]:
            raise Invalid(
                f"an edge joins two different keypoints, not {edge[0]!r} to itself",
                field=f"{path}.skeleton[{j}]",
            )
        key = frozenset(edge)
        if key in seen:
            raise Invalid(
                f"edge {edge[0]!r} - {edge[1]!r} is listed twice (also skeleton[{seen[key]}])",
                field=f"{path}.skeleton[{j}]",
            )
        seen[key] = j


def _check_links(taxonomy: Taxonomy) -> None:
    labels = [label.name for label in taxonomy.labels]
    known = set(labels)
    seen: dict[str, int] = {}
    for i, link in enumerate(taxonomy.links):
        path = f"taxonomy.links[{i}]"
        _check_name(link.name, f"{path}.name")
        if link.name in seen:
            raise Invalid(
                f"duplicate link name {link.name!r} (also links[{seen[link.name]}])",
                field=f"{path}.name",
            )
        seen[link.name] = i
        for side in ("from_labels", "to_labels"):
            for j, name in enumerate(getattr(link, side)):
                if name not in known:
                    raise Invalid(
                        f"label {name!r} is not in the taxonomy; allowed: {', '.join(labels)}",
                        field=f"{path}.{side}[{j}]",
                    )
            _check_unique_names(getattr(link, side), f"{path}.{side}", "label")
        _check_attributes(link.attributes, f"{path}.attributes")


def _check_criteria(criteria: list[CriterionDef]) -> None:
    seen: dict[str, int] = {}
    for i, criterion in enumerate(criteria):
        path = f"taxonomy.criteria[{i}]"
        _check_name(criterion.name, f"{path}.name")
        if criterion.name in seen:
            raise Invalid(
                f"duplicate criterion name {criterion.name!r} "
                f"(also criteria[{seen[criterion.name]}])",
                field=f"{path}.name",
            )
        seen[criterion.name] = i
        if criterion.min >= criterion.max:
            raise Invalid(
                f"min ({criterion.min}) must be less than max ({criterion.max})",
                field=f"{path}.min",
            )
        points = criterion.max - criterion.min + 1
        if criterion.labels and len(criterion.labels) != points:
            raise Invalid(
                f"labels needs one caption per scale point ({points} for "
                f"{criterion.min}..{criterion.max}), got {len(criterion.labels)}",
                field=f"{path}.labels",
            )


def _check_response_counts(taxonomy: Taxonomy) -> None:
    low, high = taxonomy.min_responses, taxonomy.max_responses
    if low is not None and low < 1:
        raise Invalid("min_responses must be at least 1", field="taxonomy.min_responses")
    if high is not None and high < 1:
        raise Invalid("max_responses must be at least 1", field="taxonomy.max_responses")
    if low is not None and high is not None and low > high:
        raise Invalid(
            f"min_responses ({low}) is greater than max_responses ({high})",
            field="taxonomy.min_responses",
        )


def _check_unique_names(names: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for j, name in enumerate(names):
        _check_name(name, f"{path}[{j}]")
        if name in seen:
            raise Invalid(f"{what} {name!r} is listed twice", field=f"{path}[{j}]")
        seen.add(name)


def _check_attributes(
    attrs: list[AttributeDef], path: str, *, outer: list[AttributeDef] | None = None
) -> None:
    """Check one list of attributes; `outer` are attributes sharing its namespace."""
    outer_names = {a.name for a in outer or []}
    own: dict[str, int] = {}
    for i, attr in enumerate(attrs):
        item = f"{path}[{i}]"
        _check_name(attr.name, f"{item}.name")
        if attr.name in own:
            raise Invalid(
                f"duplicate attribute name {attr.name!r} (also {path}[{own[attr.name]}])",
                field=f"{item}.name",
            )
        if attr.name in outer_names:
            raise Invalid(
                f"attribute {attr.name!r} is already defined for every annotation "
                "(taxonomy.attributes)",
                field=f"{item}.name",
            )
        own[attr.name] = i
        _check_attribute_def(attr, item)
    scope = {a.name: a for a in [*(outer or []), *attrs]}
    for i, attr in enumerate(attrs):
        if attr.condition is not None:
            _check_condition(attr, scope, f"{path}[{i}].condition")
    for i, attr in enumerate(attrs):
        _check_no_cycle(attr, scope, f"{path}[{i}].condition")


def _check_attribute_def(attr: AttributeDef, path: str) -> None:
    kind = attr.type
    if kind in ("choice", "multi_choice"):
        if not attr.choices:
            raise Invalid(f"a {kind} attribute needs at least one choice", field=f"{path}.choices")
        _check_unique_names(attr.choices, f"{path}.choices", "choice")
    elif attr.choices:
        raise Invalid(
            f"choices apply only to choice and multi_choice attributes, not {kind}",
            field=f"{path}.choices",
        )
    ranged = ("number", "linear_scale")
    for bound in ("min", "max", "step"):
        value = getattr(attr, bound)
        if value is not None and (kind not in ranged or (bound == "step" and kind != "number")):
            allowed = "number attributes" if bound == "step" else "number and linear_scale"
            raise Invalid(f"{bound} applies only to {allowed}, not {kind}", field=f"{path}.{bound}")
    if kind == "linear_scale":
        for bound in ("min", "max"):
            value = getattr(attr, bound)
            if type(value) is not int:
                raise Invalid(
                    f"a linear_scale attribute needs a whole-number {bound}",
                    field=f"{path}.{bound}",
                )
        if attr.min >= attr.max:
            raise Invalid(
                f"min ({attr.min}) must be less than max ({attr.max})", field=f"{path}.min"
            )
    if attr.min is not None and attr.max is not None and attr.min > attr.max:
        raise Invalid(
            f"min ({format_number(attr.min)}) is greater than max ({format_number(attr.max)})",
            field=f"{path}.min",
        )
    if attr.step is not None and attr.step <= 0:
        raise Invalid("step must be greater than 0", field=f"{path}.step")
    if attr.default is not None:
        check_attribute_value(attr, attr.default, f"{path}.default")


def _check_condition(attr: AttributeDef, scope: dict[str, AttributeDef], path: str) -> None:
    condition = attr.condition
    assert condition is not None
    target = scope.get(condition.attribute)
    if target is None or target is attr:
        others = ", ".join(name for name in scope if name != attr.name)
        allowed = f"allowed: {others}" if others else "there are no other attributes here"
        raise Invalid(
            f"condition refers to unknown attribute {condition.attribute!r}; {allowed}",
            field=f"{path}.attribute",
        )
    if target.type == "text":
        raise Invalid(
            f"condition cannot refer to text attribute {target.name!r}; "
            "use a choice, multi_choice, number or linear_scale attribute",
            field=f"{path}.attribute",
        )
    # A multi_choice target is tested one choice at a time, like a choice.
    single = (
        target.model_copy(update={"type": "choice"}) if target.type == "multi_choice" else target
    )
    for k, value in enumerate(condition.values):
        check_attribute_value(single, value, f"{path}.in[{k}]")


def _check_no_cycle(attr: AttributeDef, scope: dict[str, AttributeDef], path: str) -> None:
    seen = [attr.name]
    current = attr
    while current.condition is not None:
        name = current.condition.attribute
        if name == attr.name:
            raise Invalid(
                f"conditions form a cycle: {' -> '.join([*seen, name])}",
                field=f"{path}.attribute",
            )
        if name in seen or name not in scope:
            return
        seen.append(name)
        current = scope[name]
