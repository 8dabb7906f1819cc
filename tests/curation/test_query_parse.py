"""The query language's parser: precedence, quoting, JSON plans, errors with their columns,
and the SDK's `F` writing the very plan the parser reads from text."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assay.core.errors import Invalid, InvalidQuery
from assay.curation.query import from_json, parse, to_json
from assay.curation.query.ast import Binary, Bool, Field, Literal, Unary, to_text
from assay.sdk.query import F, any_


def f(text: str) -> Field:
    return Field(tuple(text.split(".")))


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    a, b, c = (Binary("=", f(f"metadata.{n}"), Literal(1)) for n in "abc")
    assert parse("metadata.a = 1 OR metadata.b = 1 AND metadata.c = 1") == Bool(
        "or", (a, Bool("and", (b, c)))
    )
    assert parse("NOT metadata.a = 1 AND metadata.b = 1") == Bool("and", (Unary("not", a), b))
    assert parse("(metadata.a = 1 OR metadata.b = 1) AND metadata.c = 1") == Bool(
        "and", (Bool("or", (a, b)), c)
    )


def test_chains_fold_into_one_n_ary_node_whatever_the_parentheses() -> None:
    flat = parse("metadata.a = 1 AND metadata.b = 1 AND metadata.c = 1")
    assert isinstance(flat, Bool) and len(flat.args) == 3
    assert parse("(metadata.a = 1 AND metadata.b = 1) AND metadata.c = 1") == flat
    assert parse("metadata.a = 1 AND (metadata.b = 1 AND metadata.c = 1)") == flat


def test_arithmetic_precedence_and_negative_numbers() -> None:
    node = parse("metadata.a + 2 * metadata.b % 3 >= -1.5")
    assert node == Binary(
        ">=",
        Binary(
            "+", f("metadata.a"), Binary("%", Binary("*", Literal(2), f("metadata.b")), Literal(3))
        ),
        Literal(-1.5),
    )
    assert parse("(metadata.a + 2) * 3 > 1").left == Binary(
        "*", Binary("+", f("metadata.a"), Literal(2)), Literal(3)
    )
    assert parse("-metadata.a < 1e3").left == Unary("neg", f("metadata.a"))
    assert parse("-metadata.a < 1e3").right == Literal(1000.0)


def test_keywords_in_any_case_and_double_equals() -> None:
    assert parse('tags contains "x" and not metadata.a == 1') == parse(
        'tags CONTAINS "x" AND NOT metadata.a = 1'
    )
    assert parse("metadata.flag = TRUE") == Binary("=", f("metadata.flag"), Literal(True))


def test_quoted_segments_strings_lists_and_any() -> None:
    assert parse('annotations."traffic sign" > 0').left == Field(("annotations", "traffic sign"))
    assert parse('metadata.note = "say \\"hi\\" \\\\ ok"').right == Literal('say "hi" \\ ok')
    assert parse('metadata.weather IN ["rain", "snow"]').right == Literal(("rain", "snow"))
    assert parse("metadata.lanes IN [1, -2, 3.5]").right == Literal((1, -2, 3.5))
    assert parse('"blurry" IN tags') == Binary("in", Literal("blurry"), Field(("tags",)))
    node = parse('ANY(annotation.label = "car" AND annotation.area > 100)')
    assert isinstance(node, Unary) and node.op == "any" and isinstance(node.arg, Bool)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("metadata.a = 1 AND AND metadata.b = 2", 'unexpected "AND" at column 20'),
        ("metadata.a = 1 OR", "unexpected end of query at column 18"),
        ('metadata.weather = "rain', "unterminated string at column 20"),
        ("metadata.a => 1", 'unknown operator "=>" at column 12'),
        ("metadata.a <> 1", 'unknown operator "<>" at column 12'),
        ("metadata.a = 1 && metadata.b = 2", 'unknown operator "&&" at column 16'),
        ("metadata.a = 1)", 'unexpected ")" at column 15'),
        ("(metadata.a = 1", "unexpected end of query at column 16"),
        ("metadata.a = 1 metadata.b = 2", 'unexpected "metadata.b" at column 16'),
        ("metadata. = 1", 'unexpected " " after "." at column 10'),
        ("metadata.a = $1", 'unexpected character "$" at column 14'),
        ("metadata.a = 1.2.3", 'invalid number "1.2.3" at column 14'),
        ("metadata.a < 1 < 2", 'unexpected "<" at column 16'),
        (
            "metadata.a IN [1, metadata.b]",
            "a list holds only numbers, strings and booleans (column 19)",
        ),
        ("ANY metadata.a = 1", 'unexpected "metadata.a" at column 5'),
        ("   ", "the query is empty"),
    ],
)
def test_errors_name_the_token_and_its_column(query: str, message: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(query)
    assert caught.value.message == message
    assert isinstance(caught.value, Invalid) and caught.value.field == "query"


QUERIES = [
    'annotations.car > 2 AND metadata.weather = "rain"',
    'annotations."traffic sign" > 0 OR NOT tags CONTAINS "blurry"',
    "predictions.model_a.car >= 1 AND prediction.confidence < 0.25",
    "(metadata.speed - 10) / 2 > metadata.lanes % 3 OR autotag.crosswalk >= 0.8",
    'ANY(annotation.label = "car" AND annotation.area > 1000) AND "s1" IN slices',
    'metadata.camera.id IN ["cam1", "cam2"] AND NOT (metadata.is_night OR reference_id = "x")',
    "-metadata.speed < -3 AND metadata.flag = false",
]


@pytest.mark.parametrize("query", QUERIES)
def test_plans_survive_json_and_text_round_trips(query: str) -> None:
    node = parse(query)
    assert from_json(to_json(node)) == node
    assert parse(to_text(node)) == node


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "query: expected an object"),
        (
            {"op": "like", "left": {"field": ["a"]}, "right": {"value": 1}},
            "query: unknown operator 'like'",
        ),
        (
            {"op": "and", "args": [{"field": ["a"]}]},
            "query.args: expected a list of at least two operands",
        ),
        (
            {"op": "not", "arg": {"field": []}},
            "query.arg.field: expected a list of non-empty strings",
        ),
        (
            {"op": "=", "left": {"field": ["a"]}, "right": {"value": None}},
            "query.right.value: a value must be a number, a string or a boolean",
        ),
    ],
)
def test_malformed_json_plans_are_invalid_with_where(plan: object, message: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        from_json(plan)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (F("metadata.weather") == "sunny", 'metadata.weather = "sunny"'),
        (
            (F("annotations.car") > 2) & ~F("tags").contains("blurry"),
            'annotations.car > 2 AND NOT tags CONTAINS "blurry"',
        ),
        (F('annotations."traffic sign"') > 0, 'annotations."traffic sign" > 0'),
        (F("annotations", "traffic sign") >= 1, 'annotations."traffic sign" >= 1'),
        (
            (F("metadata.a") == 1) | (F("metadata.b") != "x") | (F("metadata.c") <= 2.5),
            'metadata.a = 1 OR metadata.b != "x" OR metadata.c <= 2.5',
        ),
        (
            ((F("metadata.speed") - 10) / 2 > F("metadata.lanes") % 3) & (F("metadata.t") < -1),
            "(metadata.speed - 10) / 2 > metadata.lanes % 3 AND metadata.t < -1",
        ),
        (-F("metadata.speed") * 2 < 1, "-metadata.speed * 2 < 1"),
        (2 * F("metadata.speed") + 1 > 3, "2 * metadata.speed + 1 > 3"),
        (F("metadata.camera.id").is_in(["cam1", "cam2"]), 'metadata.camera.id IN ["cam1", "cam2"]'),
        (
            any_((F("annotation.label") == "car") & (F("annotation.area") > 1000)),
            'ANY(annotation.label = "car" AND annotation.area > 1000)',
        ),
        (F("metadata.is_night") == True, "metadata.is_night = true"),  # noqa: E712
        (
            (F("prediction.model_a.confidence") > 0.5) & ((F("a.b") == 1) & (F("c.d") == 2)),
            "prediction.model_a.confidence > 0.5 AND a.b = 1 AND c.d = 2",
        ),
    ],
)
def test_sdk_expressions_write_the_plan_the_parser_reads(expr: object, text: str) -> None:
    assert from_json(expr.to_json()) == parse(text)  # type: ignore[attr-defined]
    assert expr.to_json() == to_json(parse(text))  # type: ignore[attr-defined]


def test_sdk_expressions_refuse_python_boolean_operators() -> None:
    with pytest.raises(TypeError):
        bool(F("metadata.a") == 1)
    with pytest.raises(TypeError):
        F("metadata.a") == object()  # noqa: B015


def test_the_sdk_expressions_import_no_server_code_and_no_polars() -> None:
    code = (
        "import sys\n"
        "from assay.sdk import F\n"
        "(F('metadata.a') > 1).to_json()\n"
        "print(sorted(m for m in ('polars', 'numpy', 'sqlalchemy', 'fastapi', 'assay.core.errors',"
        " 'assay.curation.query', 'assay.curation.models') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_deep_nesting_and_huge_queries_are_refused_not_crashes() -> None:
    with pytest.raises(InvalidQuery, match="nests deeper than 64 levels at column 65"):
        parse("(" * 100 + "metadata.a = 1" + ")" * 100)
    with pytest.raises(InvalidQuery, match="nests deeper"):
        parse("NOT " * 1000 + "metadata.a = 1")
    assert parse("(" * 30 + "metadata.a = 1" + ")" * 30) == parse("metadata.a = 1")
    with pytest.raises(InvalidQuery, match="longer than 20000 characters"):
        parse("metadata.a = 1 OR " * 2000 + "metadata.a = 1")
    plan: dict = {"field": ["metadata", "a"]}
    for _ in range(5000):
        plan = {"op": "not", "arg": plan}
    with pytest.raises(InvalidQuery, match="nests deeper than 200 levels"):
        from_json(plan)
