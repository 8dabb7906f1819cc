"""assay.metrics.rle against pycocotools.mask (the reference), on seeded random cases."""

from __future__ import annotations

import numpy as np
import pytest

from assay.metrics import rle, rle_iou

coco_mask = pytest.importorskip("pycocotools.mask")
coco = pytest.importorskip("pycocotools.coco")


# --- generators ---


def random_polygon(rng, h: int, w: int) -> list[float]:
    """One polygon of a random family: the shapes that stress rleFrPoly's rounding."""
    span = max(h, w)
    k = int(rng.integers(3, 15))
    kind = rng.integers(0, 10)
    if kind == 0:  # concave star
        n = int(rng.integers(5, 40))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.2, 1, n) * rng.uniform(1, span)
        cx, cy = rng.uniform(-5, span + 5, 2)
        xy = np.column_stack((cx + radii * np.cos(angles), cy + radii * np.sin(angles)))
    elif kind == 1:  # self-intersecting, reaching past the image
        xy = rng.uniform(-0.3 * span, 1.3 * span, (k, 2))
    elif kind == 2:  # tiny: within a pixel or so
        xy = rng.uniform(0, span, 2) + rng.uniform(-0.6, 0.6, (k, 2))
    elif kind == 3:  # zero area: collinear and repeated vertices
        a, b = rng.uniform(-3, span + 3, (2, 2))
        xy = a + rng.choice([0, 0.25, 0.5, 1], (k, 1)) * (b - a)
    elif kind == 4:  # tenths, negative ones too: 5x + .5 lands on integers
        xy = rng.integers(-20, 10 * span + 20, (k, 2)) / 10
    elif kind == 5:  # 5x + .5 exactly a half: the rounding's ties
        xy = (rng.integers(-25, 5 * span + 25, (k, 2)) - 0.5) / 5
    elif kind == 6:  # many vertices
        n = int(rng.integers(100, 600))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.5, 1, n) * span / 2
        xy = span / 2 + np.column_stack((radii * np.cos(angles), radii * np.sin(angles)))
    elif kind == 7:  # far outside the image
        xy = rng.uniform(-1000, 1000, (k, 2))
    elif kind == 8:  # axis-aligned rectangle on half pixels
        x0, y0 = rng.integers(-3, span, 2) / 2
        x1, y1 = np.array([x0, y0]) + rng.integers(0, span, 2) / 2
        xy = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    else:  # 1 to 4 numbers short of a triangle, odd lengths
        return rng.uniform(-2, span + 2, int(rng.integers(1, 8))).tolist()
    return xy.ravel().tolist()


def random_size(rng) -> tuple[int, int]:
    if rng.random() < 0.1:  # one or a few pixels across
        h, w = int(rng.integers(1, 4)), int(rng.integers(1, 200))
        return (w, h) if rng.random() < 0.5 else (h, w)
    return int(rng.integers(1, 120)), int(rng.integers(1, 120))


def random_object(rng, h: int, w: int) -> list[list[float]]:
    """Polygons pycocotools accepts: the first has more than 4 numbers."""
    while True:
        polygons = [random_polygon(rng, h, w) for _ in range(int(rng.integers(1, 5)))]
        if len(polygons[0]) > 4:
            return polygons


def random_pixels(rng, h: int, w: int) -> np.ndarray:
    kind = rng.integers(0, 5)
    if kind == 0:
        return np.zeros((h, w), bool)
    if kind == 1:
        return np.ones((h, w), bool)
    if kind == 2:  # noise
        return rng.random((h, w)) < rng.uniform(0.05, 0.95)
    ys, xs = np.mgrid[:h, :w]  # one or two blobs
    out = np.zeros((h, w), bool)
    for _ in range(int(kind) - 2):
        cy, cx, r = rng.uniform(-2, h + 2), rng.uniform(-2, w + 2), rng.uniform(0.5, max(h, w))
        out |= (ys - cy) ** 2 + (xs - cx) ** 2 < r * r
    return out


def canonical_counts(pixels: np.ndarray) -> np.ndarray:
    """pycocotools' own encoding of a mask, as counts."""
    encoded = coco_mask.encode(np.asfortranarray(pixels.astype(np.uint8)))
    return rle.decode_counts(encoded["counts"])


def loose_counts(rng, total: int) -> np.ndarray:
    """Valid counts with runs of length 0 anywhere (leading, inside, trailing)."""
    m = int(rng.integers(1, min(12, max(2, total // 2))))
    cuts = np.sort(rng.integers(0, total + 1, m - 1))
    counts = np.diff(np.concatenate(([0], cuts, [total])))
    if rng.random() < 0.3:
        counts = np.concatenate((counts, [0] * int(rng.integers(1, 3))))
    return counts


def coco_rle(counts, h: int, w: int) -> dict:
    return {"size": [h, w], "counts": rle.encode_counts(counts).encode()}


def merge_fits(a, b, h: int, w: int) -> bool:
    """Whether pycocotools' merge of a and b stays within its buffer of h*w + 1 counts.

    Runs of length 0 can make it write more counts than that (corrupting the heap); its
    output has at most one count more than its loop's steps.
    """
    return len(a) + len(b) <= h * w + 1


# --- compressed strings ---


def test_encode_decode_match_pycocotools():
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(3000):
        h, w = random_size(rng)
        counts = loose_counts(rng, h * w)
        # pycocotools writes up to 6 characters a count into its buffer: past that it
        # overflows, so values that need 7 (2**29 and up) only come with small ones.
        if rng.random() < 0.2:
            big = int(rng.integers(1 << 26, 1 << 32))
            counts = np.concatenate((counts, [big, 3, 1, 2]))
        reference = coco_mask.frPyObjects({"size": [h, w], "counts": counts.tolist()}, h, w)
        string = rle.encode_counts(counts)
        assert string == reference["counts"].decode()
        decoded = rle.decode_counts(reference["counts"])
        # pycocotools decodes what it encodes unless a count falls by more than 2**29 from
        # the one two before it: its decoder then garbles the count, and so does ours.
        assert rle.encode_counts(decoded) == coco_mask.merge([reference])["counts"].decode()
        deltas = counts[3:].astype(np.int64) - counts[1:-2]
        if np.all(deltas >= -(1 << 29)):
            assert np.array_equal(decoded, counts)
            checked += 1
    assert checked > 2000


def test_decode_matches_pycocotools_on_any_string():
    # Random well-formed strings, numbers of 1 to 8 characters: pycocotools decodes and
    # re-encodes them (merge of one mask); 7- and 8-character numbers take its 32-bit
    # shift path, whose x86-64 behaviour decode_counts reproduces.
    rng = np.random.default_rng(2)
    checked = 0
    for _ in range(5000):
        numbers = []
        for _ in range(int(rng.integers(1, 30))):
            length = int(rng.choice(8, p=[0.4, 0.2, 0.1, 0.1, 0.1, 0.06, 0.02, 0.02])) + 1
            digits = rng.integers(0, 32, length)
            digits[:-1] |= 0x20
            numbers.append(bytes((digits + 48).tolist()))
        string = b"".join(numbers)
        counts = rle.decode_counts(string)
        ours = rle.encode_counts(counts)
        if len(ours) >= 6 * len(counts):  # would overflow pycocotools' buffer
            continue
        assert ours == coco_mask.merge([{"size": [7, 9], "counts": string}])["counts"].decode()
        assert rle.area(counts) == coco_mask.area({"size": [7, 9], "counts": string})
        checked += 1
    assert checked > 4000


def test_decode_rejects_what_pycocotools_would_overread():
    with pytest.raises(ValueError):
        rle.decode_counts("1k")  # ends inside a number
    with pytest.raises(ValueError):
        rle.decode_counts("1 2")
    assert len(rle.decode_counts("")) == 0


# --- polygons ---


def test_from_polygons_matches_pycocotools():
    rng = np.random.default_rng(3)
    objects, sizes = [], []
    for _ in range(6000):
        h, w = random_size(rng)
        objects.append(random_object(rng, h, w))
        sizes.append((h, w))
    heights, widths = zip(*sizes, strict=True)
    batched = rle.from_polygons_many(objects, heights, widths)
    for i, (polygons, (h, w)) in enumerate(zip(objects, sizes, strict=True)):
        reference = coco_mask.merge(coco_mask.frPyObjects(polygons, h, w))
        assert rle.encode_counts(batched[i]) == reference["counts"].decode(), (h, w, polygons)
        if i % 10 == 0:  # the one-object call is the same code; spot-check it
            assert np.array_equal(rle.from_polygons(polygons, h, w), batched[i])


def test_each_polygon_matches_pycocotools():
    # Polygons one by one (no union): rleFrPoly's own output, leading 0 counts included.
    rng = np.random.default_rng(4)
    for _ in range(3000):
        h, w = random_size(rng)
        polygon = random_polygon(rng, h, w)
        if len(polygon) <= 4:  # pycocotools takes 4 numbers for a box, fewer for nothing
            polygon = polygon + rng.uniform(-2, max(h, w) + 2, 5 - len(polygon)).tolist()
        reference = coco_mask.frPyObjects([polygon], h, w)[0]
        assert rle.encode_counts(rle.from_polygons([polygon], h, w)) == reference["counts"].decode()


def test_polygon_edge_cases():
    # A polygon on pixel 0 starts with a 0 count; one vertex is empty; an empty list is
    # empty (pycocotools fails on it); coordinates past int range refuse.
    full = rle.from_polygons([[-1, -1, 5, -1, 5, 5, -1, 5]], 4, 4)
    assert full.tolist() == [0, 16]
    assert rle.from_polygons([[2, 2]], 4, 4).tolist() == [16]
    assert rle.from_polygons([], 4, 4).tolist() == [16]
    assert rle.from_polygons_many([], 4, 4) == []
    with pytest.raises(ValueError):
        rle.from_polygons([[0, 0, 1e9, 0, 0, 1]], 4, 4)
    with pytest.raises(ValueError):
        rle.from_polygons([[0, 0, float("nan"), 0, 0, 1]], 4, 4)
    with pytest.raises(ValueError):  # pixel indices past a C int
        rle.from_polygons([[0, 0, 9, 0, 0, 9]], 1 << 16, 1 << 15)


def test_from_bboxes_matches_pycocotools():
    rng = np.random.default_rng(5)
    for _ in range(300):
        h, w = random_size(rng)
        boxes = np.column_stack(
            (rng.uniform(-5, w + 5, 8), rng.uniform(-5, h + 5, 8), rng.uniform(-2, w, (8, 2)))
        )
        boxes[::3] = np.round(boxes[::3] * 2) / 2
        reference = coco_mask.frPyObjects(boxes, h, w)
        ours = rle.from_bboxes(boxes, h, w)
        assert [rle.encode_counts(c) for c in ours] == [r["counts"].decode() for r in reference]


# --- segmentations ---


def test_from_segmentation_matches_ann_to_rle():
    rng = np.random.default_rng(6)
    images, annotations = [], []
    for i in range(400):
        h, w = random_size(rng)
        images.append({"id": i, "height": h, "width": w})
        kind = i % 3
        if kind == 0:
            segmentation = random_object(rng, h, w)
        elif kind == 1:
            counts = loose_counts(rng, h * w)
            segmentation = {"size": [h, w], "counts": counts.tolist()}
        else:
            segmentation = coco_rle(canonical_counts(random_pixels(rng, h, w)), h, w)
            if rng.random() < 0.5:
                segmentation["counts"] = segmentation["counts"].decode()
        annotations.append(
            {"id": i + 1, "image_id": i, "category_id": 1, "segmentation": segmentation}
        )
    dataset = coco.COCO()
    dataset.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1}]}
    dataset.createIndex()
    batched = rle.from_segmentation_many(
        [a["segmentation"] for a in annotations],
        [i["height"] for i in images],
        [i["width"] for i in images],
    )
    for image, annotation, many in zip(images, annotations, batched, strict=True):
        reference = dataset.annToRLE(annotation)
        h, w = image["height"], image["width"]
        counts, size_h, size_w = rle.from_segmentation(annotation["segmentation"], h, w)
        assert [size_h, size_w] == list(reference["size"])
        assert rle.encode_counts(counts) == coco_mask.merge([reference])["counts"].decode()
        assert np.array_equal(many[0], counts) and many[1:] == (size_h, size_w)


def test_from_segmentation_refuses_what_pycocotools_refuses():
    for polygons in ([], [[1, 1, 5, 5], [0, 0, 9, 0, 9, 9]], [[1, 1]]):
        with pytest.raises(Exception):  # noqa: B017 (pycocotools raises several kinds)
            coco_mask.merge(coco_mask.frPyObjects(polygons, 10, 10))
        with pytest.raises(ValueError):
            rle.from_segmentation(polygons, 10, 10)
    with pytest.raises(ValueError):
        rle.from_uncompressed({"size": [2, 2], "counts": [-1, 5]})


# --- measures ---


def random_masks(rng, count: int, h: int, w: int) -> list[np.ndarray]:
    """Canonical masks mostly, some with runs of length 0."""
    return [
        loose_counts(rng, h * w)
        if rng.random() < 0.2
        else canonical_counts(random_pixels(rng, h, w))
        for _ in range(count)
    ]


def test_area_and_to_bbox_match_pycocotools():
    rng = np.random.default_rng(7)
    for _ in range(3000):
        h, w = random_size(rng)
        (counts,) = random_masks(rng, 1, h, w)
        reference = coco_rle(counts, h, w)
        assert rle.area(counts) == coco_mask.area(reference)
        box = rle.to_bbox(counts, h, w)
        assert box.dtype == np.float64
        assert np.array_equal(box, coco_mask.toBbox(reference))


def test_to_bbox_keeps_pycocotools_unsigned_wrap():
    # Only empty runs of 1s: pycocotools' unsigned subtraction wraps.
    assert rle.to_bbox([5, 0, 15], 4, 5).tolist() == [5, 4, 2**32 - 4, 2**32 - 3]
    assert rle.to_bbox([20], 4, 5).tolist() == [0, 0, 0, 0]


def test_merge_matches_pycocotools():
    rng = np.random.default_rng(8)
    for i in range(3000):
        h, w = random_size(rng)
        masks = random_masks(rng, int(rng.integers(1, 6)), h, w)
        intersect = bool(i % 2)
        # pycocotools merges one mask at a time; check every prefix, so that where it would
        # loop forever (and rle.merge refuses) the merge so far shows why.
        reference = coco_rle(masks[0], h, w)
        assert rle.encode_counts(rle.merge(masks[:1])) == reference["counts"].decode()
        for j in range(1, len(masks)):
            try:
                ours = rle.merge(masks[: j + 1], intersect=intersect)
            except ValueError:
                # Its loop stopped early on the masks so far: the next one never ends.
                assert rle.decode_counts(reference["counts"]).sum() < h * w
                break
            so_far = rle.decode_counts(reference["counts"])
            if not merge_fits(so_far, masks[j], h, w):
                break
            reference = coco_mask.merge([reference, coco_rle(masks[j], h, w)], intersect)
            assert rle.encode_counts(ours) == reference["counts"].decode(), (masks, intersect)


def shared_zero_runs(rng, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Two masks that both have a run of length 0 at one place."""
    at = int(rng.integers(1, total))

    def around(at: int) -> np.ndarray:
        head = loose_counts(rng, at)
        tail = loose_counts(rng, total - at)
        zeros = [0] if len(head) % 2 else [0, 0]  # a run of 0s or of 1s of length 0
        return np.concatenate((head, zeros, tail))

    return around(at), around(at)


def test_zero_length_runs_stop_pycocotools_early():
    # pycocotools' merge and iou loops stop where both masks have a run of length 0 at
    # one place: they measure the masks only up to there. Ours do the same.
    rng = np.random.default_rng(10)
    short = 0
    for i in range(1500):
        h, w = random_size(rng)
        if h * w < 2:
            continue
        a, b = shared_zero_runs(rng, h * w)
        if not merge_fits(a, b, h, w):
            continue
        intersect = bool(i % 2)
        reference = coco_mask.merge([coco_rle(a, h, w), coco_rle(b, h, w)], intersect)
        ours = rle.merge([a, b], intersect=intersect)
        assert rle.encode_counts(ours) == reference["counts"].decode()
        short += int(ours.sum() < h * w)
        crowd = [bool(i % 3 == 0)]
        expected = coco_mask.iou([coco_rle(a, h, w)], [coco_rle(b, h, w)], crowd)
        assert np.array_equal(rle.iou_matrix([a], [b], crowd), expected)
    assert short > 500


def test_merge_refuses_mixed_sizes_nothing_and_endless_loops():
    with pytest.raises(ValueError):
        rle.merge([[2, 2], [3, 3]])
    with pytest.raises(ValueError):
        rle.merge([])
    # The first two stop after 0 pixels (both start with two runs of length 0); pycocotools
    # then steps by 0 forever merging the third.
    first, second, third = [0, 0, 1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 0, 1, 0, 1, 0, 0], [0, 3]
    assert rle.merge([first, second], intersect=True).tolist() == [0]
    with pytest.raises(ValueError):
        rle.merge([first, second, third], intersect=True)


def test_iou_matrix_matches_pycocotools():
    rng = np.random.default_rng(9)
    nonzero = 0
    for _ in range(1500):
        h, w = random_size(rng)
        dt = random_masks(rng, int(rng.integers(0, 7)), h, w)
        gt = random_masks(rng, int(rng.integers(0, 7)), h, w)
        if rng.random() < 0.3 and dt and gt:  # identical masks
            dt[0] = gt[-1].copy()
        crowd = rng.random(len(gt)) < 0.3
        ours = rle.iou_matrix(dt, gt, crowd)
        assert ours.shape == (len(dt), len(gt))
        reference = coco_mask.iou(
            [coco_rle(c, h, w) for c in dt], [coco_rle(c, h, w) for c in gt], crowd.tolist()
        )
        if not dt or not gt:
            assert reference == []
            continue
        assert np.array_equal(ours, reference)  # exactly: the same integer ratio
        nonzero += int(np.count_nonzero(ours))
    assert nonzero > 1000


def test_iou_matrix_edge_cases():
    empty, full = [16], [0, 16]
    # Two empty masks score 0 (pycocotools: i == 0 gives 0, not 0/0).
    assert rle.iou_matrix([empty], [empty], [0]).tolist() == [[0.0]]
    assert rle.iou_matrix([full], [full], [1]).tolist() == [[1.0]]
    half = [0, 8, 8]
    assert rle.iou_matrix([full], [half], [1]).tolist() == [[0.5]]  # over the dt's area
    assert rle.iou_matrix([half], [full], [1]).tolist() == [[1.0]]
    with pytest.raises(ValueError):  # pycocotools scores -1 where their boxes overlap
        rle.iou_matrix([[16]], [[20]], [0])
    with pytest.raises(ValueError):
        rle.iou_matrix([full], [full], [0, 1])


def test_batched_calls_equal_single_calls(monkeypatch):
    # Small chunks, so that the batched paths cut their input in many places.
    monkeypatch.setattr(rle, "_DECODE_CHUNK", 64)
    monkeypatch.setattr(rle_iou, "_IOU_CHUNK", 200)
    monkeypatch.setattr(rle, "_POLYGON_CHUNK", 3)
    rng = np.random.default_rng(11)
    groups, strings = [], []
    for _ in range(300):
        h, w = random_size(rng)
        dt = random_masks(rng, int(rng.integers(0, 5)), h, w)
        gt = random_masks(rng, int(rng.integers(0, 5)), h, w)
        groups.append((dt, gt, rng.random(len(gt)) < 0.3))
        strings += [rle.encode_counts(c) for c in dt + gt] + [""]
    batched = rle.iou_matrix_many(groups)
    assert len(batched) == len(groups)
    for matrix, (dt, gt, crowd) in zip(batched, groups, strict=True):
        assert np.array_equal(matrix, rle.iou_matrix(dt, gt, crowd))
    decoded = rle.decode_counts_many(strings)
    assert [rle.encode_counts(c) for c in decoded] == strings
    objects = [random_object(rng, 30, 40) for _ in range(50)]
    batched = rle.from_polygons_many(objects, 30, 40)
    for counts, polygons in zip(batched, objects, strict=True):
        assert np.array_equal(counts, rle.from_polygons(polygons, 30, 40))
        assert counts.sum() == 30 * 40
    assert rle.iou_matrix_many([]) == []
    assert rle.decode_counts_many([]) == []
