"""Holding Python's cycle collector during bulk work.

A bulk request builds some 100,000 containers (10,000 tasks, or 10,000 items with their
metadata and shapes): the collector walked them, and the whole heap on full collections,
several times per request — a third of a bulk task create's time and half of decoding an
append's body (profiled; bench/labeling_ingest.py, bench/curation_ingest.py). Reference
counting still frees all of it; the rare cycle waits for the pause to end.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection while the block runs (pauses on several threads may overlap:
    the collector resumes when the last one ends, if it was on before the first)."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
