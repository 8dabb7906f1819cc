from __future__ import annotations

import math

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from assay.metrics import geometry as g


def box(x, y, w, h, **extra):
    return {"type": "box", "x": x, "y": y, "width": w, "height": h, **extra}


def polygon(points, **extra):
    return {"type": "polygon", "vertices": [{"x": x, "y": y} for x, y in points], **extra}


def square(x, y, side):
    return np.array([(x, y), (x + side, y), (x + side, y + side), (x, y + side)], float)


def raster_iou(a: np.ndarray, b: np.ndarray, n: int = 1500) -> float:
    """IoU by even-odd point sampling on an n x n grid: the slow reference."""
    points = np.vstack((a, b))
    low, high = points.min(axis=0), points.max(axis=0)
    xs, ys = np.meshgrid(
        np.linspace(low[0], high[0], n), np.linspace(low[1], high[1], n), indexing="xy"
    )

    def inside(poly):
        hit = np.zeros(xs.shape, bool)
        for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
            if y0 == y1:
                continue
            crosses = (y0 > ys) != (y1 > ys)
            hit ^= crosses & (xs < (x1 - x0) * (ys - y0) / (y1 - y0) + x0)
        return hit

    in_a, in_b = inside(a), inside(b)
    return (in_a & in_b).sum() / (in_a | in_b).sum()


def star(rng, n):
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.4, 2.0, n)
    centre = rng.uniform(0, 1, 2)
    return np.column_stack((radii * np.cos(angles), radii * np.sin(angles))) + centre


def rle_of(pixels: np.ndarray) -> dict:
    """Uncompressed COCO RLE (column-major, zeros first) of a boolean image."""
    flat = pixels.flatten(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": list(pixels.shape), "counts": counts}


def test_box_iou_known_answers():
    assert g.box_iou(box(0, 0, 2, 2), box(1, 1, 2, 2)) == pytest.approx(1 / 7)
    assert g.box_iou(box(0, 0, 2, 2), box(0, 0, 2, 2)) == 1.0
    assert g.box_iou(box(0, 0, 2, 2), box(2, 0, 2, 2)) == 0.0  # touching edges
    assert g.box_iou(box(0, 0, 4, 4), box(1, 1, 2, 2)) == pytest.approx(4 / 16)


def test_box_iou_matrix_is_pairwise():
    a = [box(0, 0, 2, 2), box(5, 5, 1, 1)]
    b = [box(1, 1, 2, 2), box(5, 5, 1, 1), box(9, 9, 1, 1)]
    matrix = g.box_iou_matrix(g.box_array(a), g.box_array(b))
    assert matrix.shape == (2, 3)
    expected = [[g.box_iou(x, y) for y in b] for x in a]
    assert matrix == pytest.approx(np.array(expected))


def test_polygon_iou_convex_and_orientation():
    assert g.polygon_iou(square(0, 0, 2), square(1, 1, 2)) == pytest.approx(1 / 7)
    assert g.polygon_iou(square(0, 0, 2), square(0, 0, 2)[::-1]) == pytest.approx(1.0)
    assert g.polygon_iou(square(0, 0, 2), square(2, 0, 2)) == 0.0
    assert g.polygon_iou(square(0, 0, 2), square(5, 5, 2)) == 0.0


def test_polygon_iou_non_convex():
    ell = np.array([(0, 0), (3, 0), (3, 1), (1, 1), (1, 3), (0, 3)], float)  # area 5
    assert g.polygon_iou(ell, square(0, 0, 3)) == pytest.approx(5 / 9)
    assert g.polygon_iou(ell, square(1.5, 1.5, 1)) == pytest.approx(0.0, abs=1e-12)
    # A U shape and a bar across its arms: the bar covers the two arm tops only.
    u_shape = np.array([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)], float)
    bar = np.array([(0, 2), (3, 2), (3, 3), (0, 3)], float)
    assert g.polygon_iou(u_shape, bar) == pytest.approx(2 / (7 + 3 - 2))


def test_polygon_iou_matches_rasterised_reference():
    rng = np.random.default_rng(7)
    for _ in range(4):
        a, b = star(rng, 11), star(rng, 8)
        assert g.polygon_iou(a, b) == pytest.approx(raster_iou(a, b), abs=3e-3)


def test_polygon_iou_matrix_batches_many_pairs():
    rng = np.random.default_rng(3)
    shapes = [star(rng, 9) * 3 + rng.uniform(0, 12, 2) for _ in range(12)]
    matrix = g.polygon_iou_matrix(shapes, shapes)
    assert np.diag(matrix) == pytest.approx(np.ones(12))
    assert matrix == pytest.approx(matrix.T)
    assert matrix[2, 5] == pytest.approx(g.polygon_iou(shapes[2], shapes[5]))
    assert np.count_nonzero(matrix) > 12  # some overlap, so the batching was exercised


def test_regions_compare_across_kinds():
    as_polygon = polygon([(0, 0), (2, 0), (2, 2), (0, 2)])
    assert g.similarity(as_polygon, box(1, 1, 2, 2)) == pytest.approx(1 / 7)
    circle = {"type": "ellipse", "cx": 1, "cy": 1, "rx": 1, "ry": 1}
    assert g.similarity(circle, box(0, 0, 2, 2)) == pytest.approx(math.pi / 4, rel=1e-3)


def test_ellipse_area_and_rotated_overlap():
    outline = g.ellipse_polygon(3, 4, 2, 1, 30)
    assert abs(g.polygon_area(outline)) == pytest.approx(math.pi * 2, rel=1e-12)
    wide = {"type": "ellipse", "cx": 0, "cy": 0, "rx": 2, "ry": 1, "rotation": 0}
    tall = {**wide, "rotation": 90}
    overlap = 4 * 2 * 1 * math.atan(1 / 2)  # two crossed ellipses with the same axes
    exact = overlap / (2 * math.pi * 2 - overlap)
    assert g.similarity(wide, tall) == pytest.approx(exact, abs=1e-3)
    assert g.similarity(wide, {**wide, "rotation": 180}) == pytest.approx(1.0)


def test_cuboid_scores_mean_of_faces():
    a = {"type": "cuboid", "front": box(0, 0, 2, 2), "back": box(1, 1, 2, 2)}
    b = {"type": "cuboid", "front": box(1, 1, 2, 2), "back": box(1, 1, 2, 2)}
    assert g.similarity(a, b) == pytest.approx((1 / 7 + 1) / 2)


def test_mask_iou_matches_decoded_pixels_and_pycocotools():
    rng = np.random.default_rng(0)
    for _ in range(4):
        a = rng.random((31, 47)) < 0.4
        b = rng.random((31, 47)) < 0.5
        a[:8] = True
        rle_a, rle_b = rle_of(a), rle_of(b)
        exact = (a & b).sum() / (a | b).sum()
        coco = coco_mask.iou(
            [coco_mask.frPyObjects(rle_a, 31, 47)], [coco_mask.frPyObjects(rle_b, 31, 47)], [0]
        )[0, 0]
        assert g.rle_iou(rle_a, rle_b) == pytest.approx(exact)
        assert g.rle_iou(rle_a, rle_b) == pytest.approx(coco)
        assert g.rle_area(rle_a) == a.sum()


def test_mask_edge_cases():
    empty = {"size": [2, 2], "counts": [4]}
    full = {"size": [2, 2], "counts": [0, 4]}
    assert g.rle_iou(empty, full) == 0.0
    assert g.rle_iou(full, full) == 1.0
    with pytest.raises(ValueError, match="different sizes"):
        g.rle_iou(full, {"size": [4, 1], "counts": [0, 4]})


def test_point_similarity_is_gaussian_in_distance():
    a = {"type": "point", "x": 0, "y": 0}
    assert g.similarity(a, a) == 1.0
    assert g.similarity(a, {"type": "point", "x": 3, "y": 4}, point_scale=5) == pytest.approx(
        math.exp(-0.5)
    )


def test_keypoints_oks():
    names = ["head", "hand", "foot"]
    a = {
        "type": "keypoints",
        "points": [{"name": n, "x": 10.0 * i, "y": 20.0 * i} for i, n in enumerate(names)],
    }
    assert g.similarity(a, a) == pytest.approx(1.0)
    hidden = {
        "type": "keypoints",
        "points": [{**p, "visible": p["name"] != "foot"} for p in a["points"]],
    }
    assert g.similarity(a, hidden) == pytest.approx(2 / 3)
    shifted = {"type": "keypoints", "points": [{**p, "x": p["x"] + 4} for p in a["points"]]}
    sigma = g.KEYPOINT_KAPPA * math.sqrt(20 * 40)  # bounding box 20 x 40 on both sides
    assert g.similarity(a, shifted) == pytest.approx(math.exp(-16 / (2 * sigma**2)))


def test_line_similarity_ignores_direction_and_scales_with_length():
    line = {"type": "line", "vertices": [{"x": 0, "y": 0}, {"x": 50, "y": 0}, {"x": 100, "y": 0}]}
    reverse = {"type": "line", "vertices": line["vertices"][::-1]}
    assert g.similarity(line, reverse) == pytest.approx(1.0)
    moved = {"type": "line", "vertices": [{"x": 0, "y": 5}, {"x": 100, "y": 5}]}
    sigma = g.LINE_SCALE * 100
    assert g.similarity(line, moved) == pytest.approx(math.exp(-25 / (2 * sigma**2)))
    far = {"type": "line", "vertices": [{"x": 0, "y": 500}, {"x": 100, "y": 500}]}
    assert g.similarity(line, far) < 1e-6


def test_similarity_matrix_agrees_with_pairwise_and_frames():
    shapes = [
        box(0, 0, 2, 2),
        polygon([(1, 1), (3, 1), (3, 3), (1, 3)]),
        {"type": "ellipse", "cx": 1, "cy": 1, "rx": 1, "ry": 1},
        {"type": "point", "x": 1, "y": 1},
        {"type": "line", "vertices": [{"x": 0, "y": 0}, {"x": 5, "y": 5}]},
        box(0, 0, 2, 2, frame=3),
    ]
    matrix = g.similarity_matrix(shapes, shapes)
    expected = np.array([[g.similarity(a, b) for b in shapes] for a in shapes])
    assert matrix == pytest.approx(expected)
    assert matrix[0, 5] == 0.0  # same box, other frame
    assert matrix[0, 3] == 0.0  # a box and a point do not compare
