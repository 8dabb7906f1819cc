"""COCO run-length masks in numpy, bit for bit as pycocotools.mask computes them.

A mask is its uncompressed `counts`: a 1-D int64 array of run lengths over the pixels in
column-major order, zeros first (a mask whose first pixel is set starts with a 0 count).
Every count and every sum of counts is below 2**32, as in pycocotools' `uint` arithmetic.

- `decode_counts` / `encode_counts`: COCO's compressed string (`rleFrString` / `rleToString`).
- `from_polygons` / `from_polygons_many`: `merge(frPyObjects(polygons, h, w))`, the union of
  one object's polygons rasterised exactly as `rleFrPoly` does; `from_bboxes`: `frBbox`.
- `from_uncompressed`, `from_segmentation`: any COCO segmentation to counts, as `annToRLE`.
- `area`, `to_bbox`, `merge`, `iou_matrix`: `area`, `toBbox`, `merge`, `iou`.

Where pycocotools' C reads memory it does not own or divides by zero (an empty polygon list,
masks of different sizes, an RLE whose counts do not add up to the image), these raise
ValueError instead; each function says where it departs from pycocotools' Python surface.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

SCALE = 5  # rleFrPoly rasterises the outline on a grid 5x finer than the pixels
MAX_COORDINATE = 2e8  # beyond this pycocotools' int arithmetic overflows (undefined in C)
_UINT32 = 0xFFFFFFFF
_IOU_CHUNK = 1 << 22  # (dt x gt run) queries per searchsorted call in iou_matrix


def _int32(values: np.ndarray) -> np.ndarray:
    """Wrap int64 values to C's 32-bit int, sign included."""
    return ((values + (1 << 31)) & _UINT32) - (1 << 31)


def _counts(counts) -> np.ndarray:
    out = np.asarray(counts, dtype=np.int64).reshape(-1)
    if len(out) and (out.min() < 0 or out.max() > _UINT32):
        raise ValueError("RLE counts must lie in [0, 2**32)")
    return out


# --- compressed strings ---


def decode_counts(s: str | bytes) -> np.ndarray:
    """Counts of a COCO compressed RLE string (pycocotools' `rleFrString`).

    Each count (after the third, as a delta from the count two before it) is a signed
    little-endian number in 5-bit groups, one character (48 + group, +32 if more follow) per
    group. Values of 2**29 and more need a 7th group, which pycocotools shifts as a 32-bit
    int (undefined in C); x86-64's wrapping of that shift is reproduced.
    """
    data = np.frombuffer(s.encode("ascii") if isinstance(s, str) else bytes(s), dtype=np.uint8)
    if not len(data):
        return np.zeros(0, dtype=np.int64)
    if data.min() < 48 or data.max() > 111:
        raise ValueError("a compressed RLE uses only the characters '0' to 'o'")
    chars = data.astype(np.int64) - 48
    last = (chars & 0x20) == 0
    if not last[-1]:
        raise ValueError("the compressed RLE ends inside a number")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.repeat(np.arange(len(ends)), ends - starts + 1)
    shift = (SCALE * (np.arange(len(chars)) - starts[group])) & 31
    values = np.bitwise_or.reduceat(_int32((chars & 0x1F) << shift), starts)
    negative = (chars[ends] & 0x10) != 0
    sign = _int32(np.int64(-1) << ((SCALE * (ends - starts + 1)) & 31))
    values = np.where(negative, values | sign, values)
    # counts[i] = delta[i] + counts[i - 2] for i > 2: running sums of each parity from 1 and 2.
    values[1::2] = np.cumsum(values[1::2])
    values[2::2] = np.cumsum(values[2::2])
    return values & _UINT32


def encode_counts(counts) -> str:
    """COCO compressed RLE string of counts (pycocotools' `rleToString`)."""
    values = _counts(counts)
    deltas = values.copy()
    deltas[3:] -= values[1:-2]
    # Groups: the fewest 5-bit groups holding the value in two's complement (deltas < 2**33).
    groups = np.ones(len(deltas), dtype=np.int64)
    for width in range(1, 7):
        limit = 1 << (SCALE * width - 1)
        groups += (deltas < -limit) | (deltas >= limit)
    k = np.arange(7)
    digits = (deltas[:, None] >> (SCALE * k)) & 0x1F
    digits |= np.where(k < groups[:, None] - 1, 0x20, 0)
    chars = (digits + 48)[k < groups[:, None]]
    return chars.astype(np.uint8).tobytes().decode("ascii")


# --- polygons ---


def _vertices(polygons: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """x and y on the 5x grid of every vertex, and each polygon's vertex count."""
    lengths = np.fromiter((len(p) for p in polygons), dtype=np.int64, count=len(polygons))
    flat = np.fromiter(chain.from_iterable(polygons), dtype=float, count=int(lengths.sum()))
    sizes = lengths // 2  # an odd trailing coordinate is ignored, as pycocotools does
    if np.any(lengths % 2):
        first = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        local = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        at = np.repeat(first, sizes) + 2 * local
        xy = np.column_stack((flat[at], flat[at + 1]))
    else:
        xy = flat.reshape(-1, 2)
    if not np.all(np.abs(xy) <= MAX_COORDINATE):
        raise ValueError(f"polygon coordinates must be finite and within ±{MAX_COORDINATE:g}")
    grid = np.trunc(SCALE * xy + 0.5).astype(np.int64)  # C's (int)(5x + .5): toward zero
    return grid, sizes


def _columns(low: np.ndarray, high: np.ndarray, width: np.ndarray):
    """Per edge, the fine-grid x = 5X + 2 (pixel column X < width) within [low, high]."""
    low = np.maximum(low, 2)
    high = np.minimum(high, SCALE * (width - 1) + 2)
    first = low + (2 - low) % SCALE
    count = np.where(high >= first, (high - first) // SCALE + 1, 0)
    edge = np.repeat(np.arange(len(low)), count)
    rank = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return edge, first[edge] + SCALE * rank


def _boundary(grid, sizes, polygon_h, polygon_w):
    """(polygon, pixel index X*h + Y) of every y-boundary point rleFrPoly keeps.

    rleFrPoly walks each edge on the 5x grid one step at a time along its longer axis,
    rounding the other coordinate, and keeps a boundary point wherever the walk crosses a
    column centre x = 5X + 2. Only those crossings are computed here, not the walk.
    """
    owner = np.repeat(np.arange(len(sizes)), sizes)
    following = np.arange(len(grid)) + 1
    ends = np.cumsum(sizes) - 1
    following[ends[sizes > 0]] = ends[sizes > 0] - sizes[sizes > 0] + 1
    xs, ys = grid[:, 0], grid[:, 1]
    xe, ye = xs[following], ys[following]
    dx, dy = np.abs(xe - xs), np.abs(ye - ys)
    along_x = dx >= dy
    # The walk starts from the lower end of its axis (the walked points do not depend on
    # the edge's direction), and the pixel boundary is symmetric in the two walked points.
    flip = (along_x & (xs > xe)) | (~along_x & (ys > ye))
    xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
    ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
    width, height = polygon_w[owner], polygon_h[owner]

    # Walks along x (dx >= dy > 0 or dy = 0): the column x0 + t is crossed between steps
    # t and t + 1; the boundary's y is the lower of the two rounded ys.
    walk_x = np.flatnonzero(along_x & (dx > 0))
    edge, column = _columns(xs[walk_x], xs[walk_x] + dx[walk_x] - 1, width[walk_x])
    edge = walk_x[edge]
    slope = (ye[edge] - ys[edge]) / dx[edge]
    t = column - xs[edge]
    y0 = ys[edge].astype(float)
    fine_y = np.minimum(np.trunc(y0 + slope * t + 0.5), np.trunc(y0 + slope * (t + 1) + 0.5))
    fine_y = fine_y.astype(np.int64)
    edges, columns, fine_ys = [edge], [column], [fine_y]

    # Walks along y (dy > dx > 0): x = (int)(x0 + s*t + .5) moves by at most one per step;
    # find the step where it passes from column c to c + 1 (or back).
    walk_y = np.flatnonzero(~along_x & (dx > 0))
    slope_all = (xe[walk_y] - xs[walk_y]) / dy[walk_y]
    x_first = np.trunc(xs[walk_y] + 0.5).astype(np.int64)
    x_last = np.trunc(xs[walk_y] + slope_all * dy[walk_y] + 0.5).astype(np.int64)
    rising = x_last > x_first
    low = np.where(rising, x_first, x_last)
    high = np.where(rising, x_last, x_first) - 1
    edge, column = _columns(low, high, width[walk_y])
    slope, rising = slope_all[edge], rising[edge]
    edge = walk_y[edge]
    x0, steps = xs[edge].astype(float), dy[edge]

    def past(t):  # has the walk left column c by step t? (monotone in t)
        x = np.trunc(x0 + slope * t + 0.5)
        return np.where(rising, x >= column + 1, x <= column)

    step = np.clip(np.ceil((column + 0.5 - x0) / slope), 1, steps).astype(np.int64)
    while True:  # the estimate is off by float rounding at most: settle on the exact step
        back = (step > 1) & past(step - 1)
        if not back.any():
            break
        step -= back
    while True:
        ahead = ~past(step)
        if not ahead.any():
            break
        step += ahead
    edges.append(edge)
    columns.append(column)
    fine_ys.append(ys[edge] + step - 1)

    edge = np.concatenate(edges)
    column, fine_y = np.concatenate(columns), np.concatenate(fine_ys)
    h = height[edge]
    y = np.ceil(np.clip((fine_y + 0.5) / SCALE - 0.5, 0, h)).astype(np.int64)
    return owner[edge], (column - 2) // SCALE * h + y


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Index of the first of each run of equal keys."""
    return np.flatnonzero(np.diff(sorted_keys, prepend=-1) != 0)


def _parity(group: np.ndarray, position: np.ndarray, total: np.ndarray):
    """Positions toggled an odd number of times per group, sorted, below the group's total."""
    keys = np.sort((group << 32) | position)
    starts = _group_starts(keys)
    odd = np.diff(np.append(starts, len(keys))) % 2 == 1
    keys = keys[starts[odd]]
    group, position = keys >> 32, keys & _UINT32
    keep = position < total[group]
    return group[keep], position[keep]


def _to_counts(group: np.ndarray, toggles: np.ndarray, total: np.ndarray) -> list[np.ndarray]:
    """Counts of each group's sorted toggle positions (each group's are contiguous)."""
    n = len(total)
    per_group = np.bincount(group, minlength=n) + 1
    last = np.cumsum(per_group) - 1
    positions = np.empty(int(per_group.sum()), dtype=np.int64)
    slots = np.ones(len(positions), dtype=bool)
    slots[last] = False
    positions[slots] = toggles
    positions[last] = total
    previous = np.concatenate(([0], positions[:-1]))
    previous[last[:-1] + 1] = 0
    return np.split(positions - previous, last[:-1] + 1)


def from_polygons_many(objects: Sequence[Sequence[Sequence[float]]], h, w) -> list[np.ndarray]:
    """`from_polygons` of many objects at once; h and w are ints or one per object."""
    n = len(objects)
    heights = np.broadcast_to(np.asarray(h, dtype=np.int64), (n,))
    widths = np.broadcast_to(np.asarray(w, dtype=np.int64), (n,))
    per_object = np.fromiter((len(o) for o in objects), dtype=np.int64, count=n)
    polygon_object = np.repeat(np.arange(n), per_object)
    grid, sizes = _vertices(list(chain.from_iterable(objects)))
    polygon_h, polygon_w = heights[polygon_object], widths[polygon_object]
    totals = heights * widths
    polygon, position = _boundary(grid, sizes, polygon_h, polygon_w)
    polygon, toggles = _parity(polygon, position, polygon_h * polygon_w)
    # Union of each object's polygons: +1 where a polygon's run of 1s starts, -1 where it
    # ends (at the image's end when its toggles are odd in number), 1s where the sum > 0.
    per_polygon = np.bincount(polygon, minlength=len(sizes))
    rank = np.arange(len(toggles)) - np.repeat(np.cumsum(per_polygon) - per_polygon, per_polygon)
    unclosed = np.flatnonzero(per_polygon % 2 == 1)
    group = np.concatenate((polygon_object[polygon], polygon_object[unclosed]))
    position = np.concatenate((toggles, totals[polygon_object[unclosed]]))
    delta = np.concatenate((np.where(rank % 2 == 0, 1, -1), -np.ones(len(unclosed), np.int64)))
    order = np.argsort((group << 32) | position, kind="stable")
    keys = ((group << 32) | position)[order]
    starts = _group_starts(keys)
    covered = np.cumsum(np.add.reduceat(delta[order], starts)) > 0 if len(keys) else keys > 0
    change = covered != np.concatenate(([False], covered[:-1]))
    keys = keys[starts][change]
    group, position = keys >> 32, keys & _UINT32
    keep = position < totals[group]
    return _to_counts(group[keep], position[keep], totals)


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


def from_uncompressed(rle: dict) -> np.ndarray:
    """Counts of an uncompressed RLE {size, counts: [int, ...]} (pycocotools keeps them as is)."""
    return _counts(rle["counts"]).copy()


def from_segmentation(segmentation, h: int, w: int) -> tuple[np.ndarray, int, int]:
    """(counts, height, width) of any COCO segmentation, as pycocotools' `COCO.annToRLE`.

    Polygons are rasterised in h x w; an RLE keeps its own size. Polygon lists that
    pycocotools' `frPyObjects` rejects (empty, or a first polygon of 4 numbers or fewer)
    raise ValueError.
    """
    if isinstance(segmentation, list):
        if not segmentation or len(segmentation[0]) <= 4:
            raise ValueError(
                "pycocotools rejects a polygon list that is empty or whose first polygon "
                "has 4 numbers or fewer"
            )
        return from_polygons(segmentation, h, w), int(h), int(w)
    size_h, size_w = (int(v) for v in segmentation["size"])
    counts = segmentation["counts"]
    if isinstance(counts, str | bytes):
        return decode_counts(counts), size_h, size_w
    return from_uncompressed(segmentation), size_h, size_w


# --- measures ---


def area(counts) -> int:
    """Pixels set (pycocotools' `area`)."""
    return int(np.sum(_counts(counts)[1::2]))


def to_bbox(counts, h: int, w: int) -> np.ndarray:
    """[x, y, width, height] (float) of the set pixels, as pycocotools' `toBbox`.

    An empty mask is all zeros. pycocotools' unsigned arithmetic is kept: when the only runs
    of 1s are empty ones ([5, 0, 15]) the box is [w, h, 2**32 + 1 - w, 2**32 + 1 - h].
    """
    values = _counts(counts)
    m = len(values) // 2 * 2
    if m == 0:
        return np.zeros(4)
    if h <= 0:
        raise ValueError("to_bbox needs h > 0 (pycocotools divides by h)")
    values = values[:m]
    after = np.cumsum(values) & _UINT32
    start, length = (after - values)[1::2], values[1::2]
    start, end = start[length > 0], (after[1::2][length > 0] - 1) & _UINT32
    x_start, x_end = start // h, end // h
    x0 = min(int(w), int(x_start.min())) if len(start) else int(w)
    x1 = max(0, int(x_end.max())) if len(start) else 0
    if np.any(x_start < x_end):  # a run spanning columns covers the full height
        y0, y1 = 0, int(h) - 1
    else:
        y0 = min(int(h), int((start % h).min())) if len(start) else int(h)
        y1 = max(0, int((end % h).max())) if len(start) else 0
    return np.array([x0, y0, (x1 - x0 + 1) & _UINT32, (y1 - y0 + 1) & _UINT32], dtype=float)


def _merge_two(a: np.ndarray, b: np.ndarray, intersect: bool) -> np.ndarray:
    """pycocotools' rleMerge of two RLEs, step for step.

    Its loop advances to the nearer run end of either mask and moves each mask on by at
    most one run per step, so a run of length 0 costs a step of its own and can leave a
    0 count in the output. Steps are keyed (position, how many runs of that mask already
    ended there); a count ends at every step where the merged value changes, and at the end.
    """
    total = int(a.sum())
    keys = []
    for counts in (a, b):
        ends = np.cumsum(counts)[:-1]  # the last run's end is the image's end: no switch
        first = np.concatenate(([True], ends[1:] != ends[:-1]))
        starts = np.flatnonzero(first)
        repeat = np.arange(len(ends)) - np.repeat(starts, np.diff(np.append(starts, len(ends))))
        # At the image's end the loop switches each mask once and stops.
        keep = (ends < total) | (repeat == 0)
        keys.append((ends[keep], repeat[keep]))
    stride = max([int(r.max()) + 1 for _, r in keys if len(r)] + [1])
    key_a, key_b = ((e * stride + r) for e, r in keys)
    steps = np.union1d(np.union1d(key_a, key_b), [total * stride])
    value_a = np.searchsorted(key_a, steps, side="right") % 2 == 1
    value_b = np.searchsorted(key_b, steps, side="right") % 2 == 1
    value = (value_a & value_b) if intersect else (value_a | value_b)
    emit = value != np.concatenate(([False], value[:-1]))
    emit[-1] = True
    return np.diff(steps[emit] // stride, prepend=0)


def merge(masks: Sequence, intersect: bool = False) -> np.ndarray:
    """Union (or intersection) of masks of one size, as pycocotools' `merge`, counts and all.

    Masks whose counts add up to different totals raise ValueError (pycocotools returns an
    empty RLE of size 0 x 0); so does an empty list (pycocotools reads unowned memory).
    """
    if not len(masks):
        raise ValueError("merge needs at least one mask")
    counts = [_counts(m) for m in masks]
    if len({int(c.sum()) for c in counts}) > 1:
        raise ValueError("merge needs masks of one size")
    out = counts[0].copy()
    for other in counts[1:]:
        out = _merge_two(out, other, intersect)
    return out


def _runs(counts: Sequence[np.ndarray]):
    """Runs of 1s of masks of one size T laid end to end (mask i at i*T): starts, lengths,
    owning mask, and each mask's area."""
    sizes = np.fromiter((len(c) for c in counts), dtype=np.int64, count=len(counts))
    flat = np.concatenate(counts)
    owner = np.repeat(np.arange(len(counts)), sizes)
    rank = np.arange(len(flat)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    starts = np.cumsum(flat) - flat
    ones = (rank % 2 == 1) & (flat > 0)
    areas = np.bincount(owner[ones], weights=flat[ones], minlength=len(counts))
    return starts[ones], flat[ones], owner[ones], areas.astype(np.int64)


def iou_matrix(dt: Sequence, gt: Sequence, iscrowd: Sequence) -> np.ndarray:
    """IoU of every (detection, ground truth) pair of masks → (len(dt), len(gt)) float64.

    As pycocotools' `iou(dt, gt, iscrowd)`: the intersection over the union, or over the
    detection's area where the ground truth is a crowd; 0 when the masks do not meet (also
    for two empty masks). Computed from the runs, never the pixels. Unlike pycocotools, an
    empty dt or gt gives an empty (len(dt), len(gt)) array rather than [], and masks of
    different sizes raise ValueError rather than scoring -1 where their boxes overlap.
    """
    crowd = np.asarray(iscrowd, dtype=bool).reshape(-1)
    if len(crowd) != len(gt):
        raise ValueError("iou_matrix needs one iscrowd flag per ground truth")
    out = np.zeros((len(dt), len(gt)))
    if not len(dt) or not len(gt):
        return out
    dt_counts, gt_counts = [_counts(c) for c in dt], [_counts(c) for c in gt]
    totals = {int(c.sum()) for c in chain(dt_counts, gt_counts)}
    if len(totals) > 1:
        raise ValueError("iou_matrix needs masks of one size")
    total = totals.pop()
    dt_starts, dt_lengths, _, dt_areas = _runs(dt_counts)
    gt_starts, gt_lengths, gt_owner, gt_areas = _runs(gt_counts)
    if not len(dt_starts) or not len(gt_starts):
        return out
    gt_starts -= gt_owner * total  # each gt's runs in its own [0, T)
    before = np.concatenate(([0], np.cumsum(dt_lengths)))

    def covered(x):  # pixels of the laid-out dt masks before each position x
        run = np.searchsorted(dt_starts, x, side="right") - 1
        last = np.maximum(run, 0)
        partial = np.minimum(x - dt_starts[last], dt_lengths[last])
        return np.where(run >= 0, before[last] + partial, 0)

    # Every gt run against every dt mask d: the run shifted into d's stretch d*T.
    # gt g's runs are the columns [bounds[g], bounds[g + 1]) of a row of queries.
    bounds = np.concatenate(([0], np.cumsum(np.bincount(gt_owner, minlength=len(gt)))))
    inter = np.zeros((len(dt), len(gt)), dtype=np.int64)
    rows = max(1, _IOU_CHUNK // len(gt_starts))
    for first in range(0, len(dt), rows):
        shift = np.arange(first, min(first + rows, len(dt)), dtype=np.int64)[:, None] * total
        low = gt_starts[None, :] + shift
        overlap = covered(low + gt_lengths[None, :]) - covered(low)
        running = np.concatenate((np.zeros((len(shift), 1), np.int64), overlap.cumsum(axis=1)), 1)
        inter[first : first + len(shift)] = running[:, bounds[1:]] - running[:, bounds[:-1]]
    union = dt_areas[:, None] + gt_areas[None, :] - inter
    over = np.where(crowd[None, :], dt_areas[:, None], union)
    np.divide(inter, over, out=out, where=inter > 0)
    return out
