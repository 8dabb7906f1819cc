"""Tokens of the query language, each with its 1-based column."""

from __future__ import annotations

from dataclasses import dataclass

from assay.core.errors import InvalidQuery
from assay.curation.query.ast import KEYWORDS, Scalar

OPERATORS = {"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_OPERATOR_CHARS = set("=!<>&|~^")
PUNCTUATION = set("()[],+-*/%")
_WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class Token:
    kind: str  # "field", "string", "number", "keyword", "op", "punct", "end"
    text: str  # the source text, as the user wrote it (for messages)
    col: int
    value: Scalar | tuple[str, ...] | None = None


def _string(text: str, start: int) -> tuple[str, int]:
    """The string literal opening at `start` and the index after it."""
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise InvalidQuery(f"unterminated string at column {start + 1}", column=start + 1, token='"')


def _word(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WORD:
        i += 1
    return i


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch == '"':
            value, i = _string(text, i)
            tokens.append(Token("string", text[col - 1 : i], col, value))
        elif ch.isdigit() or (ch == "." and text[i + 1 : i + 2].isdigit()):
            i = _number_end(text, i)
            raw = text[col - 1 : i]
            is_float = any(c in raw for c in ".eE")
            tokens.append(Token("number", raw, col, float(raw) if is_float else int(raw)))
        elif ch.isalpha() or ch == "_":
            i = _field_or_keyword(text, i, tokens)
        elif ch in _OPERATOR_CHARS:
            j = i
            while j < len(text) and text[j] in _OPERATOR_CHARS:
                j += 1
            raw = text[i:j]
            if raw not in OPERATORS:
                raise InvalidQuery(
                    f'unknown operator "{raw}" at column {col}', column=col, token=raw
                )
            tokens.append(Token("op", raw, col, OPERATORS[raw]))
            i = j
        elif ch in PUNCTUATION:
            tokens.append(Token("punct", ch, col, ch))
            i += 1
        else:
            raise InvalidQuery(f'unexpected character "{ch}" at column {col}', column=col, token=ch)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _number_end(text: str, i: int) -> int:
    """The index after the number at `i`: digits, an optional fraction and exponent."""
    start = i
    while i < len(text) and (text[i].isdigit() or text[i] == "."):
        i += 1
    if i < len(text) and text[i] in "eE":
        j = i + 1 + (text[i + 1 : i + 2] in ("+", "-"))
        if text[j : j + 1].isdigit():
            i = j
            while i < len(text) and text[i].isdigit():
                i += 1
    raw = text[start:i]
    if raw.count(".") > 1 or (i < len(text) and (text[i] in _WORD)):
        while i < len(text) and (text[i] in _WORD or text[i] == "."):
            i += 1
        raw = text[start:i]
        raise InvalidQuery(
            f'invalid number "{raw}" at column {start + 1}', column=start + 1, token=raw
        )
    return i


def _field_or_keyword(text: str, i: int, tokens: list[Token]) -> int:
    """A keyword, or a field: a bare word, then `.word` or `."quoted"` segments."""
    col = i + 1
    j = _word(text, i)
    first = text[i:j]
    if first.lower() in KEYWORDS and not text.startswith(".", j):
        tokens.append(Token("keyword", first, col, first.upper()))
        return j
    path = [first]
    while text.startswith(".", j):
        if text.startswith('"', j + 1):
            segment, j = _string(text, j + 1)
        else:
            end = _word(text, j + 1)
            if end == j + 1:
                bad = text[j + 1 : j + 2] or "end of query"
                raise InvalidQuery(
                    f'unexpected "{bad}" after "." at column {j + 2}', column=j + 2, token=bad
                )
            segment, j = text[j + 1 : end], end
        path.append(segment)
    tokens.append(Token("field", text[i:j], col, tuple(path)))
    return j
