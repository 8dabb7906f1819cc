"""Perceptual hashes of images and the groups within a Hamming distance of each other — what
Nucleus's `deduplicate` asks for (a threshold of 0 to 64 bits).

The hash is the DCT hash ("pHash", as the `imagehash` library defines it): the image in grey
at 32 x 32, the 8 x 8 lowest frequencies of its 2-D DCT-II, one bit per coefficient above their
median. A resized or re-encoded copy keeps almost every bit; a different picture differs in
about half. Groups: pairs within the threshold found by faiss's binary index (exact Hamming
range search, compared in blocks), joined transitively.
"""

from __future__ import annotations

import io

import numpy as np

from assay.core.errors import Invalid

BITS = 64
_BLOCK = 4096  # queries per range search: bounds the pairs held at once


def phash(data: bytes) -> int:
    """The image's 64-bit DCT hash; `Invalid` (field `media`) if it is not an image."""
    import scipy.fft
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            small = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise Invalid(f"not a readable image: {error}", field="media") from None
    pixels = np.asarray(small, dtype=np.float64)
    low = scipy.fft.dctn(pixels, type=2)[:8, :8]
    bits = (low > np.median(low)).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming_groups(hashes: np.ndarray, threshold: int) -> np.ndarray:
    """For each hash, the number of its group: rows within `threshold` bits of each other,
    joined transitively (a row alone is its own group). Numbered by first row, from 0."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= BITS:
        raise Invalid(f"threshold is a number of bits from 0 to {BITS}", field="threshold")
    import faiss
    import scipy.sparse.csgraph

    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    codes = np.asarray(hashes, dtype=">u8").view(np.uint8).reshape(n, 8)
    index = faiss.IndexBinaryFlat(BITS)
    index.add(codes)
    sources, targets = [], []
    for start in range(0, n, _BLOCK):
        # faiss keeps distances strictly below the radius.
        limits, _, found = index.range_search(codes[start : start + _BLOCK], threshold + 1)
        counts = np.diff(limits).astype(np.int64)
        sources.append(np.repeat(np.arange(start, start + len(counts)), counts))
        targets.append(found.astype(np.int64))
    graph = scipy.sparse.coo_matrix(
        (
            np.ones(sum(len(s) for s in sources), dtype=np.int8),
            (np.concatenate(sources), np.concatenate(targets)),
        ),
        shape=(n, n),
    )
    _, component = scipy.sparse.csgraph.connected_components(graph, directed=False)
    # Renumber by each group's first row, so row order decides which copy is kept.
    first = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, component, np.arange(n))
    order = np.argsort(first, kind="stable")
    number = np.empty_like(order)
    number[order] = np.arange(len(order))
    return number[component]


def first_of_each_group(groups: np.ndarray) -> np.ndarray:
    """Rows that are the first of their group (what deduplication keeps), in row order."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first = np.unique(groups, return_index=True)
    return np.sort(first)
