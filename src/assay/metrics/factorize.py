"""Ids to dense codes: what np.unique(values, return_inverse=True) returns, in near-linear time.

A million 24-hex ids take ~0.3 s through np.unique (a sort of wide strings); aggregating a
million labels must fit in one second, so strings are hashed to 64 bits and grouped by hash
instead, and every value is then compared with its group's representative: the result is
exact, and a hash collision (vanishingly rare) only costs a slower path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_SAMPLE = 16384  # values looked at to guess whether a column has few distinct values
_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: multiplicative hashing


def _mix(keys: np.ndarray, bits: int) -> np.ndarray:
    """Top `bits` bits of keys x _MIX: a table slot per key."""
    with np.errstate(over="ignore"):
        return (keys * _MIX) >> np.uint64(64 - bits)


def _lookup(table_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in the sorted `table_keys`, or -1.

    A hash table 64x larger than the key set (so a key's slot is rarely taken by another),
    then binary search only for the keys whose slot held someone else.
    """
    bits = max(10, (64 * len(table_keys)).bit_length())
    table = np.zeros(1 << bits, np.intp)
    table[_mix(table_keys, bits)] = np.arange(len(table_keys))
    codes = table[_mix(keys, bits)]
    rest = np.flatnonzero(table_keys[codes] != keys)
    if len(rest):
        at = np.minimum(np.searchsorted(table_keys, keys[rest]), len(table_keys) - 1)
        codes[rest] = np.where(table_keys[at] == keys[rest], at, -1)
    return codes


def _by_sort(keys: np.ndarray, exact: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys, codes and a representative position each, by sorting."""
    n = len(keys)
    bits = max(1, (n - 1).bit_length())
    if exact or bits > 24:
        uniques, first, codes = np.unique(keys, return_index=True, return_inverse=True)
        return uniques, codes, first
    # Hashes may lose their low bits: pack each position under its hash's top bits and sort
    # plain integers (several times faster than argsort); positions come out grouped.
    low = np.uint64((1 << bits) - 1)
    packed = keys & ~low
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    positions = (packed & low).astype(np.intp)
    top = packed & ~low
    starts = np.empty(n, bool)
    starts[0] = True
    np.not_equal(top[1:], top[:-1], out=starts[1:])
    codes = np.empty(n, np.intp)
    codes[positions] = np.cumsum(starts) - 1
    first = positions[starts]
    return keys[first], codes, first


def _factorize_keys(keys: np.ndarray, exact: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct uint64 keys (exact) or grouped hashes, codes, representatives."""
    sample, sample_first = np.unique(keys[:_SAMPLE], return_index=True)
    if len(sample) <= _SAMPLE // 4:
        # Few distinct values (labels, labelers): look everything up among the sample's.
        codes = _lookup(sample, keys)
        missing = np.flatnonzero(codes < 0)
        if 2 * len(missing) > len(keys):  # the sample was not representative (sorted input)
            return _by_sort(keys, exact)
        if not len(missing):
            return sample, codes, sample_first
        more, more_first = np.unique(keys[missing], return_index=True)
        uniques = np.concatenate((sample, more))
        first = np.concatenate((sample_first, missing[more_first]))
        order = np.argsort(uniques)
        uniques, first = uniques[order], first[order]
        return uniques, _lookup(uniques, keys), first
    return _by_sort(keys, exact)


def _factorize_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    wide = values.astype(np.uint64 if values.dtype.kind == "u" else np.int64)
    low = wide.min()
    if int(wide.max()) - int(low) > 4 * len(values) + 1024:
        return np.unique(values, return_inverse=True)
    # A dense range (codes 0..n-1, small ints): a presence table instead of a sort.
    offsets = (wide - low).astype(np.intp)
    present = np.bincount(offsets, minlength=1) > 0
    code_of = np.cumsum(present) - 1
    return (np.flatnonzero(present) + low).astype(values.dtype), code_of[offsets]


def _string_words(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """(n, w) uint64 words holding each string, and whether they hold one byte per character
    (bytes, or Latin-1 text: then bytewise order is the strings' order)."""
    n = len(values)
    raw = values.view(np.uint8).reshape(n, -1)
    bytewise = values.dtype.kind == "S"
    if values.dtype.kind == "U":
        codepoints = values.view(np.uint32).reshape(n, -1)
        if codepoints.max() < 256:
            raw, bytewise = codepoints.astype(np.uint8), True
    pad = -raw.shape[1] % 8
    if pad:
        raw = np.concatenate((raw, np.zeros((n, pad), np.uint8)), axis=1)
    return np.ascontiguousarray(raw).view(np.uint64), bytewise


def _hash_words(words: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        hashes = words[:, 0] * _MIX
        for j in range(1, words.shape[1]):
            hashes ^= hashes >> np.uint64(29)
            hashes += words[:, j]
            hashes *= _MIX
    return hashes


def _factorize_strings(values: np.ndarray, exact_hash: bool) -> tuple[np.ndarray, np.ndarray]:
    words, bytewise = _string_words(values)
    short = words.shape[1] == 1  # up to 8 characters: the bytes are the key, no hash needed
    keys = words[:, 0] if short else _hash_words(words)
    _, codes, first = _factorize_keys(keys, exact=short or exact_hash)
    firsts = words[first]
    if not short:
        for j in range(words.shape[1]):
            if not np.array_equal(firsts[codes, j], words[:, j]):
                if exact_hash:
                    return np.unique(values, return_inverse=True)
                return _factorize_strings(values, exact_hash=True)
    uniques = values[first]
    if bytewise:
        # Big-endian words compare like the bytes they hold: a lexsort of integers.
        order = np.lexsort((firsts.byteswap() if np.little_endian else firsts).T[::-1])
    else:
        order = np.argsort(uniques, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return uniques[order], rank[codes]


def factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's index among them, exactly as np.unique.

    Values of mixed types that cannot be sorted together come back in first-seen order.
    """
    values = np.asarray(values).reshape(-1)
    if not len(values):
        return np.unique(values, return_inverse=True)
    kind = values.dtype.kind
    if kind in "iub":
        return _factorize_ints(values)
    if kind in "US" and values.dtype.itemsize:
        return _factorize_strings(values, exact_hash=False)
    try:
        return np.unique(values, return_inverse=True)
    except TypeError:  # values that do not sort together (mixed types): first-seen order
        index: dict[Any, int] = {}
        codes = np.array([index.setdefault(v, len(index)) for v in values.tolist()], np.intp)
        uniques = np.empty(len(index), dtype=object)
        uniques[:] = list(index)
        return uniques, codes
