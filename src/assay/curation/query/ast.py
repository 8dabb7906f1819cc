"""The query plan: frozen nodes, and their JSON form — the contract the SDK's `F` writes too.

JSON shapes (see docs/query.md):
  {"field": ["metadata", "weather"]}            a field, one string per path segment
  {"value": 3} / {"value": "x"} / {"value": true} / {"value": ["a", "b"]}
  {"op": "=" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "in"
         | "+" | "-" | "*" | "/" | "%", "left": N, "right": N}
  {"op": "neg", "arg": N}   {"op": "not", "arg": N}   {"op": "any", "arg": N}
  {"op": "and" | "or", "args": [N, N, ...]}    n-ary, never nested in its own kind
Positions (`col`, 1-based) come from the text only; they take no part in equality or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.core.errors import InvalidQuery

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "contains", "in")
ARITHMETIC = ("+", "-", "*", "/", "%")
MAX_JSON_DEPTH = 200
KEYWORDS = ("and", "or", "not", "contains", "in", "any", "true", "false")
Scalar = float | int | str | bool


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    col: int | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return format_path(self.path)


@dataclass(frozen=True)
class Literal:
    value: Scalar | tuple[Scalar, ...]
    col: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    col: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Unary:
    op: str  # "neg", "not", "any"
    arg: Node
    col: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Bool:
    op: str  # "and", "or"
    args: tuple[Node, ...]
    col: int | None = field(default=None, compare=False)


Node = Field | Literal | Binary | Unary | Bool


def combine(op: str, left: Node, right: Node, col: int | None = None) -> Bool:
    """`a AND b` with either side already an AND folds into one n-ary node."""
    args: list[Node] = []
    for side in (left, right):
        args.extend(side.args if isinstance(side, Bool) and side.op == op else (side,))
    return Bool(op, tuple(args), col)


_BARE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def format_path(path: tuple[str, ...]) -> str:
    """The text form of a field: segments joined by dots, quoted where not a bare word."""
    parts = []
    for seg in path:
        bare = seg and set(seg) <= _BARE and seg.lower() not in KEYWORDS
        parts.append(seg if bare else '"' + seg.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ".".join(parts)


def to_json(node: Node) -> dict[str, Any]:
    if isinstance(node, Field):
        return {"field": list(node.path)}
    if isinstance(node, Literal):
        v = node.value
        return {"value": list(v) if isinstance(v, tuple) else v}
    if isinstance(node, Binary):
        return {"op": node.op, "left": to_json(node.left), "right": to_json(node.right)}
    if isinstance(node, Unary):
        return {"op": node.op, "arg": to_json(node.arg)}
    return {"op": node.op, "args": [to_json(a) for a in node.args]}


def _scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, bool | str) or (isinstance(value, int | float) and value == value):
        return value
    raise InvalidQuery(f"{where}: a value must be a number, a string or a boolean")


def from_json(data: Any, where: str = "query", depth: int = 0) -> Node:
    """Validate and rebuild a plan sent as JSON; a malformed one is an InvalidQuery naming where."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidQuery(f"{where}: the plan nests deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict):
        raise InvalidQuery(f"{where}: expected an object")
    if "field" in data:
        path = data["field"]
        if not (isinstance(path, list) and path and all(isinstance(s, str) and s for s in path)):
            raise InvalidQuery(f"{where}.field: expected a list of non-empty strings")
        return Field(tuple(path))
    if "value" in data:
        value = data["value"]
        if isinstance(value, list):
            return Literal(tuple(_scalar(v, f"{where}.value") for v in value))
        return Literal(_scalar(value, f"{where}.value"))
    op = data.get("op")
    if op in COMPARISONS or op in ARITHMETIC:
        left = from_json(data.get("left"), f"{where}.left", depth + 1)
        return Binary(op, left, from_json(data.get("right"), f"{where}.right", depth + 1))
    if op in ("neg", "not", "any"):
        return Unary(op, from_json(data.get("arg"), f"{where}.arg", depth + 1))
    if op in ("and", "or"):
        args = data.get("args")
        if not isinstance(args, list) or len(args) < 2:
            raise InvalidQuery(f"{where}.args: expected a list of at least two operands")
        node = from_json(args[0], f"{where}.args[0]", depth + 1)
        for i, arg in enumerate(args[1:], 1):
            node = combine(op, node, from_json(arg, f"{where}.args[{i}]", depth + 1))
        return node
    raise InvalidQuery(f"{where}: unknown operator {op!r}" if op else f"{where}: unknown node")


def to_text(node: Node) -> str:
    """Query text that parses back to the same plan (operands parenthesised where nested)."""

    def inner(child: Node) -> str:
        text = to_text(child)
        return text if isinstance(child, Field | Literal) else f"({text})"

    if isinstance(node, Field):
        return format_path(node.path)
    if isinstance(node, Literal):
        return _literal_text(node.value)
    if isinstance(node, Binary):
        op = node.op.upper() if node.op in ("contains", "in") else node.op
        return f"{inner(node.left)} {op} {inner(node.right)}"
    if isinstance(node, Unary):
        if node.op == "any":
            return f"ANY({to_text(node.arg)})"
        return f"NOT {inner(node.arg)}" if node.op == "not" else f"-{inner(node.arg)}"
    return f" {node.op.upper()} ".join(inner(a) for a in node.args)


def _literal_text(value: Scalar | tuple[Scalar, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_literal_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
