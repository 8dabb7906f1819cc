"""Identifiers: 24 hex characters like Scale's, ordered by creation time.

Six bytes of milliseconds then six bytes of a per-process counter seeded at random, so ids
sort by creation time (cursor pagination relies on it) and never collide across processes.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_pid = os.getpid()


def new_id() -> str:
    return new_ids(1)[0]


def new_ids(count: int) -> list[str]:
    """`count` ids in creation order, taken under one lock (bulk creates)."""
    global _last_ms, _counter, _pid
    if count <= 0:
        return []
    with _lock:
        if os.getpid() != _pid:  # forked: reseed so children never repeat the parent
            _pid, _last_ms = os.getpid(), 0
        now = int(time.time() * 1000)
        if now > _last_ms:
            _last_ms = now
            _counter = secrets.randbits(47)
        else:
            _counter += 1
        first, _counter = _counter, _counter + count - 1
        prefix = f"{_last_ms:012x}"
    return [f"{prefix}{n:012x}" for n in range(first, first + count)]


def is_id(value: str) -> bool:
    return len(value) == 24 and all(c in "0123456789abcdef" for c in value)


def uuid4_hexes(count: int) -> list[str]:
    """`count` random uuid4 hex strings (version and variant bits set as uuid4 does), from
    one read of the OS's random source; annotation ids use them."""
    pool = os.urandom(16 * count).hex()
    out = []
    for start in range(0, 32 * count, 32):
        h = pool[start : start + 32]
        out.append(f"{h[:12]}4{h[13:16]}{'89ab'[int(h[16], 16) & 3]}{h[17:]}")
    return out
