from __future__ import annotations

import numpy as np
import pytest

from assay.metrics import factorize as f
from tests.metrics.crowd import hex_ids


def assert_like_unique(values):
    uniques, codes = f.factorize(values)
    expected_uniques, expected_codes = np.unique(np.asarray(values), return_inverse=True)
    assert np.array_equal(uniques, expected_uniques)
    assert np.array_equal(codes, expected_codes.reshape(-1))
    assert np.array_equal(uniques[codes], np.asarray(values).reshape(-1))


@pytest.mark.parametrize("distinct", [3, 2_000, 30_000])
def test_hex_ids_shuffled(distinct):
    rng = np.random.default_rng(distinct)
    ids = hex_ids(distinct, seed=1)
    assert_like_unique(ids[rng.integers(0, distinct, 60_000)])


def test_sorted_input_defeats_the_sample_but_stays_exact():
    # The first 16,384 values hold only 2,048 ids, nearly all the rest are new ones.
    ids = hex_ids(20_000, seed=2)
    assert_like_unique(np.repeat(ids, 8))


def test_labels_missing_from_the_sample_are_found():
    # The first 16,384 values hold two labels; a third appears only later.
    values = np.array(["cat", "dog"] * 9000 + ["bird"] * 5 + ["cat"] * 10)
    assert_like_unique(values)


@pytest.mark.parametrize(
    "values",
    [
        np.array(["a", "bb", "", "a", "ccccccccc", "bb", "ccccccccd"]),  # empty and 9-char strings
        np.array(["été", "ete", "étè", "été"]),  # Latin-1 characters
        np.array(["猫", "犬", "猫", "鳥", "犬犬犬犬犬犬犬犬犬"]),  # beyond Latin-1: raw UCS-4 words
        np.array([b"x1", b"y22", b"x1"]),
        np.array([5, -3, 5, 7, -3, 0]),
        np.array([10**15, 3, 10**15, -(10**12)]),  # sparse range: sorts
        np.array([3, 1, 3], dtype=np.uint64),
        np.array([True, False, True]),
        np.array([0.5, 0.25, 0.5]),
        np.array(["x", 3, "x"], dtype=object),
        ["list", "of", "strings", "list"],
    ],
)
def test_matches_numpy_unique(values):
    if isinstance(values, np.ndarray) and values.dtype == object:
        uniques, codes = f.factorize(values)
        assert list(uniques[codes]) == list(values)
        return
    assert_like_unique(values)


def test_empty():
    uniques, codes = f.factorize(np.array([], dtype="<U24"))
    assert len(uniques) == 0 and len(codes) == 0


def test_truncated_hash_groups_need_the_verification():
    # Keys differing only in their low bits share a group in the packed sort, which is why
    # string values are compared with their group's representative afterwards.
    keys = np.array([8, 9, 8, 9], dtype=np.uint64)  # 4 values: 2 position bits
    _, codes, _ = f._by_sort(keys, exact=False)
    assert len(set(codes.tolist())) == 1
    _, codes, _ = f._by_sort(keys, exact=True)
    assert codes.tolist() == [0, 1, 0, 1]


def test_lookup_finds_keys_whose_slot_was_taken():
    table = np.arange(0, 5000, dtype=np.uint64) * np.uint64(7919)
    keys = np.concatenate((table, np.array([1, 2], dtype=np.uint64)))
    codes = f._lookup(table, keys)
    assert np.array_equal(codes[:5000], np.arange(5000))
    assert codes[5000:].tolist() == [-1, -1]
