"""JSON-schema validity: the response (or the JSON in its ```json fence) parses and follows
the schema (`jsonschema`, the reference validator, in the draft the schema declares)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from assay.core.errors import Invalid
from assay.evaluation.scorers.registry import Score, scorer

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def extract_json_text(response: str) -> str:
    """The last fenced block's content when the response has one, else the response."""
    fenced = _FENCE.findall(response)
    return (fenced[-1] if fenced else response).strip()


def _path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


@lru_cache(maxsize=256)
def _validator(canonical: str) -> Any:
    """A checked validator per schema: a run scores thousands of responses against one."""
    import jsonschema

    schema = json.loads(canonical)
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise Invalid(f"not a valid JSON schema: {exc.message}", field="options.schema") from exc
    return validator_class(schema)


@scorer("json_schema")
def json_schema(response: str, target: Any, *, schema: dict[str, Any] | None = None) -> Score:
    """1 when the response's JSON is valid against `schema` (or the item's target, a schema);
    the explanation names the path of the first error. Without a schema: the JSON parses."""
    schema = schema if schema is not None else target
    if schema is not None and not isinstance(schema, dict | bool):
        raise Invalid("a JSON schema is an object", field="options.schema")
    validator = None if schema is None else _validator(json.dumps(schema, sort_keys=True))
    text = extract_json_text(response)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return Score(0.0, None, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    answer = json.dumps(document, sort_keys=True)
    if validator is None:
        return Score(1.0, answer, "parses as JSON")
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        return Score(
            0.0,
            answer,
            f"{_path(first.absolute_path)}: {first.message}",
            {"errors": len(errors), "path": _path(first.absolute_path)},
        )
    return Score(1.0, answer, "valid against the schema")
