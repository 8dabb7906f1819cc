"""The perceptual hash and its Hamming groups (curation/phash.py): groups equal a plain
transitive closure over every pair; copies of a photograph hash alike, other photographs not."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from assay.core.errors import Invalid
from assay.curation.phash import first_of_each_group, hamming_groups, phash


def _plain_groups(hashes: list[int], threshold: int) -> list[int]:
    """Union-find over every pair (what hamming_groups must equal), numbered by first row."""
    parent = list(range(len(hashes)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            if bin(hashes[i] ^ hashes[j]).count("1") <= threshold:
                parent[max(root(i), root(j))] = min(root(i), root(j))
    roots = [root(i) for i in range(len(hashes))]
    numbers = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return [numbers[r] for r in roots]


@pytest.mark.parametrize("threshold", [0, 1, 3, 8])
def test_groups_equal_the_plain_closure_over_every_pair(threshold: int) -> None:
    rng = np.random.default_rng(threshold)
    base = [int(v) for v in rng.integers(0, 2**63, size=300, dtype=np.int64)]
    # Chains and near copies: each planted row flips a few bits of an earlier one.
    for _ in range(200):
        source = base[int(rng.integers(len(base)))]
        flips = rng.choice(64, size=int(rng.integers(0, 6)), replace=False)
        base.append(source ^ sum(1 << int(b) for b in flips))
    hashes = np.array(base, dtype=np.uint64)
    expected = _plain_groups(base, threshold)
    found = hamming_groups(hashes, threshold)
    assert found.tolist() == expected
    kept = first_of_each_group(found)
    assert kept.tolist() == sorted({expected.index(g) for g in expected})


@pytest.mark.parametrize("threshold", [-1, 65, 2.5, True, "3"])
def test_a_threshold_outside_the_bits_is_refused(threshold) -> None:
    with pytest.raises(Invalid) as refused:
        hamming_groups(np.zeros(2, dtype=np.uint64), threshold)
    assert refused.value.field == "threshold"


def _encoded(image: np.ndarray, kind: str, size: tuple[int, int] | None = None) -> bytes:
    picture = Image.fromarray(image)
    if size:
        picture = picture.resize(size)
    buffer = io.BytesIO()
    picture.save(buffer, kind)
    return buffer.getvalue()


def test_copies_of_a_photograph_hash_alike_and_others_do_not() -> None:
    cat = data.chelsea()
    same = [_encoded(cat, "PNG"), _encoded(cat, "JPEG"), _encoded(cat, "PNG", (150, 100))]
    others = [_encoded(data.camera(), "PNG"), _encoded(data.astronaut(), "PNG")]
    hashes = [phash(x) for x in same + others]
    distance = [[bin(a ^ b).count("1") for b in hashes] for a in hashes]
    assert max(distance[0][1:3]) <= 4
    assert min(distance[0][3:]) >= 20 and distance[3][4] >= 20
    with pytest.raises(Invalid) as refused:
        phash(b"not an image")
    assert refused.value.field == "media"
