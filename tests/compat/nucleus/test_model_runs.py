"""Model tags, trained slices, dataset-less model runs and copying a run's predictions through
the official client (0.22; tags and trained slices are the same calls in 0.18)."""

from __future__ import annotations

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live


def test_model_tags_trained_slices_dataset_less_runs_and_copies(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxPrediction
def box(annotation_id, x, **where):
    return BoxPrediction(label="car", x=x, y=0, width=5, height=5, annotation_id=annotation_id,
                         confidence=0.5, **where)
first, second = client.create_dataset("left"), client.create_dataset("right")
for ds in (first, second):
    ds.append([DatasetItem(image_location=f"https://m.test/{ds.id}/{n}.jpg",
                           reference_id=f"img-{n}") for n in range(2)]
              ).sleep_until_complete(verbose_std_out=False)
s = first.create_slice("train", reference_ids=["img-0"])
model = client.create_model(name="det", reference_id="det-runs", tags=["v1"])
model.add_tags(["prod", "v1"])
model.add_trained_slice_ids([s.id])
listed = [m for m in client.models if m.id == model.id][0]
after_add = (listed.tags, listed.trained_slice_ids)
model.remove_tags(["v1"])
model.remove_trained_slice_ids([s.id])
listed = [m for m in client.models if m.id == model.id][0]
second_item = [i for i in second.items if i.reference_id == "img-1"][0]
run = model.create_run("everywhere", predictions=[
    box("p1", 1, reference_id="img-0", dataset_id=first.id),
    box("p2", 2, dataset_item_id=second_item.dataset_item_id),
])
answer = run.add_predictions([box("p3", 3, reference_id="img-1", dataset_id=first.id)])
copy = client.create_model(name="copy", reference_id="det-copy")
first_run = [r for r in first.info().model_run_ids if model.id[4:] in r][0]
copied = copy.copy_predictions_from_run(first_run)
result = {
    "after_add": after_add,
    "after_remove": (listed.tags, listed.trained_slice_ids),
    "run": [run.model_run_id.startswith("run_"),
            client.get_model(model_run_id=run.model_run_id).id == model.id],
    "answer": answer,
    "first": sorted((p.reference_id, p.annotation_id) for p in
                    first.export_predictions(model)["box"]),
    "second": sorted((p.reference_id, p.annotation_id) for p in
                     second.export_predictions(model)["box"]),
    "copied": copied["predictions_copied"],
    "copy": sorted((p.reference_id, p.annotation_id, p.x) for p in
                   first.export_predictions(copy)["box"]),
}
# merge_model_runs: refusals first (nothing may be written), then the runs on both datasets.
runs = [[r for r in d.info().model_run_ids if model.id[4:] in r][0] for d in (first, second)]
def refusal(ids):
    try:
        client.merge_model_runs(ids)
        return "accepted"
    except nucleus.errors.NucleusAPIError as error:
        return [error.status_code, error.message.split("The detailed error is:")[-1]]
models_before = len(client.models)
result["refused"] = {
    "unknown": refusal([runs[0], "run_nope_" + second.id[3:]]),
    "other_model": refusal([runs[0], first_run.replace(model.id[4:], copy.id[4:])]),
    "not_a_run": refusal([runs[0], first.id]),
}
result["models_unchanged"] = len(client.models) == models_before
merged = client.merge_model_runs(runs, name="merged", metadata={"team": "a"})
merged["job"].sleep_until_complete(verbose_std_out=False)
merged_model = client.get_model(model_run_id=merged["model_run_id"])
boxes = lambda ds, m: sorted((p.reference_id, p.annotation_id, p.x)
                             for p in ds.export_predictions(m)["box"])
result["merge"] = {
    "datasets": sorted(merged["dataset_ids"]) == sorted([first.id, second.id]),
    "model": [merged_model.name, merged_model.metadata, merged_model.id != model.id],
    "status": merged["job"].status(),
    "merged": [boxes(first, merged_model), boxes(second, merged_model)],
    "source": [boxes(first, model), boxes(second, model)],
    "runs": runs,
}
""",
    )
    assert got["after_add"] == [["v1", "prod"], [got["after_add"][1][0]]]
    assert got["after_add"][1][0].startswith("slc_")
    assert got["after_remove"] == [["prod"], []]
    assert got["run"] == [True, True]
    assert got["answer"]["predictions_processed"] == 1
    assert got["first"] == [["img-0", "p1"], ["img-1", "p3"]]
    assert got["second"] == [["img-1", "p2"]]
    assert got["copied"] == 2
    assert got["copy"] == [["img-0", "p1", 1], ["img-1", "p3", 3]]
    refused = got["refused"]
    assert refused["unknown"][0] == 404 and "model_run_ids[1]" in refused["unknown"][1]
    assert refused["other_model"][0] == 400 and "model_run_ids[1]" in refused["other_model"][1]
    assert refused["not_a_run"][0] == 400 and "model_run_ids[1]" in refused["not_a_run"][1]
    assert got["models_unchanged"]
    merge = got["merge"]
    assert merge["datasets"]
    assert merge["model"] == [
        "merged",
        {"team": "a", "merged_from_model_run_ids": merge["runs"]},
        True,
    ]
    assert merge["status"]["status"] == "Completed", merge
    # The union of the source runs' predictions, which stay.
    assert (
        merge["merged"]
        == merge["source"]
        == [
            [["img-0", "p1", 1], ["img-1", "p3", 3]],
            [["img-1", "p2", 2]],
        ]
    )
    assert merge["status"]["message"]["predictions_copied"] == 3
