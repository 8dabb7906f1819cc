from __future__ import annotations

import numpy as np
import pytest

from assay.metrics import aggregation as agg
from tests.metrics.crowd import EXPERT, SPAMMER, hex_ids, simulate


def box(x, y, w=10, h=10, label="car", **attributes):
    return {
        "type": "box",
        "label": label,
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "attributes": attributes,
    }


def test_majority_vote_known_answer():
    tasks = ["t1", "t1", "t1", "t2", "t2", "t3"]
    labels = ["cat", "dog", "cat", "dog", "dog", "bird"]
    result = agg.majority_vote(tasks, labels)
    assert list(result.tasks) == ["t1", "t2", "t3"]
    assert list(result.classes) == ["bird", "cat", "dog"]
    assert list(result.labels) == ["cat", "dog", "bird"]
    assert result.posteriors[0] == pytest.approx([0, 2 / 3, 1 / 3])


def test_majority_vote_ties_go_to_the_first_class():
    result = agg.majority_vote(["t", "t"], ["zebra", "ant"])
    assert list(result.labels) == ["ant"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_beats_majority_vote_on_a_noisy_crowd(seed):
    crowd = simulate(tasks=2000, labelers=80, seed=seed)
    mv = agg.majority_vote(crowd.tasks, crowd.labels)
    ds = agg.dawid_skene(crowd.tasks, crowd.labelers, crowd.labels)
    assert np.array_equal(ds.tasks, np.arange(2000))
    mv_accuracy = np.mean(mv.labels == crowd.truth)
    ds_accuracy = np.mean(ds.labels == crowd.truth)
    assert ds_accuracy > mv_accuracy + 0.02, (mv_accuracy, ds_accuracy)
    assert ds.converged and ds.iterations < 100
    assert ds.posteriors.sum(axis=1) == pytest.approx(np.ones(2000))


def test_dawid_skene_recovers_confusion_matrices():
    crowd = simulate(tasks=6000, labelers=60, seed=0)
    ds = agg.dawid_skene(crowd.tasks, crowd.labelers, crowd.labels)
    assert ds.confusion.sum(axis=2) == pytest.approx(np.ones((60, 5)))
    labels_per_labeler = np.bincount(crowd.labelers, minlength=60)
    busy = labels_per_labeler >= 300
    assert busy.sum() >= 30
    error = np.abs(ds.confusion[busy] - crowd.confusion[busy]).mean()
    assert error < 0.035, error
    # Experts get a strong diagonal, spammers a flat one.
    diagonal = np.trace(ds.confusion, axis1=1, axis2=2) / 5
    experts = busy & (crowd.kinds == EXPERT)
    spammers = busy & (crowd.kinds == SPAMMER)
    assert experts.any() and spammers.any()
    assert diagonal[experts].min() > diagonal[spammers].max()
    true_prior = np.bincount(crowd.truth, minlength=5) / 6000
    assert ds.priors == pytest.approx(true_prior, abs=0.02)


def test_dawid_skene_string_ids_give_the_same_answer():
    crowd = simulate(tasks=1500, labelers=50, seed=3)
    task_ids, labeler_ids = hex_ids(1500, seed=1), hex_ids(50, seed=2)
    names = np.array(["bird", "cat", "dog", "fish", "horse"])
    by_int = agg.dawid_skene(crowd.tasks, crowd.labelers, crowd.labels)
    by_str = agg.dawid_skene(
        task_ids[crowd.tasks], labeler_ids[crowd.labelers], names[crowd.labels]
    )
    assert np.array_equal(by_str.tasks, task_ids)  # hex_ids come sorted
    assert np.array_equal(by_str.labelers, labeler_ids)
    assert np.array_equal(by_str.labels, names[by_int.labels])
    assert by_str.confusion == pytest.approx(by_int.confusion, abs=1e-4)


def test_dawid_skene_agrees_with_unanimous_labelers():
    tasks = np.repeat(np.arange(4), 3)
    labelers = np.tile(["w1", "w2", "w3"], 4)
    labels = np.repeat(["a", "b", "a", "c"], 3)
    result = agg.dawid_skene(tasks, labelers, labels)
    assert list(result.labels) == ["a", "b", "a", "c"]
    with pytest.raises(ValueError, match="same length"):
        agg.dawid_skene([1, 2], ["w"], ["a", "b"])
    with pytest.raises(ValueError, match="no labels"):
        agg.dawid_skene([], [], [])
    with pytest.raises(ValueError, match="no labels"):
        agg.majority_vote([], [])


def test_cluster_shapes_builds_consensus_from_a_quorum():
    labeler_a = [box(0, 0, label="car", occluded=True), box(100, 100, label="person")]
    labeler_b = [box(2, 0, label="car", occluded=True), box(101, 99, label="person")]
    labeler_c = [box(1, 2, label="car", occluded=False), box(300, 300, label="dog")]
    clusters = agg.cluster_shapes([labeler_a, labeler_b, labeler_c], threshold=0.5)
    by_label = {c.shape["label"]: c for c in clusters}
    assert set(by_label) == {"car", "person"}  # the lone dog lacks a quorum of 2
    car = by_label["car"]
    assert sorted(car.members) == [(0, 0), (1, 0), (2, 0)]
    assert car.shape["x"] == 1 and car.shape["y"] == 0  # medians of the corners
    assert car.shape["width"] == 10 and car.shape["height"] == 10
    assert car.shape["attributes"] == {"occluded": True}
    assert 0.5 < car.agreement < 1
    assert len(agg.cluster_shapes([labeler_a, labeler_b, labeler_c], quorum=1)) == 3


def test_cluster_shapes_keeps_one_shape_per_labeler_and_label():
    # Two overlapping boxes by one labeler never merge; other labels do not join a cluster.
    labeler_a = [box(0, 0), box(1, 0)]
    labeler_b = [box(0, 0, label="truck")]
    clusters = agg.cluster_shapes([labeler_a, labeler_b], quorum=1)
    assert sorted(len(c.members) for c in clusters) == [1, 1, 1]
    merged = agg.cluster_shapes([labeler_a, labeler_b], quorum=2, by_label=False)
    assert len(merged) == 1 and len(merged[0].members) == 2


def test_cluster_polygons_use_the_medoid():
    def square(x):
        return {
            "type": "polygon",
            "label": "roof",
            "vertices": [
                {"x": x, "y": 0},
                {"x": x + 10, "y": 0},
                {"x": x + 10, "y": 10},
                {"x": x, "y": 10},
            ],
        }

    clusters = agg.cluster_shapes([[square(0)], [square(1)], [square(2)]])
    (cluster,) = clusters
    assert cluster.shape["vertices"][0]["x"] == 1  # the middle square overlaps both others most
    assert cluster.shape["label"] == "roof"


def test_aggregate_spans_by_character_vote():
    spans = [
        [{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 20, "label": "ORG"}],
        [{"start": 0, "end": 4, "label": "PER"}, {"start": 12, "end": 20, "label": "ORG"}],
        [{"start": 1, "end": 5, "label": "PER"}, {"start": 12, "end": 22, "label": "LOC"}],
    ]
    assert agg.aggregate_spans(spans) == [
        {"start": 0, "end": 5, "label": "PER"},
        {"start": 12, "end": 20, "label": "ORG"},
    ]
    assert agg.aggregate_spans(spans, quorum=3) == [{"start": 1, "end": 4, "label": "PER"}]
    assert agg.aggregate_spans([[], []]) == []


def test_aggregate_spans_counts_a_labeler_once_per_character():
    doubled = [{"start": 0, "end": 6, "label": "X"}, {"start": 3, "end": 9, "label": "X"}]
    assert agg.aggregate_spans([doubled, []], quorum=2) == []
