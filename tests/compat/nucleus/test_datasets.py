"""Datasets through the official client (both lines): create, list, read, size, taxonomies,
delete; keys and errors."""

from __future__ import annotations

import pytest

from tests.conftest import Account
from tests.support.nucleus_clients import ClientRaised

pytestmark = pytest.mark.live


def test_create_list_read_and_delete_a_dataset(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
ds = client.create_dataset(args["name"], is_scene=False)
same = client.get_dataset(ds.id)
info = same.info()
listed = [d for d in client.datasets if d.id == ds.id]
result = {
    "id": ds.id,
    "name": same.name,
    "is_scene": same.is_scene,
    "privacy": same.use_privacy_mode,
    "size": same.size,
    "info": {"dataset_id": info.dataset_id, "name": info.name, "length": info.length,
             "model_run_ids": info.model_run_ids, "slice_ids": info.slice_ids},
    "listed": [(d.id, d.name) for d in listed],
    "legacy": ds.id in client.list_datasets()["dataset_ids"],
}
deleted = client.delete_dataset(ds.id)
result["deleted_keys"] = sorted(deleted)
try:
    client.get_dataset(ds.id).info()
    result["after"] = "still there"
except nucleus.errors.NucleusAPIError as error:
    result["after"] = error.status_code
""",
        args={"name": "cats"},
    )
    assert got["id"].startswith("ds_")
    assert got["name"] == "cats"
    assert got["is_scene"] is False and got["privacy"] is False
    assert got["size"] == 0
    assert got["info"] == {
        "dataset_id": got["id"],
        "name": "cats",
        "length": 0,
        "model_run_ids": [],
        "slice_ids": [],
    }
    assert got["listed"] == [[got["id"], "cats"]]
    assert got["legacy"] is True
    assert {"dataset_id", "job_id", "job_last_known_status"} <= set(got["deleted_keys"])
    assert got["after"] == 404


def test_taxonomies_are_added_replaced_and_deleted(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
ds = client.create_dataset("tax", is_scene=False)
added = ds.add_taxonomy("weather", "category", ["sunny", "rain"])
try:
    ds.add_taxonomy("weather", "category", ["snow"])
    again = "accepted"
except nucleus.errors.NucleusAPIError as error:
    again = error.status_code
replaced = ds.add_taxonomy("weather", "multicategory", ["snow"], update=True)
deleted = ds.delete_taxonomy("weather")
try:
    ds.delete_taxonomy("weather")
    twice = "accepted"
except nucleus.errors.NucleusAPIError as error:
    twice = error.status_code
result = {"added": added, "again": again, "replaced": replaced["status"],
          "deleted": deleted["status"], "twice": twice}
""",
    )
    assert got["added"]["status"] == "Taxonomy created"
    assert got["added"]["taxonomy_name"] == "weather"
    assert got["again"] == 400
    assert got["replaced"] == "Taxonomy created"
    assert got["deleted"] == "Taxonomy successfully deleted"
    assert got["twice"] == 404


def test_other_peoples_datasets_do_not_exist_and_labelers_see_none(
    nucleus, manager: Account, make_account
) -> None:
    dataset_id = nucleus(manager.key, "result = client.create_dataset('mine', is_scene=False).id")
    labeler = make_account("labeler")
    with pytest.raises(ClientRaised) as raised:
        nucleus(labeler.key, "client.get_dataset(args['id']).info()", args={"id": dataset_id})
    assert raised.value.status == 404
    with pytest.raises(ClientRaised) as raised:
        nucleus(labeler.key, "client.create_dataset('no', is_scene=False)")
    assert raised.value.status == 403
    # The other sandbox (a test key) sees none of the live datasets.
    got = nucleus(manager.test_key, "result = [d.id for d in client.datasets]")
    assert dataset_id not in got
    # The body is Scale's error shape, verbatim in the client's message.
    with pytest.raises(ClientRaised) as raised:
        nucleus(manager.key, "client.get_dataset('ds_nope').info()")
    assert raised.value.status == 404
    assert '"status_code":404' in raised.value.message.replace(" ", "")


def test_dataset_tags_are_added_listed_and_removed(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
ds = client.create_dataset("tagged", is_scene=False)
added = ds.add_tags(["night", "rain"])
again = ds.add_tags(["rain", "city"])
removed = ds.remove_tags(["night"])
result = {"added": added, "again": again, "removed": removed, "read": ds.get_tags(),
          "info": ds.info().tags}
""",
    )
    assert got["added"] == ["night", "rain"]
    assert got["again"] == ["night", "rain", "city"]
    assert got["removed"] == ["rain", "city"]
    assert got["read"] == ["rain", "city"]
    assert got["info"] == ["rain", "city"]


def test_a_call_not_served_is_a_404_saying_so_after_the_key_check(
    nucleus, manager: Account
) -> None:
    with pytest.raises(ClientRaised) as raised:
        nucleus(manager.key, "client.make_request({}, 'no-such-call/anywhere')")
    assert raised.value.status == 404
    assert "is not served by this server" in raised.value.message
    with pytest.raises(ClientRaised) as raised:
        nucleus("not-a-key", "client.make_request({}, 'no-such-call/anywhere')")
    assert raised.value.status == 401
