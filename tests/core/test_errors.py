"""Domain errors take their field by keyword: a positional one was a TypeError (a 500)
where a 4xx naming the field was meant."""

from __future__ import annotations

import ast
from pathlib import Path

import assay
from assay.core import errors

ERRORS = {name for name, value in vars(errors).items() if isinstance(value, type)}


def test_no_domain_error_is_raised_with_more_than_a_message_positionally():
    root = Path(assay.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or len(node.args) <= 1:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in ERRORS:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []
