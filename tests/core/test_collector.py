"""core.collector.paused: overlapping pauses hold the collector until the last one ends, and
a collector that was off stays off."""

from __future__ import annotations

import gc

from assay.core import collector


def test_overlapping_pauses_resume_the_collector_after_the_last() -> None:
    assert gc.isenabled()
    first = collector.paused()
    second = collector.paused()
    first.__enter__()
    assert not gc.isenabled()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second pause still runs
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
