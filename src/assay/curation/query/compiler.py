"""The plan compiled to Polars over one snapshot, type-checked against its schema.

Item view: a boolean expression over the items frame. Object predicates (annotation.*,
prediction.*, object.*) are evaluated over the objects frame and folded to their items
("has an object such that …"), label counts come from the snapshot's per-item count arrays;
both enter the expression as precomputed columns, computed once per query.
Object view: a boolean expression over the objects frame; item predicates apply to each
object's item.

Grouping rule (item view): inside AND / OR, the object predicates of one scope (ground truth,
one model, any model, any object) hold for the SAME object; NOT and item predicates stand on
their own, so `NOT annotation.label = "car"` is "has no car". `ANY(...)` groups explicitly.
A comparison with a null side is false (so NOT of it is true).

Conditions known as whole masks before any Polars runs — string compares over the
snapshot's codes, object predicates folded to their items, scopes — stay numpy arrays
(`Cond`) and are combined with numpy; they enter a Polars expression only next to a
condition that needs one. A query made only of them never runs Polars (the selective query
bar's usual case: a round trip of 1,000,000 booleans into Polars and back cost more than
the query).
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import polars as pl

from assay.core.errors import InvalidQuery
from assay.curation.query.ast import ARITHMETIC, Binary, Bool, Field, Literal, Node, Unary
from assay.curation.query.fields import ROOTS, Resolved, resolve
from assay.curation.query.frames import GT, QueryFrames

VIEWS = ("items", "objects")
_ANY_OBJECT = "<any object>"

# A condition: a Polars expression, or a boolean mask over the view's frame (no nulls).
Cond = pl.Expr | np.ndarray
_ORDERING = ("<", "<=", ">", ">=")


def compile_query(node: Node, frames: QueryFrames, view: str = "items") -> pl.Expr:
    """The plan as a boolean expression over the view's frame (items or objects)."""
    if view not in VIEWS:
        raise InvalidQuery(f'unknown view "{view}" (expected "items" or "objects")')
    return _expr(_condition(node, frames, view))


def evaluate(node: Node, frames: QueryFrames, view: str = "items") -> pl.Series:
    """The view's boolean mask for the plan (no nulls)."""
    return pl.Series("match", evaluate_mask(node, frames, view))


def evaluate_mask(node: Node, frames: QueryFrames, view: str = "items") -> np.ndarray:
    """The view's boolean mask for the plan, as numpy."""
    frame = frames.items if view == "items" else frames.objects
    return _mask(frame, _condition(node, frames, view))


def _condition(node: Node, frames: QueryFrames, view: str) -> Cond:
    if view not in VIEWS:
        raise InvalidQuery(f'unknown view "{view}" (expected "items" or "objects")')
    compiler = _Compiler(frames)
    node = compiler.unquoted(node)
    return compiler.item_cond(node) if view == "items" else compiler.object_cond(node)


def _expr(cond: Cond) -> pl.Expr:
    return pl.lit(pl.Series(cond)) if isinstance(cond, np.ndarray) else cond


def _mask(frame: pl.DataFrame, cond: Cond) -> np.ndarray:
    if isinstance(cond, np.ndarray):
        return cond
    return frame.select(cond.alias("m")).to_series().to_numpy().astype(bool, copy=False)


def _combine(op: str, parts: list[Cond]) -> Cond:
    """AND / OR of conditions: the masks with numpy, the expressions with Polars."""
    masks = [p for p in parts if isinstance(p, np.ndarray)]
    exprs = [p for p in parts if not isinstance(p, np.ndarray)]
    combine = np.logical_and if op == "and" else np.logical_or
    mask = functools.reduce(combine, masks) if masks else None
    if not exprs:
        return mask
    both = exprs if mask is None else [*exprs, _expr(mask)]
    return functools.reduce(operator.and_ if op == "and" else operator.or_, both)


def _not(cond: Cond) -> Cond:
    return ~cond


def _at(node: Node) -> str:
    return f" at column {node.col}" if node.col else ""


def _describe(node: Node, kind: str) -> str:
    if isinstance(node, Field):
        return f"{node.name} (a {kind} field)"
    if isinstance(node, Literal):
        shown = f'"{node.value}"' if isinstance(node.value, str) else str(node.value).lower()
        return f"{shown} (a {kind})"
    op = f' ("{node.op}"{_at(node)})' if isinstance(node, Binary | Bool) else ""
    return f"a {kind} expression{op}"


class _Compiler:
    def __init__(self, frames: QueryFrames) -> None:
        self.frames = frames

    # --- fields and scopes -------------------------------------------------------------
    def field(self, node: Field) -> Resolved:
        return resolve(node, self.frames)

    def scopes(self, node: Node) -> set[str]:
        """Object scopes of the object fields in `node`, not looking under NOT or ANY."""
        if isinstance(node, Field):
            found = self.field(node)
            return {found.scope or _ANY_OBJECT} if found.level == "object" else set()
        if isinstance(node, Binary):
            return self.scopes(node.left) | self.scopes(node.right)
        if isinstance(node, Bool):
            return set().union(*(self.scopes(a) for a in node.args))
        if isinstance(node, Unary) and node.op == "neg":
            return self.scopes(node.arg)
        return set()

    def scope_mask(self, scope: str) -> np.ndarray | None:
        if scope == _ANY_OBJECT:
            return None
        return self.frames.object_mask_of(None if scope == "*" else scope)

    # --- conditions ---------------------------------------------------------------------
    def item_cond(self, node: Node) -> Cond:
        if isinstance(node, Bool):
            plain: list[Node] = []
            groups: dict[frozenset[str], list[Node]] = {}
            for arg in node.args:
                key = None if isinstance(arg, Unary) else frozenset(self.scopes(arg))
                (groups.setdefault(key, []) if key else plain).append(arg)
            parts = [self.item_cond(a) for a in plain]
            for members in groups.values():
                inner = members[0] if len(members) == 1 else Bool(node.op, tuple(members), node.col)
                parts.append(self.any_of(inner))
            return _combine(node.op, parts)
        if isinstance(node, Unary) and node.op == "not":
            return _not(self.item_cond(node.arg))
        if isinstance(node, Unary) and node.op == "any":
            return self.any_of(node.arg)
        if self.scopes(node):
            return self.any_of(node)
        return self.atom(node, "item")

    def object_cond(self, node: Node) -> Cond:
        if isinstance(node, Bool):
            return _combine(node.op, [self.object_cond(a) for a in node.args])
        if isinstance(node, Unary) and node.op == "not":
            return _not(self.object_cond(node.arg))
        if isinstance(node, Unary) and node.op == "any":
            return self.broadcast_mask(self.any_of(node.arg))
        scopes = self.scopes(node)
        if not scopes:
            return self.broadcast_mask(self.atom(node, "item"))
        parts = [self.atom(node, "object")]
        for scope in scopes:
            mask = self.scope_mask(scope)
            if mask is not None:
                parts.append(mask)
        return _combine("and", parts)

    def any_of(self, node: Node) -> np.ndarray:
        """Items with an object satisfying `node`, as a precomputed mask."""
        return self.frames.any_per_item(_mask(self.frames.objects, self.object_cond(node)))

    def broadcast_mask(self, item_cond: Cond) -> np.ndarray:
        """An item-level condition carried to each object of the item."""
        return _mask(self.frames.items, item_cond)[self.frames.item_row]

    def broadcast(self, item_expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        """An item-level expression carried to each object of the item."""
        values = self.frames.items.select(item_expr.alias("v")).to_series()
        return pl.lit(values.gather(pl.Series(self.frames.item_row)).cast(dtype))

    def atom(self, node: Node, level: str) -> Cond:
        if isinstance(node, Binary) and node.op not in ARITHMETIC:
            found = self.compare(node, level)
            return found if isinstance(found, np.ndarray) else found.fill_null(False)
        expr, kind = self.value(node, level)
        if kind != "bool":
            raise InvalidQuery(
                f"expected a condition, found {_describe(node, kind)}",
                column=node.col,
                token=node.name if isinstance(node, Field) else None,
            )
        return expr.fill_null(False)

    def compare(self, node: Binary, level: str) -> Cond:
        op = node.op
        fast = self.string_codes_compare(node, level)
        if fast is not None:
            return fast
        if op == "in" and isinstance(node.right, Literal) and isinstance(node.right.value, tuple):
            return self.is_in(node, level)
        left, lkind = self.value(node.left, level)
        right, rkind = self.value(node.right, level)
        if op in ("contains", "in"):
            container, ckind, member, mkind, mnode = (
                (left, lkind, right, rkind, node.right)
                if op == "contains"
                else (right, rkind, left, lkind, node.left)
            )
            cnode = node.left if op == "contains" else node.right
            if ckind == "list" and mkind in ("string", "number", "bool"):
                return container.list.contains(member)
            if ckind == "string" and mkind == "string":
                return container.cast(pl.Utf8).str.contains(member, literal=True)
            raise self.mismatch(node, cnode, ckind, mnode, mkind, "a list or a string")
        if lkind != rkind or lkind == "list" or (op in _ORDERING and lkind == "bool"):
            if lkind == "list" or rkind == "list":
                listed = node.left if lkind == "list" else node.right
                raise InvalidQuery(
                    f'"{op}"{_at(node)} cannot take {_describe(listed, "list")}; '
                    "use CONTAINS or IN for list membership",
                    column=node.col,
                    token=op,
                )
            raise self.mismatch(node, node.left, lkind, node.right, rkind)
        if lkind == "string" and op in _ORDERING:
            left, right = left.cast(pl.Utf8), right.cast(pl.Utf8)
        return {
            "=": operator.eq,
            "!=": operator.ne,
            "<": operator.lt,
            "<=": operator.le,
            ">": operator.gt,
            ">=": operator.ge,
        }[op](left, right)

    def unquoted(self, node: Node) -> Node:
        """The plan with Nucleus's unquoted values read as strings (see `bare_words`)."""
        if isinstance(node, Bool):
            return Bool(node.op, tuple(self.unquoted(a) for a in node.args), node.col)
        if isinstance(node, Unary) and node.op in ("not", "any"):
            return Unary(node.op, self.unquoted(node.arg), node.col)
        if isinstance(node, Binary) and node.op not in ARITHMETIC:
            return self.bare_words(node)
        return node

    def bare_words(self, node: Binary) -> Binary:
        """Nucleus's unquoted values: in `metadata.weather = rainy` a bare word that names no
        field is the string "rainy" when the other side is a string or list field."""

        def bare(side: Node) -> bool:
            return isinstance(side, Field) and len(side.path) == 1 and side.path[0] not in ROOTS

        def stringy(side: Node) -> bool:
            return isinstance(side, Field) and self.field(side).type in ("string", "list")

        left, right = node.left, node.right
        if bare(right) and stringy(left):
            right = Literal(right.path[0], right.col)  # type: ignore[union-attr]
        elif bare(left) and stringy(right) and node.op in ("=", "!=", "in"):
            left = Literal(left.path[0], left.col)  # type: ignore[union-attr]
        return (
            node
            if (left, right) == (node.left, node.right)
            else Binary(node.op, left, right, node.col)
        )

    def string_codes_compare(self, node: Binary, level: str) -> np.ndarray | None:
        """`field = "x"`, `!=`, `IN [...]` on a string column as integer compares over the
        snapshot's codes of that column (same result, no string compare per row)."""
        field, literal = node.left, node.right
        if node.op in ("=", "!=") and isinstance(field, Literal):
            field, literal = literal, field
        if not (isinstance(field, Field) and isinstance(literal, Literal)):
            return None
        values = literal.value if isinstance(literal.value, tuple) else (literal.value,)
        if node.op not in ("=", "!=", "in") or not all(isinstance(v, str) for v in values):
            return None
        if node.op == "in" and not isinstance(literal.value, tuple):
            return None
        found = self.field(field)
        if found.type != "string" or found.column is None or found.level != level:
            return None
        codes = self.frames.codes_of("items" if level == "item" else "objects", found.column)
        wanted = [codes.index(str(v)) for v in values]
        if node.op in ("=", "in"):  # a value absent from the column (-1) matches nothing
            matched = codes.mask(wanted)
        else:  # nulls are not "!="
            matched = (codes.codes != wanted[0]) & (codes.codes >= 0)
        return matched

    def is_in(self, node: Binary, level: str) -> pl.Expr:
        values = node.right.value  # type: ignore[union-attr]
        left, kind = self.value(node.left, level)
        for v in values:  # type: ignore[union-attr]
            vkind = _literal_kind(v)
            if vkind != kind:
                raise self.mismatch(node, node.left, kind, Literal(v, node.right.col), vkind)
        if kind == "number":
            return left.cast(pl.Float64).is_in([float(v) for v in values])  # type: ignore[union-attr]
        if kind == "string":
            return left.cast(pl.Utf8).is_in(list(values))  # type: ignore[arg-type]
        return left.is_in(list(values))  # type: ignore[arg-type]

    def mismatch(
        self, node: Binary, a: Node, akind: str, b: Node, bkind: str, need: str | None = None
    ) -> InvalidQuery:
        token = a.name if isinstance(a, Field) else (b.name if isinstance(b, Field) else node.op)
        if need:
            text = f'"{node.op}"{_at(node)} needs {need}, found {_describe(a, akind)}'
        else:
            text = f"type mismatch{_at(node)}: {_describe(a, akind)} compared with "
            text += _describe(b, bkind)
        return InvalidQuery(text, column=node.col, token=token)

    # --- values -------------------------------------------------------------------------
    def value(self, node: Node, level: str) -> tuple[pl.Expr, str]:
        if isinstance(node, Literal):
            if isinstance(node.value, tuple):
                raise InvalidQuery(
                    f"a list{_at(node)} can only follow IN", column=node.col, token="["
                )
            kind = _literal_kind(node.value)
            return pl.lit(node.value, dtype=_LITERAL_DTYPE[kind]), kind
        if isinstance(node, Field):
            return self.field_value(node, level)
        if isinstance(node, Unary) and node.op == "neg":
            expr, kind = self.value(node.arg, level)
            if kind != "number":
                raise InvalidQuery(
                    f'"-"{_at(node)} needs a number, found {_describe(node.arg, kind)}',
                    column=node.col,
                    token="-",
                )
            return -expr, "number"
        if isinstance(node, Binary) and node.op in ARITHMETIC:
            left, lkind = self.value(node.left, level)
            right, rkind = self.value(node.right, level)
            for side, kind in ((node.left, lkind), (node.right, rkind)):
                if kind != "number":
                    raise InvalidQuery(
                        f'"{node.op}"{_at(node)} needs numbers, found {_describe(side, kind)}',
                        column=node.col,
                        token=node.op,
                    )
            return _arithmetic(node.op, left.cast(pl.Float64), right.cast(pl.Float64)), "number"
        if level == "item" and not self.scopes(node):
            return _expr(self.item_cond(node)), "bool"
        return _expr(self.object_cond(node)), "bool"

    def field_value(self, node: Field, level: str) -> tuple[pl.Expr, str]:
        found = self.field(node)
        if found.count is not None:
            counts = pl.Series(self.frames.label_count(*found.count))
            expr = pl.lit(counts)
            return (self.broadcast(expr, pl.Int64) if level == "object" else expr), "number"
        assert found.column is not None
        if found.level == "item" and level == "object":
            return self.broadcast(
                pl.col(found.column), self.frames.items.schema[found.column]
            ), found.type
        return pl.col(found.column), found.type


_LITERAL_DTYPE = {"number": None, "string": pl.Utf8, "bool": pl.Boolean}


def _literal_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"


def _arithmetic(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """+ - * / %, with / and % by zero giving null; % follows Python (sign of the divisor)."""
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    nonzero = right != 0
    if op == "/":
        return pl.when(nonzero).then(left / right)
    return pl.when(nonzero).then(left - right * (left / right).floor())


__all__ = ["GT", "VIEWS", "compile_query", "evaluate", "evaluate_mask"]
