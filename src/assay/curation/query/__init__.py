"""The query bar's engine: text or JSON plan → AST → Polars over a snapshot's frames.

node = parse('annotations.car > 2 AND metadata.weather = "rain"')
result = run_query(frames, node, view="items")     # one mask per query
result.count, result.page(limit=50, order_by="-metadata.speed"), result.facets()
"""

from assay.curation.query.ast import Node, from_json, to_json
from assay.curation.query.compiler import compile_query, evaluate
from assay.curation.query.frames import QueryFrames
from assay.curation.query.parser import parse
from assay.curation.query.result import Page, QueryResult, run_query

__all__ = [
    "Node",
    "Page",
    "QueryFrames",
    "QueryResult",
    "compile_query",
    "evaluate",
    "from_json",
    "parse",
    "run_query",
    "to_json",
]
