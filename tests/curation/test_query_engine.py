"""The Polars engine against a plain-Python evaluation of the same queries over the same rows:
masks in both views, pages and cursors, facets, and the errors that need the schema."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import polars as pl
import pytest

from assay.core.errors import InvalidQuery
from assay.curation.query import evaluate, parse, run_query, to_json
from assay.curation.query.ast import to_text
from assay.curation.query.frames import HISTOGRAM_BINS, QueryFrames
from assay.curation.query.result import QueryResult
from tests.curation.query_reference import Reference, frames_of, generate, random_query

N_ITEMS = 2000


@pytest.fixture(scope="module")
def data() -> tuple:
    items, objects = generate(N_ITEMS, seed=16)
    return items, objects, frames_of(items, objects), Reference(items, objects)


@pytest.mark.parametrize("seed", range(6))
def test_random_queries_match_the_plain_evaluation_in_both_views(data: tuple, seed: int) -> None:
    _items, _objects, frames, ref = data
    rng = random.Random(seed)
    for _ in range(25):
        node = random_query(rng)
        text = to_text(node)
        assert parse(text) == node, text
        got_items = evaluate(node, frames, "items").to_list()
        assert got_items == ref.items_matching(node), text
        got_objects = evaluate(node, frames, "objects").to_list()
        assert got_objects == ref.objects_matching(node), text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # one object: a car whose area is over 1000 …
        ('annotation.label = "car" AND annotation.area > 1000', "same object"),
        # … NOT stands alone: items with no ground-truth car at all
        ('NOT annotation.label = "car"', "no car"),
    ],
)
def test_grouping_rules_read_as_documented(data: tuple, query: str, expected: str) -> None:
    items, objects, frames, _ref = data
    got = evaluate(parse(query), frames).to_list()
    by_item: dict[int, list[dict]] = {}
    for o in objects:
        by_item.setdefault(o["item_row"], []).append(o)
    for item in items:
        objs = by_item.get(item["row"], [])
        cars = [o for o in objs if o["source"] == "gt" and o["label"] == "car"]
        if expected == "same object":
            want = any(o["area"] is not None and o["area"] > 1000 for o in cars)
        else:
            want = not cars
        assert got[item["row"]] == want


def test_pages_in_row_order_follow_the_cursor_to_the_end(data: tuple) -> None:
    items, _objects, frames, ref = data
    node = parse('metadata.weather = "rain" OR annotations.car > 1')
    result = run_query(frames, node)
    expected = [i for i, hit in enumerate(ref.items_matching(node)) if hit]
    seen, cursor = [], None
    while True:
        page = result.page(limit=37, cursor=cursor)
        seen.extend(page.rows["row"].to_list())
        assert page.rows["reference_id"].to_list() == [
            items[r]["reference_id"] for r in page.positions
        ]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected and result.count == len(expected)


@pytest.mark.parametrize(
    ("order_by", "key"),
    [
        ("metadata.speed", lambda it: it["metadata.speed"]),
        ("-metadata.speed", lambda it: it["metadata.speed"]),
        ("metadata.weather", lambda it: it["metadata.weather"]),
        ("-autotag.crosswalk", lambda it: it["autotag.crosswalk"]),
    ],
)
def test_sorted_pages_put_nulls_last_and_break_ties_by_row(data: tuple, order_by: str, key) -> None:
    items, _objects, frames, ref = data
    node = parse("annotations.count >= 1")
    result = run_query(frames, node)
    matched = [it for it, hit in zip(items, ref.items_matching(node), strict=True) if hit]
    desc = order_by.startswith("-")
    present = [it for it in matched if key(it) is not None]
    present.sort(key=lambda it: (_neg(key(it)) if desc else key(it), it["row"]))
    expected = [it["row"] for it in present] + [it["row"] for it in matched if key(it) is None]
    got, cursor = [], None
    for _ in range(4):
        page = result.page(limit=50, order_by=order_by, cursor=cursor)
        got.extend(page.positions.tolist())
        cursor = page.next_cursor
    assert got == expected[:200]
    assert result.page(limit=1000, order_by=order_by).positions.tolist() == expected[:1000]


def _neg(value):
    return -value if isinstance(value, float) else (*(-ord(c) for c in value), 1)


def test_object_view_sorted_by_confidence_and_area(data: tuple) -> None:
    _items, objects, frames, ref = data
    node = parse("prediction.confidence >= 0.1")
    result = run_query(frames, node, "objects")
    matched = [i for i, hit in enumerate(ref.objects_matching(node)) if hit]
    by_conf = sorted(matched, key=lambda i: (-objects[i]["confidence"], i))
    assert result.page(limit=100, order_by="-confidence").positions.tolist() == by_conf[:100]
    with_area = sorted(
        (i for i in matched if objects[i]["area"] is not None),
        key=lambda i: (objects[i]["area"], i),
    )
    nulls = [i for i in matched if objects[i]["area"] is None]
    assert result.page(limit=1000, order_by="area").positions.tolist() == (with_area + nulls)[:1000]


@pytest.mark.parametrize(
    ("query", "view"),
    [
        ('metadata.weather = "rain"', "items"),
        ('annotations.car >= 1 AND NOT tags CONTAINS "blurry"', "items"),
        ("", "items"),
        ("prediction.confidence > 0.5", "objects"),
        ('annotation.label = "person" OR metadata.speed < 20', "objects"),
    ],
)
def test_facets_equal_plain_counting(data: tuple, query: str, view: str) -> None:
    items, objects, frames, ref = data
    result = run_query(frames, query, view)
    facets = result.facets()
    if view == "items":
        item_hits = ref.items_matching(parse(query)) if query else [True] * len(items)
        obj_hits = [item_hits[o["item_row"]] for o in objects]
    else:
        obj_hits = ref.objects_matching(parse(query))
        rows = {o["item_row"] for o, hit in zip(objects, obj_hits, strict=True) if hit}
        item_hits = [it["row"] in rows for it in items]
    m_items = [it for it, hit in zip(items, item_hits, strict=True) if hit]
    m_objects = [o for o, hit in zip(objects, obj_hits, strict=True) if hit]
    assert facets["items"] == len(m_items) and facets["objects"] == len(m_objects)
    labels: dict[str, Counter] = {}
    for o in m_objects:
        labels.setdefault(o["source"], Counter())[o["label"]] += 1
    assert facets["labels"] == {s: dict(c) for s, c in labels.items()}
    assert facets["tags"] == dict(Counter(t for it in m_items for t in it["tags"]))
    for column in ("metadata.weather", "metadata.camera.id"):
        values = Counter(it[column] for it in m_items if it[column] is not None)
        assert facets["values"][column] == dict(values)
    for column in ("metadata.speed", "metadata.lanes", "autotag.crosswalk"):
        values = [it[column] for it in items if it[column] is not None]
        lo, hi = min(values), max(values)
        counts = [0] * HISTOGRAM_BINS
        for it in m_items:
            if it[column] is not None:
                counts[
                    min(int((it[column] - lo) / (hi - lo) * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)
                ] += 1
        hist = facets["histograms"][column]
        assert hist["counts"] == counts and math.isclose(hist["edges"][-1], hi)
    for model in ("m1", "m2"):
        counts = [0] * HISTOGRAM_BINS
        for o in m_objects:
            if o["source"] == model:
                counts[min(int(o["confidence"] * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
        if any(counts):
            assert facets["confidence"][model]["counts"] == counts
        else:
            assert model not in facets["confidence"]


def test_a_plan_sent_as_json_runs_like_its_text(data: tuple) -> None:
    _items, _objects, frames, _ref = data
    text = 'annotations.car > 1 AND metadata.weather = "rain"'
    by_text = run_query(frames, text)
    by_json = run_query(frames, to_json(parse(text)))
    assert np.array_equal(by_text.mask, by_json.mask)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "metadata.weather > 3",
            "type mismatch at column 18: metadata.weather (a string field)"
            " compared with 3 (a number)",
        ),
        ("metdata.x = 1", 'unknown field "metdata.x" at column 1 (did you mean "metadata.x"?)'),
        (
            'metadata.wether = "x"',
            'unknown field "metadata.wether" at column 1 (did you mean "metadata.weather"?)',
        ),
        (
            "annotations.cars > 0",
            'unknown label "annotations.cars" at column 1 (did you mean "annotations.car"?)',
        ),
        (
            "predictions.m3.car > 0",
            'unknown model "predictions.m3" at column 1 (did you mean "predictions.m2"?)',
        ),
        (
            'annotation.lable = "car"',
            'unknown field "annotation.lable" at column 1 (did you mean "annotation.label"?)',
        ),
        (
            'annotations.car > 0 AND tags = "x"',
            '"=" at column 30 cannot take tags (a list field); use CONTAINS or IN'
            " for list membership",
        ),
        (
            "metadata.speed + 1",
            'expected a condition, found a number expression ("+" at column 16)',
        ),
        ("metadata.weather", "expected a condition, found metadata.weather (a string field)"),
        ('metadata.speed - "a" > 1', '"-" at column 16 needs numbers, found "a" (a string)'),
        (
            'metadata.speed IN [1, "a"]',
            "type mismatch at column 16: metadata.speed (a number field) compared"
            ' with "a" (a string)',
        ),
        (
            "metadata.speed CONTAINS 1",
            '"contains" at column 16 needs a list or a string, found'
            " metadata.speed (a number field)",
        ),
        (
            "metadata.is_night > true",
            "type mismatch at column 19: metadata.is_night (a bool field) compared"
            " with true (a bool)",
        ),
        ("metadata = 1", 'incomplete field "metadata" at column 1'),
        ("colour = 1", 'unknown field "colour" at column 1'),
    ],
)
def test_schema_errors_name_the_field_and_column(data: tuple, query: str, message: str) -> None:
    _items, _objects, frames, _ref = data
    with pytest.raises(InvalidQuery) as caught:
        run_query(frames, query)
    assert caught.value.message == message


def test_bad_page_requests_are_invalid(data: tuple) -> None:
    _items, _objects, frames, _ref = data
    result = run_query(frames, "annotations.count > 0")
    for kwargs in (
        {"order_by": "annotation.area"},
        {"order_by": "tags"},
        {"cursor": "zzz"},
        {"limit": 0},
    ):
        with pytest.raises(InvalidQuery):
            result.page(**kwargs)
    with pytest.raises(InvalidQuery):
        run_query(frames, "annotations.count > 0", "scenes")


@pytest.mark.parametrize(
    ("bare", "quoted"),
    [
        ("metadata.weather = rain", 'metadata.weather = "rain"'),
        (
            "annotation.label != car AND tags CONTAINS blurry",
            'annotation.label != "car" AND tags CONTAINS "blurry"',
        ),
        (
            'rain = metadata.weather OR metadata.camera.id IN ["cam1"]',
            '"rain" = metadata.weather OR metadata.camera.id IN ["cam1"]',
        ),
    ],
)
def test_unquoted_values_read_as_strings_as_in_nucleus(data: tuple, bare: str, quoted: str) -> None:
    _items, _objects, frames, _ref = data
    assert np.array_equal(run_query(frames, bare).mask, run_query(frames, quoted).mask)
    assert run_query(frames, quoted).count > 0


def test_a_bare_word_beside_a_number_field_is_still_an_unknown_field(data: tuple) -> None:
    _items, _objects, frames, _ref = data
    with pytest.raises(InvalidQuery, match='unknown field "fast" at column 18'):
        run_query(frames, "metadata.speed = fast")


def test_a_dataset_without_objects_or_predictions_answers_every_count_with_zero() -> None:
    items, objects = generate(50, seed=3)
    gt_only = [o for o in objects if o["source"] == "gt"]
    for rows in (gt_only, []):
        frames = frames_of(items, rows)
        assert run_query(frames, "predictions.count > 0").count == 0
        assert run_query(frames, "predictions.count = 0").count == 50
        with_gt = {o["item_row"] for o in rows}
        assert run_query(frames, "annotations.count >= 1").count == len(with_gt)
        facets = run_query(frames, "").facets()
        assert facets["objects"] == len(rows) and facets["confidence"] == {}
    with pytest.raises(InvalidQuery, match=r'unknown model "predictions\.m1"'):
        run_query(frames_of(items, gt_only), "predictions.m1.car > 0")


def test_offsets_skip_matches_in_either_order(data: tuple) -> None:
    _items, _objects, frames, _ref = data
    result = run_query(frames, "annotations.count >= 1")
    for order_by in (None, "-metadata.speed"):
        whole = result.page(limit=120, order_by=order_by).positions.tolist()
        assert result.page(limit=40, offset=80, order_by=order_by).positions.tolist() == whole[80:]
    with pytest.raises(InvalidQuery, match="offset"):
        result.page(offset=-1)
    with pytest.raises(InvalidQuery, match=r'unknown field "tags\.x" at column 1'):
        run_query(frames, 'tags.x = "a"')


def test_pages_of_a_large_sparse_mask_are_its_matches_in_order() -> None:
    # A mask of 300,000 rows with runs of nothing and dense clusters: the page scans it in
    # growing chunks from the cursor instead of listing every match; it must give exactly
    # the listed matches, page after page, and with offsets.
    n = 300_000
    rng = np.random.default_rng(7)
    mask = rng.random(n) < 0.002
    mask[50_000:120_000] = False
    mask[200_000:200_400] = True
    frames = QueryFrames(pl.DataFrame({"row": np.arange(n)}), pl.DataFrame())
    expected = np.flatnonzero(mask)
    result = QueryResult(frames, None, "items", mask)
    seen, cursor = [], None
    while True:
        page = result.page(limit=37, cursor=cursor, columns=["row"])
        assert page.rows["row"].to_list() == page.positions.tolist()
        seen.extend(page.positions.tolist())
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected.tolist() and result.count == len(expected)
    fresh = QueryResult(frames, None, "items", mask)
    for offset in (0, 1, 500, 1000, len(expected) - 3):
        got = fresh.page(limit=10, offset=offset, columns=["row"])
        assert got.positions.tolist() == expected[offset : offset + 10].tolist()
        assert (got.next_cursor is None) == (offset + 10 >= len(expected))
    assert "positions" not in fresh.__dict__  # the pages never listed every match


@pytest.mark.parametrize("n_names", [3, 40, 400])
def test_code_masks_from_postings_equal_comparing_every_row(n_names: int) -> None:
    """Codes.mask reads selective values from postings and common ones by comparison; both
    paths must give the plain comparison's rows, nulls (-1) and absent values matching none."""
    from assay.curation.query.frames import Codes

    rng = np.random.default_rng(n_names)
    # Skewed: a few common values (compared) and many rare ones (read from postings).
    codes = np.minimum(rng.zipf(1.6, 20_000) - 2, n_names - 1).astype(np.int32)
    codes[rng.random(len(codes)) < 0.05] = -1
    names = tuple(f"v{i:04d}" for i in range(n_names))
    column = Codes(names, codes)
    sizes = np.bincount(codes[codes >= 0], minlength=n_names)
    assert (sizes * 8 < len(codes)).any() and (sizes * 8 >= len(codes)).any()
    last = n_names - 1
    for wanted in [[0], [1], [last], [-1], [0, 2], [-1, min(3, last), last], [], [last, last]]:
        expected = np.isin(codes, [w for w in wanted if w >= 0])
        assert np.array_equal(column.mask(wanted), expected), wanted
