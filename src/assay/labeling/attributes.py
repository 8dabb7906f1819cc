"""Attribute values: type checks, conditions, and the order in which to evaluate them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.core.errors import Invalid

if TYPE_CHECKING:
    from assay.labeling.taxonomy import AttributeDef


def check_attribute_value(attr: AttributeDef, value: Any, field: str) -> Any:
    """Return `value` if it is a valid value of `attr`, else raise Invalid naming `field`."""
    kind = attr.type
    if kind == "choice":
        if type(value) is not str or value not in attr.choices:
            raise Invalid(
                f"{_show(value)} is not a choice of attribute {attr.name!r}; "
                f"allowed: {', '.join(attr.choices)}",
                field=field,
            )
        return value
    if kind == "multi_choice":
        if type(value) is not list:
            raise Invalid(
                f"attribute {attr.name!r} takes a list of choices; "
                f"allowed: {', '.join(attr.choices)}",
                field=field,
            )
        seen: set[str] = set()
        for i, item in enumerate(value):
            if type(item) is not str or item not in attr.choices:
                raise Invalid(
                    f"{_show(item)} is not a choice of attribute {attr.name!r}; "
                    f"allowed: {', '.join(attr.choices)}",
                    field=f"{field}[{i}]",
                )
            if item in seen:
                raise Invalid(f"choice {item!r} is listed twice", field=f"{field}[{i}]")
            seen.add(item)
        return list(value)
    if kind == "text":
        if type(value) is not str:
            raise Invalid(f"attribute {attr.name!r} takes text, not {_show(value)}", field=field)
        return value
    if kind == "linear_scale":
        if type(value) is not int or not attr.min <= value <= attr.max:
            raise Invalid(
                f"attribute {attr.name!r} takes a whole number from {format_number(attr.min)} to "
                f"{format_number(attr.max)}, not {_show(value)}",
                field=field,
            )
        return value
    # number
    if type(value) not in (int, float) or not math.isfinite(value):
        raise Invalid(f"attribute {attr.name!r} takes a number, not {_show(value)}", field=field)
    if (attr.min is not None and value < attr.min) or (attr.max is not None and value > attr.max):
        raise Invalid(
            f"{_show(value)} is outside the range of attribute {attr.name!r}: "
            f"{_bound(attr.min)} to {_bound(attr.max)}",
            field=field,
        )
    if attr.step is not None:
        steps = (value - (attr.min or 0)) / attr.step
        if abs(steps - round(steps)) > 1e-6 * max(1.0, abs(steps)):
            raise Invalid(
                f"{_show(value)} is not a multiple of step {format_number(attr.step)} "
                f"from {format_number(attr.min or 0)} for attribute {attr.name!r}",
                field=field,
            )
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _bound(value: float | None) -> str:
    return "any" if value is None else format_number(value)


@dataclass(frozen=True, slots=True)
class AttributeScope:
    """The attributes that apply at one place, ordered so conditions come after their target."""

    ordered: tuple[AttributeDef, ...]
    by_name: dict[str, AttributeDef]
    condition_values: dict[str, frozenset]

    @property
    def names(self) -> str:
        return ", ".join(self.by_name)


def attribute_scope(attrs: list[AttributeDef]) -> AttributeScope:
    """Order attributes so that each comes after the attribute its condition refers to."""
    by_name = {a.name: a for a in attrs}
    ordered: list[AttributeDef] = []
    placed: set[str] = set()
    pending = list(attrs)
    while pending:
        progress = False
        for attr in list(pending):
            target = attr.condition.attribute if attr.condition else None
            if target is None or target in placed or target not in by_name:
                ordered.append(attr)
                placed.add(attr.name)
                pending.remove(attr)
                progress = True
        if not progress:  # a cycle; parse_taxonomy refuses these, so keep what we have
            ordered.extend(pending)
            break
    condition_values = {
        a.name: frozenset(_hashable(v) for v in a.condition.values) for a in attrs if a.condition
    }
    return AttributeScope(tuple(ordered), by_name, condition_values)


def condition_holds(scope: AttributeScope, attr: AttributeDef, values: dict) -> bool:
    """Whether `attr` applies given the (already checked) values of the other attributes."""
    condition = attr.condition
    if condition is None:
        return True
    current = values.get(condition.attribute)
    if current is None:
        return False
    wanted = scope.condition_values[attr.name]
    if type(current) is list:
        return any(item in wanted for item in current)
    return current in wanted


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else repr(value)
