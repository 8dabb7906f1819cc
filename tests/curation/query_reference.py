"""Generated rows for the query engine's tests, and a plain-Python evaluator of the language
over them (rows as dicts) that the Polars engine must agree with."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

import polars as pl

from assay.curation.query import QueryFrames
from assay.curation.query.ast import Binary, Bool, Field, Literal, Node, Unary

WEATHER = ["sunny", "rain", "snow", "fog", None]
LABELS = ["car", "person", "traffic sign", "bus", "dog"]
SOURCES = ["gt", "gt", "m1", "m2"]
TAGS = ["blurry", "night", "review", "dup"]
CAMERAS = ["cam1", "cam2", "cam3"]
ATTRS = (
    "label",
    "type",
    "source",
    "object_id",
    "confidence",
    "area",
    "width",
    "height",
    "aspect",
    "iou",
)

ITEM_SCHEMA = {
    "row": pl.UInt32,
    "item_id": pl.Utf8,
    "reference_id": pl.Utf8,
    "kind": pl.Utf8,
    "tags": pl.List(pl.Utf8),
    "slices": pl.List(pl.Utf8),
    "width": pl.Float64,
    "height": pl.Float64,
    "metadata.weather": pl.Utf8,
    "metadata.speed": pl.Float64,
    "metadata.lanes": pl.Float64,
    "metadata.is_night": pl.Boolean,
    "metadata.camera.id": pl.Utf8,
    "metadata.sensors": pl.List(pl.Utf8),
    "autotag.crosswalk": pl.Float64,
}
OBJECT_SCHEMA = {
    "item_row": pl.UInt32,
    "object_id": pl.Utf8,
    "source": pl.Utf8,
    "type": pl.Utf8,
    "label": pl.Utf8,
    "confidence": pl.Float64,
    "area": pl.Float64,
    "width": pl.Float64,
    "height": pl.Float64,
    "aspect": pl.Float64,
    "iou": pl.Float64,
    "attributes.occluded": pl.Boolean,
}


def maybe(rng: random.Random, value: Any, p_null: float = 0.1) -> Any:
    return None if rng.random() < p_null else value


def generate(n_items: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    items, objects = [], []
    for i in range(n_items):
        items.append(
            {
                "row": i,
                "item_id": f"itm_{i}",
                "reference_id": f"item-{i}",
                "kind": rng.choice(["image", "image", "text"]),
                "tags": rng.sample(TAGS, rng.choice([0, 0, 1, 2])),
                "slices": rng.sample(["s1", "s2"], rng.choice([0, 1])),
                "width": maybe(rng, float(rng.choice([64, 128, 640, 1920]))),
                "height": maybe(rng, float(rng.choice([64, 480, 1080]))),
                "metadata.weather": rng.choice(WEATHER),
                "metadata.speed": maybe(rng, float(rng.randint(0, 100))),
                "metadata.lanes": maybe(rng, float(rng.randint(0, 4))),
                "metadata.is_night": maybe(rng, rng.random() < 0.3),
                "metadata.camera.id": rng.choice(CAMERAS),
                "metadata.sensors": rng.sample(["lidar", "radar", "camera"], rng.randint(0, 2)),
                "autotag.crosswalk": maybe(rng, round(rng.random(), 3), 0.6),
            }
        )
        for _ in range(rng.choice([0, 1, 2, 3, 4, 6])):
            source = rng.choice(SOURCES)
            w, h = float(rng.randint(1, 60)), float(rng.randint(1, 60))
            objects.append(
                {
                    "item_row": i,
                    "object_id": f"obj_{len(objects)}",
                    "source": source,
                    "type": rng.choice(["box", "polygon"]),
                    "label": rng.choice(LABELS),
                    "confidence": None if source == "gt" else round(rng.random(), 3),
                    "area": maybe(rng, w * h),
                    "width": w,
                    "height": h,
                    "aspect": w / h,
                    "iou": None,
                    "attributes.occluded": maybe(rng, rng.random() < 0.5),
                }
            )
    rng.shuffle(objects)  # the engine must not rely on objects arriving in item order
    return items, objects


def frames_of(items: list[dict[str, Any]], objects: list[dict[str, Any]]) -> QueryFrames:
    return QueryFrames(
        pl.DataFrame(items, schema=ITEM_SCHEMA), pl.DataFrame(objects, schema=OBJECT_SCHEMA)
    )


class Reference:
    """The language's meaning, one row at a time (docs/query.md)."""

    def __init__(self, items: list[dict[str, Any]], objects: list[dict[str, Any]]) -> None:
        self.items = items
        self.objects = objects
        self.by_item: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for obj in objects:
            self.by_item[obj["item_row"]].append(obj)

    # fields
    def object_field(self, path: tuple[str, ...]) -> tuple[str | None, str] | None:
        """(scope, column) of an object field, or None for an item field."""
        root, rest = path[0], path[1:]
        if root not in ("annotation", "prediction", "object"):
            return None
        scope = {"annotation": "gt", "prediction": "*", "object": None}[root]
        if root == "prediction" and rest[0] not in (*ATTRS, "model", "attributes"):
            scope, rest = rest[0], rest[1:]
        column = ".".join(rest)
        return scope, "source" if root == "prediction" and column == "model" else column

    def in_scope(self, scope: str | None, obj: dict[str, Any]) -> bool:
        if scope is None:
            return True
        if scope == "*":
            return obj["source"] != "gt"
        return obj["source"] == scope

    def item_value(self, path: tuple[str, ...], item: dict[str, Any]) -> Any:
        objs = self.by_item[item["row"]]
        if path[0] == "annotations":
            gt = [o for o in objs if o["source"] == "gt"]
            return len(gt) if path[1] == "count" else sum(o["label"] == path[1] for o in gt)
        if path[0] == "predictions":
            if path[1:] == ("count",):
                return sum(o["source"] != "gt" for o in objs)
            mine = [o for o in objs if o["source"] == path[1]]
            label = path[2] if len(path) > 2 else "count"
            return len(mine) if label == "count" else sum(o["label"] == label for o in mine)
        return item[".".join(path)]

    # values and conditions
    def value(self, node: Node, item: dict[str, Any], obj: dict[str, Any] | None) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Field):
            found = self.object_field(node.path)
            if found is None:
                return self.item_value(node.path, item)
            assert obj is not None
            return obj[found[1]]
        if isinstance(node, Unary) and node.op == "neg":
            v = self.value(node.arg, item, obj)
            return None if v is None else -v
        if isinstance(node, Binary) and node.op in "+-*/%":
            a, b = self.value(node.left, item, obj), self.value(node.right, item, obj)
            if a is None or b is None:
                return None
            if node.op in "/%" and b == 0:
                return None
            if node.op == "%":
                return a - b * math.floor(a / b)
            if node.op == "/":
                return a / b
            return a + b if node.op == "+" else (a - b if node.op == "-" else a * b)
        return self.item(node, item) if obj is None else self.obj(node, item, obj)

    def compare(self, node: Binary, item: dict[str, Any], obj: dict[str, Any] | None) -> bool:
        a, b = self.value(node.left, item, obj), self.value(node.right, item, obj)
        if a is None or b is None:
            return False
        if node.op == "contains":
            return b in a
        if node.op == "in":
            return a in b
        return {
            "=": a == b,
            "!=": a != b,
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
        }[node.op]

    def scopes(self, node: Node) -> set[Any]:
        if isinstance(node, Field):
            found = self.object_field(node.path)
            return set() if found is None else {found[0] or "<any>"}
        if isinstance(node, Binary):
            return self.scopes(node.left) | self.scopes(node.right)
        if isinstance(node, Bool):
            return set().union(*(self.scopes(a) for a in node.args))
        if isinstance(node, Unary) and node.op == "neg":
            return self.scopes(node.arg)
        return set()

    def atom(self, node: Node, item: dict[str, Any], obj: dict[str, Any] | None) -> bool:
        if isinstance(node, Binary):
            return self.compare(node, item, obj)
        return self.value(node, item, obj) is True

    def item(self, node: Node, item: dict[str, Any]) -> bool:
        if isinstance(node, Bool):
            plain, groups = [], defaultdict(list)
            for arg in node.args:
                key = None if isinstance(arg, Unary) else frozenset(self.scopes(arg))
                (groups[key] if key else plain).append(arg)
            parts = [self.item(a, item) for a in plain]
            for members in groups.values():
                inner = members[0] if len(members) == 1 else Bool(node.op, tuple(members))
                parts.append(self.any(inner, item))
            return all(parts) if node.op == "and" else any(parts)
        if isinstance(node, Unary) and node.op == "not":
            return not self.item(node.arg, item)
        if isinstance(node, Unary) and node.op == "any":
            return self.any(node.arg, item)
        if self.scopes(node):
            return self.any(node, item)
        return self.atom(node, item, None)

    def any(self, node: Node, item: dict[str, Any]) -> bool:
        return any(self.obj(node, item, o) for o in self.by_item[item["row"]])

    def obj(self, node: Node, item: dict[str, Any], obj: dict[str, Any]) -> bool:
        if isinstance(node, Bool):
            parts = (self.obj(a, item, obj) for a in node.args)
            return all(parts) if node.op == "and" else any(parts)
        if isinstance(node, Unary) and node.op == "not":
            return not self.obj(node.arg, item, obj)
        if isinstance(node, Unary) and node.op == "any":
            return self.any(node.arg, item)
        scopes = self.scopes(node)
        if not scopes:
            return self.item(node, item)
        for scope in scopes:
            if not self.in_scope(None if scope == "<any>" else scope, obj):
                return False
        return self.atom(node, item, obj)

    def items_matching(self, node: Node) -> list[bool]:
        return [self.item(node, it) for it in self.items]

    def objects_matching(self, node: Node) -> list[bool]:
        return [self.obj(node, self.items[o["item_row"]], o) for o in self.objects]


# --- random queries ------------------------------------------------------------------------
def _f(text: str) -> Field:
    return Field(tuple(text.split(".")))


def _cmp(rng: random.Random, field: Node, values: list[Any], ops: str = "= != < <= > >=") -> Node:
    return Binary(rng.choice(ops.split()), field, Literal(rng.choice(values)))


def item_atom(rng: random.Random) -> Node:
    choices = [
        lambda: _cmp(rng, _f("metadata.speed"), [0, 10, 50, 99, 50.5]),
        lambda: _cmp(rng, _f("metadata.weather"), ["rain", "snow", "hail", "m"]),
        lambda: Binary("in", _f("metadata.weather"), Literal(("rain", "fog", "hail"))),
        lambda: Binary("contains", _f("tags"), Literal(rng.choice(TAGS))),
        lambda: Binary("in", Literal(rng.choice(TAGS)), _f("tags")),
        lambda: Binary("contains", _f("slices"), Literal("s1")),
        lambda: Binary("contains", _f("metadata.sensors"), Literal("lidar")),
        lambda: Binary("contains", _f("metadata.camera.id"), Literal("2")),
        lambda: _f("metadata.is_night"),
        lambda: _cmp(rng, _f("metadata.is_night"), [True, False], "= !="),
        lambda: Binary("in", _f("metadata.camera.id"), Literal(("cam1", "cam3"))),
        lambda: _cmp(rng, _f("autotag.crosswalk"), [0.2, 0.5, 0.8]),
        lambda: _cmp(rng, _f("width"), [64, 640]),
        lambda: _cmp(rng, _f("reference_id"), ["item-5", "item-77"], "= !="),
        lambda: _cmp(rng, _f("kind"), ["image", "text"], "= !="),
        lambda: _cmp(
            rng,
            Binary("%", Binary("+", _f("metadata.speed"), _f("metadata.lanes")), Literal(7)),
            [0, 3, 6],
        ),
        lambda: _cmp(rng, Binary("/", _f("metadata.speed"), _f("metadata.lanes")), [10, 30]),
        lambda: _cmp(rng, Unary("neg", _f("metadata.speed")), [-50, 0]),
        lambda: _cmp(rng, _f("annotations.car"), [0, 1, 2]),
        lambda: _cmp(rng, Field(("annotations", "traffic sign")), [0, 1]),
        lambda: _cmp(rng, _f("annotations.count"), [0, 2, 4]),
        lambda: _cmp(rng, _f("predictions.count"), [0, 2]),
        lambda: _cmp(rng, _f("predictions.m1.person"), [0, 1]),
        lambda: _cmp(rng, _f("predictions.m2.count"), [0, 1]),
        lambda: _cmp(rng, _f("predictions.m1"), [0, 2]),
    ]
    return rng.choice(choices)()


def object_atom(rng: random.Random) -> Node:
    choices = [
        lambda: _cmp(rng, _f("annotation.label"), LABELS, "= !="),
        lambda: Binary("in", _f("object.label"), Literal(("car", "bus"))),
        lambda: _cmp(rng, _f("annotation.area"), [100, 500, 1500]),
        lambda: _cmp(rng, _f("prediction.confidence"), [0.25, 0.5, 0.9]),
        lambda: _cmp(rng, _f("prediction.m1.label"), ["person", "car"], "= !="),
        lambda: _cmp(rng, _f("prediction.m2.confidence"), [0.5]),
        lambda: _cmp(rng, _f("prediction.model"), ["m1", "m2"], "= !="),
        lambda: _cmp(rng, _f("object.aspect"), [0.5, 1, 2]),
        lambda: _cmp(rng, _f("object.type"), ["box", "polygon"], "= !="),
        lambda: _f("object.attributes.occluded"),
        lambda: Binary(
            ">", Binary("*", _f("annotation.width"), Literal(2)), _f("annotation.height")
        ),
        lambda: Binary(">", _f("object.area"), Binary("*", _f("metadata.speed"), Literal(10))),
    ]
    return rng.choice(choices)()


def random_query(rng: random.Random, depth: int = 0) -> Node:
    roll = rng.random()
    if depth >= 3 or roll < 0.3:
        return item_atom(rng) if rng.random() < 0.5 else object_atom(rng)
    if roll < 0.4:
        return Unary("not", random_query(rng, depth + 1))
    if roll < 0.5:
        inner = [object_atom(rng) for _ in range(rng.randint(1, 3))]
        node = inner[0] if len(inner) == 1 else Bool(rng.choice(["and", "or"]), tuple(inner))
        return Unary("any", node)
    from assay.curation.query.ast import combine

    node = random_query(rng, depth + 1)
    op = rng.choice(["and", "or"])
    for _ in range(rng.randint(1, 2)):
        node = combine(op, node, random_query(rng, depth + 1))
    return node
