"""The y-boundary points of polygons exactly as pycocotools' `rleFrPoly` finds them.

rleFrPoly scales a polygon by 5 and rounds its vertices ((int)(5x + .5), toward zero),
walks each edge on that fine grid one step at a time along its longer axis, rounding the
other coordinate ((int)(y0 + s*t + .5)), and wherever the walk steps across a pixel column's
centre (fine x = 5X + 2, 0 <= X < w) keeps the point (X, Y), Y the column's first pixel
below the crossing (ceil of the fine y scaled back, clipped to [0, h]). Sorted by X*h + Y,
the points toggle the mask on and off down each column (`assay.metrics.rle` does that).

Here only the crossings are computed, never the walk: in closed form where the walk goes
along x, by a monotone search settled on C's exact float expression where it goes along y.
Every edge of every polygon at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

SCALE = 5  # the fine grid: 5 steps a pixel
MAX_COORDINATE = 2e8  # beyond this pycocotools' int arithmetic overflows (undefined in C)


def boundary_points(
    polygons: Sequence[Sequence[float]], heights: np.ndarray, widths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(polygon index, pixel index X*h + Y) of every boundary point, unsorted.

    Polygons are flat [x0, y0, x1, y1, ...] lists (an odd last number is ignored, as
    pycocotools does); heights and widths are one per polygon.
    """
    grid, sizes = _vertices(polygons)
    return _boundary(grid, sizes, heights, widths)


def _vertices(polygons: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """x and y on the 5x grid of every vertex, and each polygon's vertex count."""
    lengths = np.fromiter(map(len, polygons), dtype=np.int64, count=len(polygons))
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
    count = np.maximum((high - first) // SCALE + 1, 0)
    edge = np.repeat(np.arange(len(low)), count)
    rank = np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count)
    return edge, first[edge] + SCALE * rank


def _boundary(grid, sizes, polygon_h, polygon_w):
    """(polygon, pixel index X*h + Y) of every y-boundary point rleFrPoly keeps.

    rleFrPoly walks each edge on the 5x grid one step at a time along its longer axis,
    rounding the other coordinate, and keeps a boundary point wherever the walk crosses a
    column centre x = 5X + 2. Only those crossings are computed here, not the walk.
    """
    owner = np.repeat(np.arange(len(sizes)), sizes)
    following = np.arange(1, len(grid) + 1)
    last = np.cumsum(sizes)[sizes > 0] - 1
    following[last] = last - sizes[sizes > 0] + 1
    xs, ys = grid[:, 0], grid[:, 1]
    xe, ye = xs[following], ys[following]
    dx, dy = np.abs(xe - xs), np.abs(ye - ys)
    along_x = dx >= dy
    # The walk starts from the lower end of its axis (the walked points do not depend on
    # the edge's direction), and the pixel boundary is symmetric in the two walked points.
    flip = np.where(along_x, xs > xe, ys > ye)
    xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
    ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
    width = polygon_w[owner]

    # Walks along x (dx >= dy, dx > 0): column x0 + t is crossed between steps t and t + 1;
    # the boundary's y is the lower of the two rounded ys (y is monotone along the walk).
    walk_x = np.flatnonzero(along_x & (dx > 0))
    x0, y0, run = xs[walk_x], ys[walk_x], dx[walk_x]
    slope = (ye[walk_x] - y0) / run
    local, column_x = _columns(x0, x0 + run - 1, width[walk_x])
    t = column_x - x0[local] + (slope[local] < 0)
    fine_y_x = np.trunc(y0[local] + slope[local] * t + 0.5).astype(np.int64)
    edge_x = walk_x[local]

    # Walks along y (dy > dx > 0): x = (int)(x0 + s*t + .5) moves by at most one a step;
    # find the step where it passes from column c to c + 1 (or back).
    walk_y = np.flatnonzero(~along_x & (dx > 0))
    x0, y0, run = xs[walk_y].astype(float), ys[walk_y], dy[walk_y]
    slope = (xe[walk_y] - xs[walk_y]) / run
    x_first = np.trunc(x0 + 0.5).astype(np.int64)
    x_last = np.trunc(x0 + slope * run + 0.5).astype(np.int64)
    rising = slope > 0
    low, high = np.where(rising, x_first, x_last), np.where(rising, x_last, x_first) - 1
    local, column_y = _columns(low, high, width[walk_y])
    x0, slope, rising, run = x0[local], slope[local], rising[local], run[local]

    def past(t):  # has the walk left column c by step t? (monotone in t)
        x = np.trunc(x0 + slope * t + 0.5)
        return np.where(rising, x >= column_y + 1, x <= column_y)

    step = np.clip(np.ceil((column_y + 0.5 - x0) / slope), 1, run).astype(np.int64)
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
    fine_y_y = y0[local] + step - 1
    edge_y = walk_y[local]

    edge = np.concatenate((edge_x, edge_y))
    column = np.concatenate((column_x, column_y))
    fine_y = np.concatenate((fine_y_x, fine_y_y))
    h = polygon_h[owner[edge]]
    # ceil(clip((y + .5) / 5 - .5, 0, h)) in integers: (y + 2) // 5, clipped.
    y = np.minimum(np.maximum((fine_y + 2) // SCALE, 0), h)
    return owner[edge], (column - 2) // SCALE * h + y
