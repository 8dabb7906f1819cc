"""Queries as typed Python expressions: `F("metadata.weather") == "sunny"`.

Builds the same JSON plan the server parses the query bar's text into (docs/query.md):

    (F("annotations.car") > 2) & ~F("tags").contains("blurry")
    # == the plan of: annotations.car > 2 AND NOT tags CONTAINS "blurry"

Combine with `&` (AND), `|` (OR), `~` (NOT) and parentheses, as in FiftyOne; `any_(...)`
makes object predicates hold for one and the same object.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["Expr", "F", "any_"]

Plan = dict[str, Any]


class Expr:
    """A node of a query plan; `to_json()` is what the server accepts as `query`."""

    __slots__ = ("_plan",)

    def __init__(self, plan: Plan) -> None:
        self._plan = plan

    def to_json(self) -> Plan:
        return copy.deepcopy(self._plan)

    def __repr__(self) -> str:
        return f"Expr({self._plan!r})"

    def __bool__(self) -> bool:
        raise TypeError("use & | ~ to combine query expressions, not and / or / not")

    __hash__ = None  # type: ignore[assignment]

    # comparisons
    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return _binary("=", self, other)

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return _binary("!=", self, other)

    def __lt__(self, other: object) -> Expr:
        return _binary("<", self, other)

    def __le__(self, other: object) -> Expr:
        return _binary("<=", self, other)

    def __gt__(self, other: object) -> Expr:
        return _binary(">", self, other)

    def __ge__(self, other: object) -> Expr:
        return _binary(">=", self, other)

    def contains(self, value: object) -> Expr:
        """List membership (`tags CONTAINS "x"`) or a substring of a string field."""
        return _binary("contains", self, value)

    def is_in(self, values: list[Any] | tuple[Any, ...]) -> Expr:
        """`field IN [a, b]`."""
        return Expr(
            {"op": "in", "left": self._plan, "right": {"value": [_scalar(v) for v in values]}}
        )

    # arithmetic
    def __add__(self, other: object) -> Expr:
        return _binary("+", self, other)

    def __radd__(self, other: object) -> Expr:
        return _binary("+", other, self)

    def __sub__(self, other: object) -> Expr:
        return _binary("-", self, other)

    def __rsub__(self, other: object) -> Expr:
        return _binary("-", other, self)

    def __mul__(self, other: object) -> Expr:
        return _binary("*", self, other)

    def __rmul__(self, other: object) -> Expr:
        return _binary("*", other, self)

    def __truediv__(self, other: object) -> Expr:
        return _binary("/", self, other)

    def __rtruediv__(self, other: object) -> Expr:
        return _binary("/", other, self)

    def __mod__(self, other: object) -> Expr:
        return _binary("%", self, other)

    def __rmod__(self, other: object) -> Expr:
        return _binary("%", other, self)

    def __neg__(self) -> Expr:
        return Expr({"op": "neg", "arg": self._plan})

    # logic
    def __and__(self, other: Expr) -> Expr:
        return _combine("and", self, other)

    def __or__(self, other: Expr) -> Expr:
        return _combine("or", self, other)

    def __invert__(self) -> Expr:
        return Expr({"op": "not", "arg": self._plan})


def F(*path: str) -> Expr:
    """A field: `F("metadata.camera.id")`, `F('annotations."traffic sign"')`, or segments
    given apart: `F("annotations", "traffic sign")`."""
    if not path:
        raise ValueError("F() needs a field name")
    segments = list(path) if len(path) > 1 else _split(path[0])
    if not all(isinstance(s, str) and s for s in segments):
        raise ValueError(f"invalid field {path!r}")
    return Expr({"field": segments})


def any_(expr: Expr) -> Expr:
    """ANY(...): the object predicates inside hold for one and the same object."""
    return Expr({"op": "any", "arg": expr._plan})


def _split(text: str) -> list[str]:
    """`a.b."c d"` -> ["a", "b", "c d"]."""
    segments: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                current.append(text[i])
                i += 1
            if i >= len(text):
                raise ValueError(f"unterminated quote in field {text!r}")
        elif ch == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    segments.append("".join(current))
    return segments


def _scalar(value: object) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a query value must be a number, a string or a boolean, not {value!r}")


def _operand(value: object) -> Plan:
    if isinstance(value, Expr):
        return value._plan
    if isinstance(value, list | tuple):
        return {"value": [_scalar(v) for v in value]}
    return {"value": _scalar(value)}


def _binary(op: str, left: object, right: object) -> Expr:
    return Expr({"op": op, "left": _operand(left), "right": _operand(right)})


def _combine(op: str, left: object, right: object) -> Expr:
    """`a & b & c` is one n-ary AND, as the server's parser writes it."""
    args: list[Plan] = []
    for side in (left, right):
        if not isinstance(side, Expr):
            raise TypeError("& and | combine query expressions")
        plan = side._plan
        args.extend(plan["args"] if plan.get("op") == op else [plan])
    return Expr({"op": op, "args": args})
