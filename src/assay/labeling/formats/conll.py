"""CoNLL (BIO) for text spans: `token TAG` per line, a blank line after each task.

Each task opens with `-DOCSTART- <task id>` and a blank line (readers of CoNLL-2003 skip
`-DOCSTART-` lines). Tokens are the whitespace-separated pieces of `params["text"]`; a token
belongs to a span when their character ranges overlap (`end` is exclusive).

Overlapping spans cannot both be expressed in BIO, so the longest span wins (ties: the one
starting first, then the one listed first); the shorter span keeps only the tokens nobody
longer claimed, and each unbroken run of its tokens starts with `B-`. Adjacent spans with
the same label stay apart: the second starts with `B-`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

from assay.labeling import formats

_TOKEN = re.compile(r"\S+")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """(token, start, end) for each whitespace-separated token."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _tag_label(label: Any) -> str:
    return re.sub(r"\s+", "_", str(label)) or "_"


def bio_tags(text: str, spans: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(token, tag) for every token of `text`, from native span annotations."""
    tokens = tokenize(text)
    usable = [
        (i, s)
        for i, s in enumerate(spans)
        if isinstance(s.get("start"), int)
        and isinstance(s.get("end"), int)
        and s["end"] > s["start"]
    ]
    # Longest first, then earliest start, then listing order: the first claim on a token wins.
    usable.sort(key=lambda item: (-(item[1]["end"] - item[1]["start"]), item[1]["start"], item[0]))
    owner: list[int | None] = [None] * len(tokens)
    ends = [end for _, _, end in tokens]
    for index, span in usable:
        t = bisect.bisect_right(ends, span["start"])  # the first token ending after the start
        while t < len(tokens) and tokens[t][1] < span["end"]:
            if owner[t] is None:
                owner[t] = index
            t += 1
    labels = {i: _tag_label(s.get("label")) for i, s in usable}
    tagged = []
    for t, (token, _, _) in enumerate(tokens):
        if owner[t] is None:
            tagged.append((token, "O"))
        else:
            prefix = "I" if t > 0 and owner[t - 1] == owner[t] else "B"
            tagged.append((token, f"{prefix}-{labels[owner[t]]}"))
    return tagged


def task_block(task_id: str, text: str, spans: Sequence[dict[str, Any]]) -> str:
    lines = [f"-DOCSTART- {task_id}", ""]
    lines += [f"{token} {tag}" for token, tag in bio_tags(text, spans)]
    return "\n".join(lines) + "\n\n"


def read_tags(conll: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(task id, [(token, tag)]) per document of a file written by `write`."""
    documents: list[tuple[str, list[tuple[str, str]]]] = []
    for line in conll.splitlines():
        if line.startswith("-DOCSTART-"):
            documents.append((line.partition(" ")[2].strip(), []))
        elif line.strip() and documents:
            token, _, tag = line.rpartition(" ")
            documents[-1][1].append((token, tag))
    return documents


def write(
    tasks: Iterable[formats.ExportTask], out: BinaryIO, context: formats.ExportContext
) -> None:
    stats = context.stats
    for task in tasks:
        text = task.params.get("text")
        if not isinstance(text, str):
            stats.skipped["tasks without params.text"] += 1
            continue
        annotations = (task.response or {}).get("annotations") or []
        spans = [a for a in annotations if a.get("type", "span") == "span"]
        stats.skipped.update(f"{a.get('type')} annotations" for a in annotations if a not in spans)
        out.write(task_block(task.id, text, spans).encode())
        stats.tasks += 1
        stats.annotations += len(spans)


formats.register_exporter(
    formats.ExportFormat(
        "conll",
        write,
        extension="conll",
        content_type="text/plain",
        task_types=frozenset({"text_spans"}),
    )
)
