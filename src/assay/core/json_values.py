"""JSON the way the rest of the world reads it.

Python's `json` (and pydantic-core's parser) accept `NaN`, `Infinity` and `-Infinity`, and
read `1e400` as infinity: none of them is JSON, PostgreSQL refuses them in a JSON column and
no response can carry them back. These functions refuse them as `Invalid` naming the value's
path (`metadata.score`), for request bodies (`api/json_body.py`) and imported files alike.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pydantic_core

from assay.core.errors import Invalid

# Only an exponent of three digits or more can overflow a float (1e308 is the largest);
# searched with a literal first character, which `re` scans for quickly.
_BIG_EXPONENTS = (re.compile(rb"e\+?[0-9]{3}"), re.compile(rb"E\+?[0-9]{3}"))
_NON_NUMBERS = (b"NaN", b"Infinity")


class _NonNumber:
    def __init__(self, literal: str) -> None:
        self.literal = literal


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _first_non_finite(value: Any, path: str = "") -> tuple[str, str] | None:
    """(path, literal) of the first NaN, Infinity or overflowed number in `value`."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, _path(where, k)) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, _path(where, i)) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, _NonNumber):
            return where, item.literal
        elif isinstance(item, float) and not math.isfinite(item):
            # Parsed by a lenient parser: NaN stays NaN, Infinity and 1e400 both infinite.
            return where, "NaN" if math.isnan(item) else "a number this large (or Infinity)"
    return None


def _refuse(found: tuple[str, str]) -> Invalid:
    path, what = found
    return Invalid(
        f"{path or 'body'}: {what} is not a JSON number; send a finite number or null",
        field=path or "body",
    )


def _locate_non_number(body: bytes | str) -> tuple[str, str] | None:
    try:
        value = json.loads(body, parse_constant=_NonNumber)
    except (ValueError, RecursionError):
        return None
    return _first_non_finite(value)


def _may_overflow(body: bytes) -> bool:
    return any(pattern.search(body) for pattern in _BIG_EXPONENTS)


def loads(body: bytes) -> Any:
    """The JSON value of `body`; Invalid naming the path of a NaN, an Infinity or a number
    too large for a float, or (field `body`) where the text stops being JSON."""
    try:
        value = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        found = _locate_non_number(body) if any(s in body for s in _NON_NUMBERS) else None
        if found is not None:
            raise _refuse(found) from None
        raise Invalid(f"the body is not valid JSON: {exc}", field="body") from None
    if _may_overflow(body):
        found = _first_non_finite(value)
        if found is not None:
            raise _refuse(found)
    return value


def refuse_non_finite(body: bytes) -> None:
    """For bodies validated straight from bytes by pydantic-core (which accepts NaN): the
    same refusal as `loads`, at the cost of a few substring searches when there is none."""
    if any(s in body for s in _NON_NUMBERS):
        found = _locate_non_number(body)
        if found is not None:
            raise _refuse(found)
    if _may_overflow(body):
        try:
            value = pydantic_core.from_json(body)
        except ValueError:
            return  # not JSON at all: the validation that follows says so
        found = _first_non_finite(value)
        if found is not None:
            raise _refuse(found)


def check_finite(value: Any) -> None:
    """Invalid naming the path of the first NaN or infinite number in a parsed value."""
    found = _first_non_finite(value)
    if found is not None:
        raise _refuse(found)
