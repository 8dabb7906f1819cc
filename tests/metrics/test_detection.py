"""COCO detection evaluation: the same numbers as pycocotools' COCOeval (its reference)."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest

from assay.metrics.coco_json import objects_from_coco
from assay.metrics.detection import Params, evaluate

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


def coco_boxes(
    seed: int,
    *,
    images: int = 60,
    categories: int = 5,
    crowd: float = 0.05,
    empty_images: int = 5,
    tie_scores: bool = False,
) -> tuple[dict, list[dict]]:
    """A dataset and results shaped like a detector's: jittered true boxes, duplicates,
    misses, false alarms; some images without objects and some without detections."""
    rng = np.random.default_rng(seed)
    imgs = [{"id": i + 1, "width": 640, "height": 480} for i in range(images)]
    cats = [{"id": c * 3 + 1, "name": f"c{c}"} for c in range(categories)]
    anns, results = [], []
    for img in imgs[: images - empty_images]:
        for _ in range(rng.integers(0, 12)):
            # Sizes spanning small, medium and large.
            w, h = np.exp(rng.uniform(np.log(4), np.log(300), 2))
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            cat = cats[rng.integers(categories)]["id"]
            is_crowd = rng.random() < crowd
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img["id"],
                    "category_id": cat,
                    "bbox": [x, y, w, h],
                    "area": w * h * rng.uniform(0.6, 1.0),
                    "iscrowd": int(is_crowd),
                }
            )
            if rng.random() < 0.15:
                continue  # missed
            for _ in range(1 + (rng.random() < 0.2)):  # sometimes a duplicate
                jitter = rng.normal(0, 0.12, 4) * [w, h, w, h]
                results.append(
                    {
                        "image_id": img["id"],
                        "category_id": cat if rng.random() > 0.1 else cats[0]["id"],
                        "bbox": [
                            x + jitter[0],
                            y + jitter[1],
                            abs(w + jitter[2]) + 1,
                            abs(h + jitter[3]) + 1,
                        ],
                        "score": float(rng.random()),
                    }
                )
        for _ in range(rng.integers(0, 4)):  # false alarms
            w, h = rng.uniform(5, 200, 2)
            results.append(
                {
                    "image_id": img["id"],
                    "category_id": cats[rng.integers(categories)]["id"],
                    "bbox": [rng.uniform(0, 400), rng.uniform(0, 300), w, h],
                    "score": float(rng.random()),
                }
            )
    if tie_scores:
        for r in results:
            r["score"] = round(r["score"], 1)
    # An image with objects but no detections at all.
    if len(imgs) > empty_images:
        results = [r for r in results if r["image_id"] != imgs[0]["id"]]
    return {"images": imgs, "categories": cats, "annotations": anns}, results


def reference(dataset: dict, results: list[dict], iou_type: str, **params) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = copy.deepcopy(dataset)
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(gt, dt, iou_type)
        for name, value in params.items():
            setattr(ev.params, name, value)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def ours(dataset: dict, results: list[dict], iou_type: str, **params):
    gt, dt = objects_from_coco(dataset, results, iou_type)
    p = Params.coco(iou_type)
    names = {
        "iouThrs": "iou_thresholds",
        "maxDets": "max_detections",
        "areaRng": "area_ranges",
        "areaRngLbl": "area_labels",
        "useCats": "use_categories",
        "recThrs": "recall_thresholds",
    }
    if params:
        kwargs = {names[k]: v for k, v in params.items()}
        if "area_ranges" in kwargs:
            kwargs["area_ranges"] = tuple(tuple(r) for r in kwargs["area_ranges"])
        if "max_detections" in kwargs:
            kwargs["max_detections"] = tuple(kwargs["max_detections"])
        p = Params(**{**p.__dict__, **kwargs})
    return evaluate(
        gt,
        dt,
        p,
        image_ids=[i["id"] for i in dataset["images"]],
        category_ids=[c["id"] for c in dataset["categories"]],
    )


def assert_same(ev: COCOeval, got) -> None:
    np.testing.assert_allclose(got.stats, ev.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.precision, ev.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.recall, ev.eval["recall"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.scores, ev.eval["scores"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_box_evaluation_is_pycocotools_to_the_last_digit(seed: int) -> None:
    dataset, results = coco_boxes(seed)
    ev = reference(dataset, results, "bbox")
    got = ours(dataset, results, "bbox")
    assert_same(ev, got)
    assert 0 < got.stats[0] < 1


def test_tied_scores_are_broken_in_pycocotools_order() -> None:
    dataset, results = coco_boxes(11, tie_scores=True, images=80)
    assert len({r["score"] for r in results}) <= 11
    assert_same(reference(dataset, results, "bbox"), ours(dataset, results, "bbox"))


def test_crowd_regions_absorb_detections_without_counting_them() -> None:
    dataset, results = coco_boxes(3, crowd=0.4)
    assert sum(a["iscrowd"] for a in dataset["annotations"]) > 20
    ev = reference(dataset, results, "bbox")
    got = ours(dataset, results, "bbox")
    assert_same(ev, got)
    # A detection matched to a crowd region is ignored, not a false positive.
    hits = got.detections(got.world(0.5))
    assert (hits.ignored & (hits.match >= 0)).any()


@pytest.mark.parametrize("max_dets", [[1, 5, 100], [10, 1, 100]])
def test_custom_thresholds_area_ranges_and_max_detections(max_dets: list[int]) -> None:
    """Also max detections out of order: recall of the settings whose curves are not
    accumulated up front is counted per rank bucket."""
    dataset, results = coco_boxes(5, images=40)
    params = {
        "iouThrs": np.array([0.3, 0.5, 0.75, 1.0]),
        "maxDets": max_dets,
        "areaRng": [[0, 1e10], [0, 50**2], [50**2, 1e10]],
        "areaRngLbl": ["all", "small", "medium"],
    }
    ev = reference(dataset, results, "bbox", **params)
    got = ours(dataset, results, "bbox", **params)
    np.testing.assert_allclose(got.recall, ev.eval["recall"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.stats, ev.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.precision, ev.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.scores, ev.eval["scores"], rtol=0, atol=1e-12)


def test_without_categories_every_detection_competes_for_every_object() -> None:
    dataset, results = coco_boxes(8, images=30)
    ev = reference(dataset, results, "bbox", useCats=0)
    got = ours(dataset, results, "bbox", useCats=False)
    assert_same(ev, got)


def test_a_category_without_detections_and_one_without_objects() -> None:
    dataset, results = coco_boxes(9, images=30, categories=4)
    results = [r for r in results if r["category_id"] != 4]  # the second category: no detections
    dataset["annotations"] = [a for a in dataset["annotations"] if a["category_id"] != 7]
    ev = reference(dataset, results, "bbox")
    got = ours(dataset, results, "bbox")
    assert_same(ev, got)
    per_class = got.per_class_ap()
    k_missing = list(got.category_ids).index(4)
    assert per_class[k_missing] == 0.0  # objects, nothing found


def test_per_class_ap_is_the_mean_over_thresholds_and_recalls() -> None:
    dataset, results = coco_boxes(2)
    ev = reference(dataset, results, "bbox")
    got = ours(dataset, results, "bbox")
    for k, _cat in enumerate(got.category_ids):
        s = ev.eval["precision"][:, :, k, 0, -1]
        assert got.per_class_ap()[k] == pytest.approx(np.mean(s[s > -1]), abs=1e-12)


def test_matches_add_up_to_the_evaluation_at_each_threshold() -> None:
    dataset, results = coco_boxes(4)
    ev = reference(dataset, results, "bbox")
    got = ours(dataset, results, "bbox")
    for t, thr in enumerate(got.params.iou_thresholds):
        w = got.world(thr)
        dets, objs = got.detections(w), got.objects(w)
        for e in ev.evalImgs:
            if e is None or e["aRng"] != [0, 1e10]:
                continue
            # pycocotools' dt ids are 1 + the row of the result.
            rows = np.asarray(e["dtIds"], int) - 1
            theirs = e["dtMatches"][t] > 0
            assert np.array_equal(dets.match[rows] >= 0, theirs)
            assert np.array_equal(dets.ignored[rows], e["dtIgnore"][t].astype(bool))
            gt_rows = np.asarray(e["gtIds"], int) - 1
            assert np.array_equal(objs.match[gt_rows] >= 0, e["gtMatches"][t] > 0)
        assert t >= 0


def test_no_detections_at_all_and_no_objects_at_all() -> None:
    dataset, results = coco_boxes(1, images=10)
    # pycocotools' loadRes needs at least one result; an empty result set is ours alone.
    gt, dt = objects_from_coco(dataset, results[:0], "bbox")
    empty = evaluate(gt, dt)
    assert np.all(empty.recall[empty.recall > -1] == 0)
    assert empty.stats[0] == 0.0
    dataset_empty = {**dataset, "annotations": []}
    none = ours(dataset_empty, results, "bbox")
    assert np.all(none.stats == -1)


def coco_keypoints(seed: int, images: int = 40) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    imgs = [{"id": i + 1, "width": 640, "height": 480} for i in range(images)]
    anns, results = [], []
    for img in imgs:
        for _ in range(rng.integers(0, 5)):
            w, h = rng.uniform(10, 250, 2)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            kx, ky = x + rng.uniform(0, w, 17), y + rng.uniform(0, h, 17)
            v = rng.choice([0, 1, 2], 17, p=[0.3, 0.2, 0.5])
            if rng.random() < 0.1:
                v[:] = 0  # nothing labelled: ignored
            kps = np.stack([kx * (v > 0), ky * (v > 0), v], axis=1).ravel().tolist()
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img["id"],
                    "category_id": 1,
                    "bbox": [x, y, w, h],
                    "area": w * h * 0.6,
                    "iscrowd": int(rng.random() < 0.03),
                    "keypoints": kps,
                    "num_keypoints": int((v > 0).sum()),
                }
            )
            for _ in range(1 + (rng.random() < 0.3)):
                if rng.random() < 0.15:
                    continue
                jitter = rng.normal(0, rng.uniform(1, 15), (17, 2))
                pred = np.stack([kx + jitter[:, 0], ky + jitter[:, 1], np.ones(17)], axis=1)
                results.append(
                    {
                        "image_id": img["id"],
                        "category_id": 1,
                        "keypoints": pred.ravel().tolist(),
                        "score": float(rng.random()),
                    }
                )
        for _ in range(rng.integers(0, 2)):
            pts = np.stack([rng.uniform(0, 640, 17), rng.uniform(0, 480, 17), np.ones(17)], 1)
            results.append(
                {
                    "image_id": img["id"],
                    "category_id": 1,
                    "keypoints": pts.ravel().tolist(),
                    "score": float(rng.random()),
                }
            )
    return {
        "images": imgs,
        "categories": [{"id": 1, "name": "person"}],
        "annotations": anns,
    }, results


@pytest.mark.parametrize("seed", range(3))
def test_keypoint_evaluation_is_pycocotools_oks(seed: int) -> None:
    dataset, results = coco_keypoints(seed)
    ev = reference(dataset, results, "keypoints")
    got = ours(dataset, results, "keypoints")
    assert_same(ev, got)
    assert got.summary()["AP"] > 0


def test_a_slice_is_reevaluated_from_the_stored_matches() -> None:
    dataset, results = coco_boxes(7, images=80)
    got = ours(dataset, results, "bbox")
    subset = [i["id"] for i in dataset["images"][::7]] + [dataset["images"][-1]["id"]]
    ev = reference(dataset, results, "bbox", imgIds=subset)
    part = got.restricted_to(subset)
    assert_same(ev, part)
    assert part.stats[0] != got.stats[0]


@pytest.mark.parametrize(
    "rec_thrs", [np.linspace(0.0, 1.0, 101), np.array([0.05, 0.3, 0.31, 0.5, 0.9]), np.array([0.0])]
)
def test_a_slice_s_summary_from_sums_is_cocoeval_s_with_custom_settings(rec_thrs) -> None:
    """A slice's summary comes from per-row sums over the true positives, not the curves:
    recall thresholds without 0 or 1 (a true positive no threshold reads), few of them (several
    thresholds reading one), max detections out of order, a crowd or two."""
    dataset, results = coco_boxes(11, images=60)
    params = {
        "iouThrs": np.array([0.4, 0.5, 0.75]),
        "maxDets": [10, 2, 100],
        "areaRng": [[0, 1e10], [0, 40**2], [40**2, 1e10]],
        "areaRngLbl": ["all", "small", "medium"],
        "recThrs": rec_thrs,
    }
    subset = [i["id"] for i in dataset["images"][1::3]]
    ev = reference(dataset, results, "bbox", imgIds=subset, **params)
    part = ours(dataset, results, "bbox", **params).restricted_to(subset)
    np.testing.assert_allclose(part.stats, ev.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(part.recall, ev.eval["recall"], rtol=0, atol=1e-12)
    assert (part.stats[:6] > 0).any()
    # The curves, accumulated when first read, are COCOeval's too.
    np.testing.assert_allclose(part.curves()[0], ev.eval["precision"][..., -1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(part.precision, ev.eval["precision"], rtol=0, atol=1e-12)


def test_worlds_accumulated_in_chunks_give_the_same_numbers(monkeypatch) -> None:
    import assay.metrics.detection_accumulate as detection_accumulate

    dataset, results = coco_boxes(12, images=50)
    ev = reference(dataset, results, "bbox")
    monkeypatch.setattr(detection_accumulate, "CHUNK_EVENTS", 64)  # a few worlds per chunk
    got = ours(dataset, results, "bbox")
    assert_same(ev, got)
    part = got.restricted_to([i["id"] for i in dataset["images"][::2]])
    assert_same(
        reference(dataset, results, "bbox", imgIds=[i["id"] for i in dataset["images"][::2]]), part
    )


def coco_masks(seed: int, images: int = 25) -> tuple[dict, list[dict]]:
    """Polygons and crowd RLEs as ground truth, compressed RLEs as results (COCO's forms)."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    h, w = 90, 120
    imgs = [{"id": i + 1, "width": w, "height": h} for i in range(images)]
    cats = [{"id": c + 1, "name": f"c{c}"} for c in range(3)]
    anns, results = [], []

    def polygon(cx: float, cy: float, r: float) -> list[float]:
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 9)))
        radii = r * rng.uniform(0.6, 1.0, len(angles))
        return (
            np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).ravel().tolist()
        )

    for img in imgs[:-2]:
        for _ in range(rng.integers(0, 5)):
            cx, cy, r = rng.uniform(10, w - 10), rng.uniform(10, h - 10), rng.uniform(3, 30)
            cat = int(rng.integers(1, 4))
            crowd = rng.random() < 0.1
            poly = polygon(cx, cy, r)
            if crowd:
                from assay.metrics import rle

                counts = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
                # Crowd regions come as uncompressed RLE in COCO's files.
                runs = rle.decode_counts(counts["counts"]).tolist()
                segmentation = {"size": [h, w], "counts": runs}
                area = float(mask_utils.area(counts))
            else:
                segmentation = [poly]
                area = float(
                    mask_utils.area(mask_utils.merge(mask_utils.frPyObjects([poly], h, w)))
                )
            anns.append(
                {"id": len(anns) + 1, "image_id": img["id"], "category_id": cat,
                 "segmentation": segmentation, "area": area, "iscrowd": int(crowd),
                 "bbox": [cx - r, cy - r, 2 * r, 2 * r]}
            )  # fmt: skip
            if rng.random() < 0.8:
                guess = polygon(
                    cx + rng.normal(0, 2), cy + rng.normal(0, 2), r * rng.uniform(0.8, 1.2)
                )
                rle = mask_utils.merge(mask_utils.frPyObjects([guess], h, w))
                rle["counts"] = rle["counts"].decode()
                results.append(
                    {"image_id": img["id"], "category_id": cat, "segmentation": rle,
                     "score": float(rng.random())}
                )  # fmt: skip
        for _ in range(rng.integers(0, 2)):
            rle = mask_utils.merge(
                mask_utils.frPyObjects([polygon(rng.uniform(0, w), rng.uniform(0, h), 12)], h, w)
            )
            rle["counts"] = rle["counts"].decode()
            results.append(
                {"image_id": img["id"], "category_id": int(rng.integers(1, 4)),
                 "segmentation": rle, "score": float(rng.random())}
            )  # fmt: skip
    return {"images": imgs, "categories": cats, "annotations": anns}, results


@pytest.mark.parametrize("seed", range(2))
def test_mask_evaluation_is_pycocotools_for_polygons_rles_and_crowds(seed: int) -> None:
    dataset, results = coco_masks(seed)
    assert any(a["iscrowd"] for a in dataset["annotations"])
    ev = reference(dataset, results, "segm")
    got = ours(dataset, results, "segm")
    assert_same(ev, got)
    assert got.stats[0] > 0


@pytest.mark.parametrize("use_categories", [True, False])
def test_states_of_disjoint_images_merge_into_the_whole_evaluation(use_categories: bool) -> None:
    """What incremental re-evaluation rests on: images evaluated apart, their states merged
    (and categories renamed), give COCOeval's numbers of all of them together."""
    import dataclasses

    from assay.metrics.detection import MatchState

    dataset, results = coco_boxes(9, images=60)
    gt, dt = objects_from_coco(dataset, results, "bbox")
    p = dataclasses.replace(Params.coco("bbox"), use_categories=use_categories)
    cats = np.unique(gt.category)
    ids = np.array([i["id"] for i in dataset["images"]])
    states = [
        evaluate(gt, dt, p, image_ids=part, category_ids=cats).state
        for part in (ids[::3], np.setdiff1d(ids, ids[::3]))
    ]
    merged = MatchState.merged(states).restricted_to(ids)
    ev = reference(dataset, results, "bbox", useCats=int(use_categories))
    assert_same(ev, merged)
    if use_categories:
        # Category c renamed k - 1 - c (a label set that changed): per class, the same APs.
        k = len(cats)
        renamed = [s.recategorised(np.arange(k)[::-1], cats) for s in states]
        again = MatchState.merged(renamed).restricted_to(ids)
        # (Means over the categories in another order: equal to the last bit or two.)
        np.testing.assert_allclose(again.stats, merged.stats, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(again.per_class_ap()[::-1], merged.per_class_ap())
