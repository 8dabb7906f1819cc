"""COCO run-length masks in numpy, bit for bit as pycocotools.mask (2.0.x) computes them.

A mask is its uncompressed `counts`: a 1-D int64 array of run lengths over the pixels in
column-major order, zeros first (a mask whose first pixel is set starts with a 0 count).
Counts lie in [0, 2**32), as in pycocotools' `uint` arithmetic.

- `decode_counts(_many)` / `encode_counts`: the compressed string (`rleFrString` /
  `rleToString`).
- `from_polygons(_many)`: `merge(frPyObjects(polygons, h, w))`, the union of one object's
  polygons rasterised exactly as `rleFrPoly` does (its geometry: `rle_polygons`);
  `from_bboxes`: `frBbox`.
- `from_binary`: a boolean array's counts (`encode` of an unpacked mask), as a list.
- `from_uncompressed`, `from_segmentation(_many)`: any COCO segmentation to counts, as
  `annToRLE`.
- `area`, `to_bbox`, `merge`, `iou_matrix(_many)`: `area`, `toBbox`, `merge`, `iou` (the
  last in `rle_iou`, re-exported here).

The `_many` forms do many objects (or image-category groups) in one vectorised pass: use
them in loops. Results are pycocotools' even where its C is quirky (its unsigned wraps,
its loops stopping early on runs of length 0); where it would read memory it does not
own, write past a buffer or loop forever, these raise ValueError instead, and each
function says where its Python surface differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from assay.metrics.rle_iou import iou_matrix, iou_matrix_many
from assay.metrics.rle_polygons import boundary_points
from assay.metrics.rle_runs import UINT32, counts_of, group_starts, int32, split_at

_BITS = 5  # bits a character of a compressed RLE carries
_DECODE_CHUNK = 1 << 16  # characters decoded together
_POLYGON_CHUNK = 256  # objects rasterised together: arrays that stay in cache


# --- compressed strings ---


def decode_counts(s: str | bytes) -> np.ndarray:
    """Counts of a COCO compressed RLE string (pycocotools' `rleFrString`).

    Each count (after the third, as a delta from the count two before it) is a signed
    little-endian number in 5-bit groups, one character (48 + group, +32 if more follow) per
    group. A number of 7 groups or more (from deltas of 2**29) is shifted by pycocotools as
    a 32-bit int, which C leaves undefined; x86-64's wrapping of that shift is reproduced,
    so deltas below -2**29 decode as garbled as pycocotools decodes them.
    """
    return decode_counts_many([s])[0]


def decode_counts_many(strings: Sequence[str | bytes]) -> list[np.ndarray]:
    """`decode_counts` of many strings at once."""
    raw = [x.encode("ascii") if isinstance(x, str) else bytes(x) for x in strings]
    ends = np.cumsum(np.fromiter(map(len, raw), dtype=np.int64, count=len(raw)))
    out: list[np.ndarray] = []
    first = 0
    while first < len(raw):  # about _DECODE_CHUNK characters at a time
        done = ends[first - 1] if first else 0
        last = max(first + 1, int(np.searchsorted(ends, done + _DECODE_CHUNK, side="right")))
        out += _decode(raw[first:last])
        first = last
    return out


def _decode(raw: list[bytes]) -> list[np.ndarray]:
    lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
    data = np.frombuffer(b"".join(raw), dtype=np.uint8)
    if len(data) and (data.min() < 48 or data.max() > 111):
        raise ValueError("a compressed RLE uses only the characters '0' to 'o'")
    digits = data - np.uint8(48)
    ends = np.flatnonzero(digits < 0x20)  # a number's last character: no 0x20 flag
    string_ends = np.cumsum(lengths) - 1
    if np.any(digits[string_ends[lengths > 0]] >= 0x20):
        raise ValueError("a compressed RLE ends inside a number")
    starts = np.concatenate(([0], ends[:-1] + 1))[: len(ends)]
    size = ends - starts + 1
    low = digits & 0x1F
    values = low[starts].astype(np.int64)
    for k in range(1, int(size.max()) if len(size) else 0):  # the k-th group of 5 bits
        longer = np.flatnonzero(size > k)
        shift = (_BITS * k) & 31  # pycocotools shifts a 32-bit int: x86-64 masks the count
        part = low[starts[longer] + k].astype(np.int64) << shift
        values[longer] |= int32(part) if shift > 26 else part
    negative = np.flatnonzero(digits[ends] & 0x10)  # the last group's top bit: the sign
    values[negative] |= int32(np.int64(-1) << ((_BITS * size[negative]) & 31))
    # counts[i] = value[i] + counts[i - 2] for i > 2: a running sum over every other number,
    # restarted at each string (its first number stays out of it).
    per_string = np.diff(np.searchsorted(ends, string_ends, side="right"), prepend=0)
    first = (np.cumsum(per_string) - per_string)[per_string > 0]
    running = values.copy()
    running[first] = 0
    np.cumsum(running[0::2], out=running[0::2])
    np.cumsum(running[1::2], out=running[1::2])
    # Take away what the two running sums held before each string.
    padded = np.concatenate(([0, 0], running))
    before_odd, before_even = padded[first + 1], padded[first]  # at first - 1, first - 2
    same = (first & 1)[:, None] == np.arange(2)  # parity of first vs each global parity
    base = np.where(same, before_even[:, None], before_odd[:, None])
    held = np.where(
        np.arange(len(values)) & 1,
        np.repeat(base[:, 1], per_string[per_string > 0]),
        np.repeat(base[:, 0], per_string[per_string > 0]),
    )
    counts = running - held
    counts[first] = values[first]
    return split_at(counts & UINT32, np.cumsum(per_string))


def encode_counts(counts) -> str:
    """COCO compressed RLE string of counts (pycocotools' `rleToString`)."""
    values = counts_of(counts)
    deltas = values.copy()
    deltas[3:] -= values[1:-2]
    # Groups: the fewest 5-bit groups holding the value in two's complement (deltas < 2**33).
    groups = np.ones(len(deltas), dtype=np.int64)
    for width in range(1, 7):
        limit = 1 << (_BITS * width - 1)
        groups += (deltas < -limit) | (deltas >= limit)
    k = np.arange(7)
    digits = (deltas[:, None] >> (_BITS * k)) & 0x1F
    digits |= np.where(k < groups[:, None] - 1, 0x20, 0)
    chars = (digits + 48)[k < groups[:, None]]
    return chars.astype(np.uint8).tobytes().decode("ascii")


# --- polygons ---


def _odd_toggles(polygon: np.ndarray, position: np.ndarray, total: np.ndarray):
    """Positions toggled an odd number of times per polygon, sorted, below its total.

    rleFrPoly sorts its boundary points and cancels them in pairs where they coincide.
    """
    keys = np.sort((polygon << 32) | position)
    starts = group_starts(keys)
    odd = np.diff(starts, append=len(keys)) % 2 == 1
    keys = keys[starts[odd]]
    polygon, position = keys >> 32, keys & UINT32
    keep = position < total[polygon]
    return polygon[keep], position[keep]


def _to_counts(group: np.ndarray, toggles: np.ndarray, total: np.ndarray) -> list[np.ndarray]:
    """Counts of each group's sorted toggle positions (each group's are contiguous)."""
    if not len(total):
        return []
    per_group = np.bincount(group, minlength=len(total)) + 1
    last = np.cumsum(per_group) - 1
    positions = np.empty(int(per_group.sum()), dtype=np.int64)
    slots = np.ones(len(positions), dtype=bool)
    slots[last] = False
    positions[slots] = toggles
    positions[last] = total
    counts = np.diff(positions, prepend=0)
    counts[last[:-1] + 1] = positions[last[:-1] + 1]
    return split_at(counts, last + 1)


def _union(polygon, toggles, polygon_object, totals):
    """Toggles of the union of each object's polygons (sorted by object, then position).

    +1 where a polygon's run of 1s starts, -1 where it ends (at the image's end when its
    toggles are odd in number); the union's 1s are where the sum is positive.
    """
    per_polygon = np.bincount(polygon, minlength=len(polygon_object))
    rank = np.arange(len(toggles)) - np.repeat(np.cumsum(per_polygon) - per_polygon, per_polygon)
    unclosed = np.flatnonzero(per_polygon % 2 == 1)
    group = np.concatenate((polygon_object[polygon], polygon_object[unclosed]))
    position = np.concatenate((toggles, totals[polygon_object[unclosed]]))
    delta = np.concatenate((1 - 2 * (rank % 2), -np.ones(len(unclosed), np.int64)))
    keys = (group << 32) | position
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = group_starts(keys)
    covered = np.cumsum(np.add.reduceat(delta[order], starts)) > 0 if len(keys) else keys > 0
    change = covered != np.concatenate(([False], covered[:-1]))
    keys = keys[starts][change]
    group, position = keys >> 32, keys & UINT32
    keep = position < totals[group]
    return group[keep], position[keep]


def _rasterise(objects, heights: np.ndarray, widths: np.ndarray) -> list[np.ndarray]:
    per_object = np.fromiter(map(len, objects), dtype=np.int64, count=len(objects))
    polygon_object = np.repeat(np.arange(len(objects)), per_object)
    polygon_h, polygon_w = heights[polygon_object], widths[polygon_object]
    totals = heights * widths
    polygons = list(chain.from_iterable(objects))
    polygon, position = boundary_points(polygons, polygon_h, polygon_w)
    polygon, toggles = _odd_toggles(polygon, position, polygon_h * polygon_w)
    if np.all(per_object <= 1):  # one polygon an object: merge leaves it as it is
        return _to_counts(polygon_object[polygon], toggles, totals)
    # Only objects of several polygons need the union; the others keep their toggles.
    several = (per_object > 1)[polygon_object[polygon]]
    group, position = _union(polygon[several], toggles[several], polygon_object, totals)
    group = np.concatenate((polygon_object[polygon[~several]], group))
    position = np.concatenate((toggles[~several], position))
    order = np.argsort(group, kind="stable")  # two sorted stretches: a merge
    return _to_counts(group[order], position[order], totals)


def from_polygons_many(objects: Sequence[Sequence[Sequence[float]]], h, w) -> list[np.ndarray]:
    """`from_polygons` of many objects at once; h and w are ints or one per object."""
    n = len(objects)
    heights = np.broadcast_to(np.asarray(h, dtype=np.int64), (n,))
    widths = np.broadcast_to(np.asarray(w, dtype=np.int64), (n,))
    if n and (heights.min() < 0 or widths.min() < 0 or (heights * widths).max() >= 1 << 31):
        # pycocotools computes pixel indices in a C int
        raise ValueError("image sizes must be >= 0, with fewer than 2**31 pixels")
    out: list[np.ndarray] = []
    for first in range(0, n, _POLYGON_CHUNK):
        chunk = slice(first, first + _POLYGON_CHUNK)
        out += _rasterise(objects[chunk], heights[chunk], widths[chunk])
    return out


def from_polygons(polygons: Sequence[Sequence[float]], h: int, w: int) -> np.ndarray:
    """Counts of the union of one object's polygons [x0, y0, x1, y1, ...] in an h x w image.

    Bit for bit `merge(frPyObjects(polygons, h, w))`, where pycocotools accepts the list.
    Unlike pycocotools, every list is taken as polygons: an empty list is an empty mask, and
    a first polygon of 4 numbers is a 2-vertex polygon (pycocotools takes such a list for
    boxes and fails; `from_segmentation` keeps that refusal).
    """
    return from_polygons_many([polygons], h, w)[0]


def from_bboxes(boxes, h: int, w: int) -> list[np.ndarray]:
    """Counts of boxes [x, y, width, height] (n, 4), as pycocotools' `frBbox`."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    xs, ys = boxes[:, 0], boxes[:, 1]
    xe, ye = xs + boxes[:, 2], ys + boxes[:, 3]
    corners = np.column_stack((xs, ys, xs, ye, xe, ye, xe, ys))
    return from_polygons_many([[c] for c in corners], h, w)


# --- other segmentations ---


def from_binary(binary: np.ndarray) -> list[int]:
    """COCO's uncompressed counts of a boolean (height, width) array: column-major, the first
    run is of zeros (0 when the first pixel is set)."""
    flat = binary.flatten(order="F").astype(np.int8)
    if flat.size == 0:
        return []
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def from_uncompressed(rle: dict) -> np.ndarray:
    """Counts of an uncompressed RLE {size, counts: [int, ...]} (pycocotools keeps them as is)."""
    return counts_of(rle["counts"]).copy()


def from_segmentation(segmentation, h: int, w: int) -> tuple[np.ndarray, int, int]:
    """(counts, height, width) of any COCO segmentation, as pycocotools' `COCO.annToRLE`.

    Polygons are rasterised in h x w; an RLE keeps its own size. Polygon lists that
    pycocotools' `frPyObjects` rejects (empty, or a first polygon of 4 numbers or fewer)
    raise ValueError.
    """
    return from_segmentation_many([segmentation], h, w)[0]


def from_segmentation_many(segmentations: Sequence, h, w) -> list[tuple[np.ndarray, int, int]]:
    """`from_segmentation` of many at once (h and w: ints or one per segmentation)."""
    n = len(segmentations)
    heights = np.broadcast_to(np.asarray(h, dtype=np.int64), (n,)).tolist()
    widths = np.broadcast_to(np.asarray(w, dtype=np.int64), (n,)).tolist()
    out: list = [None] * n
    polygons, strings = [], []
    for i, segmentation in enumerate(segmentations):
        if isinstance(segmentation, list):
            if not segmentation or len(segmentation[0]) <= 4:
                raise ValueError(
                    "pycocotools rejects a polygon list that is empty or whose first polygon "
                    "has 4 numbers or fewer"
                )
            polygons.append(i)
            continue
        size = tuple(int(v) for v in segmentation["size"])
        if isinstance(segmentation["counts"], str | bytes):
            strings.append((i, size))
        else:
            out[i] = (from_uncompressed(segmentation), *size)
    rasterised = from_polygons_many(
        [segmentations[i] for i in polygons],
        [heights[i] for i in polygons],
        [widths[i] for i in polygons],
    )
    for i, counts in zip(polygons, rasterised, strict=True):
        out[i] = (counts, heights[i], widths[i])
    decoded = decode_counts_many([segmentations[i]["counts"] for i, _ in strings])
    for (i, size), counts in zip(strings, decoded, strict=True):
        out[i] = (counts, *size)
    return out


# --- measures ---


def area(counts) -> int:
    """Pixels set (pycocotools' `area`, modulo 2**32 as its unsigned sum)."""
    return int(np.sum(counts_of(counts)[1::2])) & UINT32


def to_bbox(counts, h: int, w: int) -> np.ndarray:
    """[x, y, width, height] (float) of the set pixels, as pycocotools' `toBbox`.

    An empty mask is all zeros. pycocotools' unsigned arithmetic is kept: when the only runs
    of 1s are empty ones ([5, 0, 15]) the box is [w, h, 2**32 + 1 - w, 2**32 + 1 - h].
    """
    values = counts_of(counts)
    m = len(values) // 2 * 2
    if m == 0:
        return np.zeros(4)
    if h <= 0:
        raise ValueError("to_bbox needs h > 0 (pycocotools divides by h)")
    values = values[:m]
    after = np.cumsum(values) & UINT32
    start, length = (after - values)[1::2], values[1::2]
    start, end = start[length > 0], (after[1::2][length > 0] - 1) & UINT32
    x_start, x_end = start // h, end // h
    x0 = min(int(w), int(x_start.min())) if len(start) else int(w)
    x1 = max(0, int(x_end.max())) if len(start) else 0
    if np.any(x_start < x_end):  # a run spanning columns covers the full height
        y0, y1 = 0, int(h) - 1
    else:
        y0 = min(int(h), int((start % h).min())) if len(start) else int(h)
        y1 = max(0, int((end % h).max())) if len(start) else 0
    return np.array([x0, y0, (x1 - x0 + 1) & UINT32, (y1 - y0 + 1) & UINT32], dtype=float)


def _steps(counts: np.ndarray, stride: int) -> np.ndarray:
    """Keys (position * stride + how many runs already ended there) of the ends of all runs
    but the last: where pycocotools' merge and iou loops move a mask on to its next run."""
    ends = np.cumsum(counts)[:-1]
    starts = group_starts(ends)
    return (
        ends * stride + np.arange(len(ends)) - np.repeat(starts, np.diff(starts, append=len(ends)))
    )


def _merge_two(a: np.ndarray, b: np.ndarray, intersect: bool) -> np.ndarray:
    """pycocotools' rleMerge of two RLEs, step for step.

    Its loop advances to the nearer run end of either mask and moves each mask on by one
    run a step, so a run of length 0 takes a step of its own and can leave a 0 count in the
    output. The loop stops at the first step where neither mask has pixels left in its
    current run: at the end, or earlier where both masks have a run of length 0 at the
    same place (then pycocotools' output covers fewer pixels than the image). A count ends
    at every step where the merged value changes, and at the last step.
    """
    ends_a, ends_b = np.cumsum(a), np.cumsum(b)
    stride = int(max(len(a), len(b)))
    key_a, key_b = _steps(a, stride), _steps(b, stride)
    steps = np.union1d(np.concatenate((key_a, key_b)), [ends_a[-1] * stride, ends_b[-1] * stride])
    position = steps // stride
    run_a = np.searchsorted(key_a, steps, side="right")  # each mask's current run
    run_b = np.searchsorted(key_b, steps, side="right")
    empty_a, empty_b = ends_a[run_a] == position, ends_b[run_b] == position
    stop = np.flatnonzero(empty_a & empty_b)
    # A mask at its end while the other is not: pycocotools' loop steps by 0 forever.
    stuck = (empty_a & (run_a == len(a) - 1)) | (empty_b & (run_b == len(b) - 1))
    if not len(stop) or np.flatnonzero(stuck)[0] < stop[0]:
        raise ValueError("pycocotools' merge never ends on these masks")
    end = stop[0] + 1
    value_a, value_b = run_a[:end] % 2 == 1, run_b[:end] % 2 == 1
    value = (value_a & value_b) if intersect else (value_a | value_b)
    emit = value != np.concatenate(([False], value[:-1]))
    emit[-1] = True
    return np.diff(position[:end][emit], prepend=0)


def merge(masks: Sequence, intersect: bool = False) -> np.ndarray:
    """Union (or intersection) of masks of one size, as pycocotools' `merge`, counts and all.

    Counts are pycocotools' even for masks with runs of length 0 (see `_merge_two`). Masks
    whose counts add up to different totals raise ValueError (pycocotools returns an empty
    RLE of size 0 x 0, or loops forever), as does an empty list (pycocotools reads unowned
    memory).
    """
    if not len(masks):
        raise ValueError("merge needs at least one mask")
    counts = [counts_of(m) for m in masks]
    if len({int(c.sum()) for c in counts}) > 1:
        raise ValueError("merge needs masks of one size")
    if any(not len(c) for c in counts):
        raise ValueError("merge needs masks of at least one count")
    out = counts[0].copy()
    for other in counts[1:]:
        out = _merge_two(out, other, intersect)
    return out


__all__ = [
    "area",
    "decode_counts",
    "decode_counts_many",
    "encode_counts",
    "from_bboxes",
    "from_binary",
    "from_polygons",
    "from_polygons_many",
    "from_segmentation",
    "from_segmentation_many",
    "from_uncompressed",
    "iou_matrix",
    "iou_matrix_many",
    "merge",
    "to_bbox",
]
