"""Model runners for tests, registered the way a plugin registers its own
(ASSAY_PLUGINS=tests.support.model_runners for a live server; importing it is enough in
process). Deterministic, so runs on different executors can be compared exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from assay.curation.model_runners import ItemError, register_model_runner


def _score(item: dict[str, Any]) -> float:
    seed = item["media"] if item["media"] is not None else (item["text"] or "").encode()
    return round(int(hashlib.sha256(seed).hexdigest()[:4], 16) / 65535, 6)


def boxes(items: list[dict[str, Any]]) -> list[Any]:
    """A box over the middle of an image (a category for text), labelled by the item's
    `metadata.colour`; an item with `metadata.bad` gets a box without a label (refused) and
    one with `metadata.refuse` an ItemError."""
    answers: list[Any] = []
    for item in items:
        meta = item["metadata"]
        if meta.get("refuse"):
            answers.append(ItemError("refused by the test runner"))
            continue
        label = str(meta.get("colour", "thing"))
        confidence = _score(item)
        if meta.get("bad"):
            answers.append([{"type": "box", "x": 1, "y": 1, "width": 2, "height": 2}])
        elif item["media"] is None:
            answers.append([{"type": "category", "label": label, "confidence": confidence}])
        else:
            width, height = item["width"] or 48, item["height"] or 48
            answers.append(
                [
                    {
                        "type": "box",
                        "label": label,
                        "x": width / 4,
                        "y": height / 4,
                        "width": width / 2,
                        "height": height / 2,
                        "confidence": confidence,
                    },
                    {"type": "category", "label": f"{label}-scene", "confidence": 1 - confidence},
                ]
            )
    return answers


def flaky(items: list[dict[str, Any]]) -> list[Any]:
    """`boxes`, but a batch holding an item with `metadata.fail_once` (a file path) fails
    the first time (the file does not exist yet); every item it answers is appended to
    `metadata.calls` (a file path)."""
    for item in items:
        marker = item["metadata"].get("fail_once")
        if marker and not Path(marker).exists():
            Path(marker).write_text("failed once")
            raise RuntimeError("the test runner fails this batch once")
    for item in items:
        calls = item["metadata"].get("calls")
        if calls:
            with open(calls, "a") as out:
                out.write(item["reference_id"] + "\n")
    return boxes(items)


register_model_runner("test-boxes", boxes)
register_model_runner("test-flaky", flaky)
