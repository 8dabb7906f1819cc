"""JSON columns are read back with msgspec, and what it refuses with the standard library
that wrote it (core/dialects.json_loads)."""

from __future__ import annotations

import math

from sqlalchemy import select

from assay.core import dialects, models


def test_values_msgspec_refuses_are_read_by_the_standard_library():
    assert dialects.json_loads('{"big": 1180591620717411303424}') == {"big": 2**70}
    assert math.isnan(dialects.json_loads('{"x": NaN}')["x"])
    text = '{"a": [1, 2.5, "é", null, true], "b": {"c": -0.0}}'
    assert dialects.json_loads(text) == {"a": [1, 2.5, "é", None, True], "b": {"c": -0.0}}


def test_a_json_column_reads_back_what_was_written(db):
    payload = {"n": 3, "x": 0.1, "s": "ü", "l": ["a", 1], "nested": {"big": 2**70}}
    with db.write() as session:
        session.add(models.Job(id="job_json", kind="test.json", payload=payload))
    with db.read() as session:
        assert session.scalar(select(models.Job.payload)) == payload
