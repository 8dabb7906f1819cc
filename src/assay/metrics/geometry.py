"""Similarity in [0, 1] between two shapes of Assay's annotation model (IoU for regions).

Shapes are the JSON of `assay.labeling.annotations` (`type` plus its fields):

- box, cuboid: exact IoU (a 2D cuboid scores the mean IoU of its front and back faces).
- polygon: exact IoU for simple polygons of any convexity. Each polygon is a signed fan of
  triangles from its first vertex, and the overlap is the sum of the signed overlaps of the
  triangle pairs, each a convex clip (Sutherland-Hodgman). No rasterisation, no tolerance
  beyond float rounding. A self-intersecting polygon is weighted by its winding number.
- ellipse: a polygon of `ELLIPSE_VERTICES` vertices whose area equals the ellipse's, so the
  IoU error is second order (below 1e-3 for ellipses of comparable size); boxes, polygons
  and ellipses compare with each other as regions.
- mask: exact IoU of uncompressed COCO RLEs, from their runs (never decoded to pixels).
- point: exp(-d² / 2sigma²) with sigma = `point_scale` pixels.
- keypoints: OKS as in COCO: the mean over names visible in either set of exp(-d² / 2s²kappa²),
  s² the mean area of the two sets' bounding boxes, kappa = `KEYPOINT_KAPPA`; a name visible in
  one set only scores 0.
- line: both polylines resampled at `LINE_SAMPLES` points by arc length; d = mean distance
  of each set of samples to the other polyline (both ways); exp(-d² / 2sigma²) with sigma =
  `LINE_SCALE` x the mean length, so the score is scale-free like IoU and ignores direction.

Other pairs (different kinds, spans, categories) score 0; annotations on different video
frames score 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import cos, exp, hypot, pi, radians, sin, sqrt

import numpy as np

CLIP_CHUNK = 65536
ELLIPSE_VERTICES = 64
KEYPOINT_KAPPA = 0.1
LINE_SAMPLES = 32
LINE_SCALE = 0.1
POINT_SCALE = 10.0
REGION_TYPES = frozenset(("box", "polygon", "ellipse"))


# --- boxes ---


def box_array(boxes: Sequence[dict]) -> np.ndarray:
    """(n, 4) float array of x0, y0, x1, y1 from box dicts {x, y, width, height}."""
    out = np.array([(b["x"], b["y"], b["width"], b["height"]) for b in boxes], dtype=float)
    out = out.reshape(-1, 4)
    out[:, 2:] += out[:, :2]
    return out


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every pair of corner boxes (n, 4) x (m, 4) → (n, m)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_iou(a: dict, b: dict) -> float:
    """IoU of two boxes {x, y, width, height}."""
    return float(box_iou_matrix(box_array([a]), box_array([b]))[0, 0])


def cuboid_iou(a: dict, b: dict) -> float:
    """Mean IoU of the front faces and of the back faces of two 2D cuboids."""
    faces = box_iou_matrix(box_array([a["front"], a["back"]]), box_array([b["front"], b["back"]]))
    return float((faces[0, 0] + faces[1, 1]) / 2)


# --- polygons ---


def polygon_area(vertices: np.ndarray) -> float:
    """Signed area (shoelace): positive when the vertices run counter-clockwise (y up)."""
    x, y = vertices[:, 0], vertices[:, 1]
    closing = x[-1] * y[0] - y[-1] * x[0]
    return float(np.dot(x[:-1], y[1:]) - np.dot(y[:-1], x[1:]) + closing) / 2


def ellipse_polygon(
    cx: float, cy: float, rx: float, ry: float, rotation: float = 0.0, n: int = ELLIPSE_VERTICES
) -> np.ndarray:
    """An n-gon with the ellipse's area (radii scaled up so the inscribed loss is undone)."""
    grow = sqrt(2 * pi / (n * sin(2 * pi / n)))
    angles = np.linspace(0, 2 * pi, n, endpoint=False)
    ex, ey = rx * grow * np.cos(angles), ry * grow * np.sin(angles)
    c, s = cos(radians(rotation)), sin(radians(rotation))
    return np.column_stack((cx + c * ex - s * ey, cy + s * ex + c * ey))


def region_polygon(shape: dict) -> np.ndarray:
    """The (n, 2) outline of a box, polygon or ellipse."""
    kind = shape.get("type")
    if kind == "polygon":
        return np.array([(v["x"], v["y"]) for v in shape["vertices"]], dtype=float)
    if kind == "ellipse":
        s = shape
        return ellipse_polygon(s["cx"], s["cy"], s["rx"], s["ry"], s.get("rotation") or 0.0)
    x0, y0, x1, y1 = box_array([shape])[0]
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


class _Fans:
    """Every polygon's fan of triangles from its vertex 0, all in one array.

    A polygon's winding number is the signed sum of its fan triangles' indicators, so the
    overlap of two polygons is the signed sum of their triangles' overlaps.
    """

    def __init__(self, polygons: Sequence[np.ndarray]) -> None:
        sizes = np.array([len(p) for p in polygons])
        vertices = np.concatenate(polygons) if len(polygons) else np.zeros((0, 2))
        first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        per_polygon = np.maximum(sizes - 2, 0)
        owner = np.repeat(np.arange(len(polygons)), per_polygon)
        k = np.arange(per_polygon.sum()) - np.repeat(
            np.cumsum(per_polygon) - per_polygon, per_polygon
        )
        corners = first[owner][:, None] + np.stack((np.zeros_like(k), k + 1, k + 2), axis=1)
        tri = vertices[corners]
        e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        twice_area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        # The fan's signed areas add up to the polygon's (shoelace) signed area.
        self.signed_area = np.bincount(owner, weights=twice_area / 2, minlength=len(polygons))
        keep = twice_area != 0  # degenerate triangles cover nothing and cannot clip
        tri, owner, sign = tri[keep], owner[keep], np.sign(twice_area[keep])
        flip = sign < 0  # clipping wants counter-clockwise triangles; the sign remembers
        tri[flip, 1], tri[flip, 2] = tri[flip, 2], tri[flip, 1].copy()
        self.triangles, self.sign = tri, sign
        self.count = np.bincount(owner, minlength=len(polygons))
        self.start = np.concatenate(([0], np.cumsum(self.count)[:-1]))
        self.low, self.high = tri.min(axis=1), tri.max(axis=1)


_NEXT = {n: np.roll(np.arange(n), -1) for n in range(3, 7)}  # clipping widths: 3 to 6


def _clip(subject: np.ndarray, clipper: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman of K convex polygons (K, n, 2) by K CCW triangles → (K, n + 3, 2).

    Rows are padded with copies of their first vertex, which adds no area; an empty result
    is all zeros.
    """
    poly = subject
    rows = np.arange(len(poly))
    for e in range(3):
        a, b = clipper[:, e, None, :], clipper[:, (e + 1) % 3, None, :]
        edge = b - a
        side = edge[..., 0] * (poly[..., 1] - a[..., 1]) - edge[..., 1] * (poly[..., 0] - a[..., 0])
        following = _NEXT[poly.shape[1]]  # np.roll(-1) as a cached index: far cheaper
        nxt, side_nxt = poly[:, following], side[:, following]
        inside_nxt = side_nxt >= 0
        crossing = (side >= 0) != inside_nxt
        t = side / np.where(crossing, side - side_nxt, 1.0)
        cut = poly + t[..., None] * (nxt - poly)
        # Per edge: the crossing point if it crosses, then its end if that end is inside.
        candidates = np.stack((cut, nxt), axis=2).reshape(len(poly), -1, 2)
        keep = np.stack((crossing, inside_nxt), axis=2).reshape(len(poly), -1)
        width = poly.shape[1] + 1  # a convex polygon gains at most one vertex per half-plane
        rank = np.cumsum(keep, axis=1) - 1
        first = np.where(keep.any(axis=1), keep.argmax(axis=1), 0)
        out = np.repeat(candidates[rows, first][:, None, :], width, axis=1)
        out[~keep.any(axis=1)] = 0
        hit_rows, hit_cols = np.nonzero(keep)
        out[hit_rows, rank[hit_rows, hit_cols]] = candidates[hit_rows, hit_cols]
        poly = out
    return poly


def _areas(polys: np.ndarray) -> np.ndarray:
    x, y = polys[..., 0], polys[..., 1]
    following = _NEXT[polys.shape[1]]
    return np.sum(x * y[:, following] - y * x[:, following], axis=1) / 2


def _bounds(polys: Sequence[np.ndarray]) -> np.ndarray:
    return np.array([(*p.min(axis=0), *p.max(axis=0)) for p in polys]).reshape(-1, 4)


def polygon_iou_matrix(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
    """Exact IoU of every pair of polygons (each an (n, 2) vertex array) → (len(a), len(b))."""
    out = np.zeros((len(a), len(b)))
    if not len(a) or not len(b):
        return out
    bounds_a, bounds_b = _bounds(a), _bounds(b)
    overlap = (
        (bounds_a[:, None, 0] < bounds_b[None, :, 2])
        & (bounds_b[None, :, 0] < bounds_a[:, None, 2])
        & (bounds_a[:, None, 1] < bounds_b[None, :, 3])
        & (bounds_b[None, :, 1] < bounds_a[:, None, 3])
    )
    pa, pb = np.nonzero(overlap)
    if not len(pa):
        return out
    fans_a, fans_b = _Fans(a), _Fans(b)
    count_a, count_b = fans_a.count, fans_b.count
    # Every triangle of polygon pa[k] against every triangle of polygon pb[k].
    per_pair = count_a[pa] * count_b[pb]
    pair = np.repeat(np.arange(len(pa)), per_pair)
    local = np.arange(per_pair.sum()) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    ia = fans_a.start[pa][pair] + local // count_b[pb][pair]
    ib = fans_b.start[pb][pair] + local % count_b[pb][pair]
    # Triangles whose boxes miss each other overlap by nothing: skip the clipping.
    near = np.all((fans_a.low[ia] < fans_b.high[ib]) & (fans_b.low[ib] < fans_a.high[ia]), axis=1)
    pair, ia, ib = pair[near], ia[near], ib[near]
    inter = np.zeros(len(pa))
    for at in range(0, len(pair), CLIP_CHUNK):  # bounded memory for polygons of many vertices
        chunk = slice(at, at + CLIP_CHUNK)
        ca, cb = ia[chunk], ib[chunk]
        clipped = _clip(fans_a.triangles[ca], fans_b.triangles[cb])
        overlap_areas = _areas(clipped) * fans_a.sign[ca] * fans_b.sign[cb]
        inter += np.bincount(pair[chunk], weights=overlap_areas, minlength=len(pa))
    signed_a, signed_b = fans_a.signed_area, fans_b.signed_area
    # A clockwise polygon's fan counts its inside as -1: undo the orientation.
    inter *= np.sign(signed_a[pa]) * np.sign(signed_b[pb])
    area_a, area_b = np.abs(signed_a[pa]), np.abs(signed_b[pb])
    inter = np.clip(inter, 0, np.minimum(area_a, area_b))
    union = area_a + area_b - inter
    out[pa, pb] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Exact IoU of two polygons given as (n, 2) vertex arrays."""
    return float(polygon_iou_matrix([np.asarray(a, float)], [np.asarray(b, float)])[0, 0])


# --- masks ---


def _runs(rle: dict) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of 1s of an uncompressed COCO RLE (0s first)."""
    counts = np.asarray(rle["counts"], dtype=np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    starts, ends = starts[1::2], ends[1::2]
    keep = ends > starts
    return starts[keep], ends[keep]


def rle_area(rle: dict) -> int:
    """Pixels set in an uncompressed COCO RLE."""
    return int(np.sum(np.asarray(rle["counts"], dtype=np.int64)[1::2]))


def _covered_before(starts: np.ndarray, ends: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Pixels of the runs [starts, ends) that lie before each position x."""
    lengths = ends - starts
    before = np.concatenate(([0], np.cumsum(lengths)))
    j = np.searchsorted(starts, x, side="right")  # runs starting at or before x
    last = np.maximum(j - 1, 0)
    partial = np.clip(x - starts[last], 0, lengths[last]) if len(starts) else 0
    return np.where(j > 0, before[last] + partial, 0)


def rle_iou(a: dict, b: dict) -> float:
    """Exact IoU of two masks from their runs: O(runs log runs), no decoding."""
    if list(a["size"]) != list(b["size"]):
        raise ValueError(f"masks of different sizes: {a['size']} and {b['size']}")
    starts_a, ends_a = _runs(a)
    starts_b, ends_b = _runs(b)
    if not len(starts_a) or not len(starts_b):
        return 0.0
    inter = int(
        np.sum(
            _covered_before(starts_a, ends_a, ends_b) - _covered_before(starts_a, ends_a, starts_b)
        )
    )
    union = int(np.sum(ends_a - starts_a)) + int(np.sum(ends_b - starts_b)) - inter
    return inter / union if union else 0.0


# --- points and lines ---


def point_similarity(a: dict, b: dict, scale: float = POINT_SCALE) -> float:
    """exp(-d² / 2sigma²) for two points {x, y}, sigma = `scale` pixels."""
    d = hypot(a["x"] - b["x"], a["y"] - b["y"])
    return exp(-(d * d) / (2 * scale * scale))


def keypoints_similarity(
    a: dict, b: dict, kappa: float = KEYPOINT_KAPPA, min_scale: float = POINT_SCALE
) -> float:
    """Symmetric OKS of two keypoint sets {points: [{name, x, y, visible}]}."""
    seen_a = {p["name"]: p for p in a["points"] if p.get("visible", True)}
    seen_b = {p["name"]: p for p in b["points"] if p.get("visible", True)}
    names = seen_a.keys() | seen_b.keys()
    if not names:
        return 1.0
    areas = []
    for seen in (seen_a, seen_b):
        if seen:
            xy = np.array([(p["x"], p["y"]) for p in seen.values()])
            areas.append(float(np.prod(xy.max(axis=0) - xy.min(axis=0))))
    sigma = max(kappa * sqrt(sum(areas) / len(areas)), min_scale * kappa)
    both = sorted(seen_a.keys() & seen_b.keys())
    if not both:
        return 0.0
    xy_a = np.array([(seen_a[n]["x"], seen_a[n]["y"]) for n in both])
    xy_b = np.array([(seen_b[n]["x"], seen_b[n]["y"]) for n in both])
    d2 = np.sum((xy_a - xy_b) ** 2, axis=1)
    return float(np.sum(np.exp(-d2 / (2 * sigma * sigma))) / len(names))


def _polyline(shape: dict) -> np.ndarray:
    return np.array([(v["x"], v["y"]) for v in shape["vertices"]], dtype=float)


def _resample(line: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """n points evenly spaced along the polyline by arc length, and its length."""
    steps = np.hypot(*np.diff(line, axis=0).T)
    along = np.concatenate(([0.0], np.cumsum(steps)))
    length = float(along[-1])
    if length == 0:
        return np.repeat(line[:1], n, axis=0), 0.0
    at = np.linspace(0, length, n)
    return np.column_stack((np.interp(at, along, line[:, 0]), np.interp(at, along, line[:, 1]))), (
        length
    )


def _distance_to_polyline(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance of each point to the nearest segment of the polyline."""
    start, seg = line[:-1], np.diff(line, axis=0)
    seg_len2 = np.sum(seg * seg, axis=1)
    rel = points[:, None, :] - start[None, :, :]
    t = np.clip(
        np.divide(
            np.sum(rel * seg[None], axis=2),
            seg_len2,
            out=np.zeros((len(points), len(seg))),
            where=seg_len2 > 0,
        ),
        0,
        1,
    )
    nearest = start[None] + t[..., None] * seg[None]
    return np.sqrt(np.min(np.sum((points[:, None, :] - nearest) ** 2, axis=2), axis=1))


def line_similarity(
    a: dict, b: dict, scale: float = LINE_SCALE, min_scale: float = POINT_SCALE
) -> float:
    """exp(-d² / 2sigma²): d the mean distance both ways, sigma = scale x mean length."""
    line_a, line_b = _polyline(a), _polyline(b)
    samples_a, length_a = _resample(line_a, LINE_SAMPLES)
    samples_b, length_b = _resample(line_b, LINE_SAMPLES)
    if len(line_a) < 2 or len(line_b) < 2:
        return 0.0
    d = (
        float(np.mean(_distance_to_polyline(samples_a, line_b)))
        + float(np.mean(_distance_to_polyline(samples_b, line_a)))
    ) / 2
    sigma = scale * max((length_a + length_b) / 2, min_scale)
    return exp(-(d * d) / (2 * sigma * sigma))


# --- any two annotations ---


def similarity(a: dict, b: dict, *, point_scale: float = POINT_SCALE) -> float:
    """IoU (regions, masks, cuboids) or distance similarity (points, keypoints, lines)."""
    if a.get("frame") != b.get("frame"):
        return 0.0
    kind_a, kind_b = a.get("type"), b.get("type")
    if kind_a in REGION_TYPES and kind_b in REGION_TYPES:
        if kind_a == kind_b == "box":
            return box_iou(a, b)
        return polygon_iou(region_polygon(a), region_polygon(b))
    if kind_a != kind_b:
        return 0.0
    if kind_a == "cuboid":
        return cuboid_iou(a, b)
    if kind_a == "mask":
        return rle_iou(a["rle"], b["rle"])
    if kind_a == "point":
        return point_similarity(a, b, point_scale)
    if kind_a == "keypoints":
        return keypoints_similarity(a, b, min_scale=point_scale)
    if kind_a == "line":
        return line_similarity(a, b, min_scale=point_scale)
    return 0.0


def similarity_matrix(
    a: Sequence[dict], b: Sequence[dict], *, point_scale: float = POINT_SCALE
) -> np.ndarray:
    """`similarity` of every pair → (len(a), len(b)); boxes and regions are batched."""
    out = np.zeros((len(a), len(b)))
    frames_a = np.array([x.get("frame", -1) for x in a]).reshape(-1)
    frames_b = np.array([x.get("frame", -1) for x in b]).reshape(-1)
    same_frame = frames_a[:, None] == frames_b[None, :]
    boxes_a = [i for i, x in enumerate(a) if x.get("type") == "box"]
    boxes_b = [j for j, x in enumerate(b) if x.get("type") == "box"]
    if boxes_a and boxes_b:
        ious = box_iou_matrix(
            box_array([a[i] for i in boxes_a]), box_array([b[j] for j in boxes_b])
        )
        out[np.ix_(boxes_a, boxes_b)] = ious
    # Other region pairs (polygons, ellipses, and their pairs with boxes): one batched call.
    regions_a = [i for i, x in enumerate(a) if x.get("type") in REGION_TYPES]
    regions_b = [j for j, x in enumerate(b) if x.get("type") in REGION_TYPES]
    if regions_a and regions_b and (len(boxes_a) < len(regions_a) or len(boxes_b) < len(regions_b)):
        ious = polygon_iou_matrix(
            [region_polygon(a[i]) for i in regions_a], [region_polygon(b[j]) for j in regions_b]
        )
        both_boxes = np.array([a[i]["type"] == "box" for i in regions_a])[:, None] & np.array(
            [b[j]["type"] == "box" for j in regions_b]
        )
        block = out[np.ix_(regions_a, regions_b)]
        out[np.ix_(regions_a, regions_b)] = np.where(both_boxes, block, ious)
    for i, x in enumerate(a):
        if x.get("type") in REGION_TYPES:
            continue
        for j, y in enumerate(b):
            if x.get("type") == y.get("type"):
                out[i, j] = similarity(x, y, point_scale=point_scale)
    out[~same_frame] = 0.0
    return out
