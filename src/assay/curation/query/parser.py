"""Recursive descent from query text to the plan (ast.py); structure only, no schema.

query   := or END
or      := and ("OR" and)*
and     := not ("AND" not)*
not     := "NOT" not | compare
compare := sum [("=" | "!=" | "<" | "<=" | ">" | ">=" | "CONTAINS" | "IN") sum]
sum     := product (("+" | "-") product)*
product := unary (("*" | "/" | "%") unary)*
unary   := "-" unary | atom
atom    := NUMBER | STRING | TRUE | FALSE | FIELD | "[" literals "]"
         | "(" or ")" | "ANY" "(" or ")"
"""

from __future__ import annotations

from collections.abc import Callable

from assay.core.errors import InvalidQuery
from assay.curation.query.ast import Binary, Field, Literal, Node, Unary, combine
from assay.curation.query.lexer import Token, tokenize

_COMPARE_KEYWORDS = {"CONTAINS": "contains", "IN": "in"}
MAX_LENGTH = 20_000
MAX_DEPTH = 64


def parse(text: str) -> Node:
    """The plan of a query's text; an InvalidQuery names the offending token and its column."""
    if not text.strip():
        raise InvalidQuery("the query is empty", column=1, token="")
    if len(text) > MAX_LENGTH:
        raise InvalidQuery(f"the query is longer than {MAX_LENGTH} characters")
    parser = _Parser(tokenize(text))
    node = parser.parse_or()
    parser.expect_end()
    return node


def unexpected(token: Token) -> InvalidQuery:
    if token.kind == "end":
        return InvalidQuery(
            f"unexpected end of query at column {token.col}", column=token.col, token=""
        )
    return InvalidQuery(
        f'unexpected "{token.text}" at column {token.col}', column=token.col, token=token.text
    )


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at(self, kind: str, *values: object) -> bool:
        return self.tok.kind == kind and (not values or self.tok.value in values)

    def expect(self, kind: str, value: object) -> Token:
        if not self.at(kind, value):
            raise unexpected(self.tok)
        return self.take()

    def expect_end(self) -> None:
        if self.tok.kind != "end":
            raise unexpected(self.tok)

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.at("keyword", "OR"):
            col = self.take().col
            node = combine("or", node, self.parse_and(), col)
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.at("keyword", "AND"):
            col = self.take().col
            node = combine("and", node, self.parse_not(), col)
        return node

    def parse_not(self) -> Node:
        if self.at("keyword", "NOT"):
            col = self.take().col
            return Unary("not", self.nested(self.parse_not, col), col)
        return self.parse_compare()

    def nested(self, parse: Callable[[], Node], col: int) -> Node:
        """Parse one level deeper; past MAX_DEPTH levels the query is refused, not a crash."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidQuery(
                f"the query nests deeper than {MAX_DEPTH} levels at column {col}", column=col
            )
        try:
            return parse()
        finally:
            self.depth -= 1

    def parse_compare(self) -> Node:
        left = self.parse_sum()
        if self.tok.kind == "op" or self.at("keyword", *_COMPARE_KEYWORDS):
            token = self.take()
            op = _COMPARE_KEYWORDS.get(str(token.value), str(token.value))
            return Binary(op, left, self.parse_sum(), token.col)
        return left

    def parse_sum(self) -> Node:
        node = self.parse_product()
        while self.at("punct", "+", "-"):
            token = self.take()
            node = Binary(str(token.value), node, self.parse_product(), token.col)
        return node

    def parse_product(self) -> Node:
        node = self.parse_unary()
        while self.at("punct", "*", "/", "%"):
            token = self.take()
            node = Binary(str(token.value), node, self.parse_unary(), token.col)
        return node

    def parse_unary(self) -> Node:
        if self.at("punct", "-"):
            col = self.take().col
            arg = self.nested(self.parse_unary, col)
            number = isinstance(arg, Literal) and isinstance(arg.value, int | float)
            if number and not isinstance(arg.value, bool):
                return Literal(-arg.value, col)  # type: ignore[operator]
            return Unary("neg", arg, col)
        return self.parse_atom()

    def parse_atom(self) -> Node:
        token = self.tok
        if token.kind in ("number", "string"):
            self.take()
            return Literal(token.value, token.col)  # type: ignore[arg-type]
        if token.kind == "field":
            self.take()
            return Field(token.value, token.col)  # type: ignore[arg-type]
        if self.at("keyword", "TRUE", "FALSE"):
            self.take()
            return Literal(token.value == "TRUE", token.col)
        if self.at("punct", "("):
            self.take()
            node = self.nested(self.parse_or, token.col)
            self.expect("punct", ")")
            return node
        if self.at("keyword", "ANY"):
            self.take()
            self.expect("punct", "(")
            node = self.nested(self.parse_or, token.col)
            self.expect("punct", ")")
            return Unary("any", node, token.col)
        if self.at("punct", "["):
            return self.parse_list()
        raise unexpected(token)

    def parse_list(self) -> Literal:
        col = self.take().col
        values = []
        while not self.at("punct", "]"):
            if values:
                self.expect("punct", ",")
            item = self.parse_unary()
            if not isinstance(item, Literal) or isinstance(item.value, tuple):
                raise InvalidQuery(
                    f"a list holds only numbers, strings and booleans (column {item.col})",
                    column=item.col,
                )
            values.append(item.value)
        self.take()
        return Literal(tuple(values), col)
