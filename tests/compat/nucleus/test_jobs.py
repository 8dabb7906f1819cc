"""Nucleus async jobs on Assay's jobs: info, status, errors and lists through the official
client (both lines); the status mapping (a queued job is "Running")."""

from __future__ import annotations

import datetime as dt

import pytest

from assay.compat.nucleus_common import job_json, job_status
from assay.core.models import Job
from tests.conftest import Account
from tests.support.nucleus_clients import ClientRaised

JOB = """
from nucleus import DatasetItem
ds = client.create_dataset(args["name"], is_scene=False)
job = ds.append([DatasetItem(image_location=f"https://images.example/{i}.jpg",
                             reference_id=f"j{i}") for i in range(3)], asynchronous=True)
job.sleep_until_complete(verbose_std_out=False)
"""


@pytest.mark.live
def test_an_import_job_is_read_listed_and_has_no_errors(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        JOB
        + """
again = client.get_job(job.job_id)
status = job.status()
listed = [j.job_id for j in ds.jobs(show_completed=True)]
hidden = [j.job_id for j in ds.jobs()]
typed = [j.job_id for j in client.list_jobs(show_completed=True, dataset_id=ds.id,
                                            job_types=[nucleus.job.CustomerJobTypes.UPLOAD_PREDICTIONS])]
result = {"id": job.job_id, "again": [again.job_id, again.job_last_known_status, again.job_type],
          "status": status["status"], "message": status["message"], "errors": job.errors(),
          "listed": listed, "hidden": hidden, "typed": typed, "size": ds.size}
""",
        args={"name": "jobs"},
    )
    assert got["id"].startswith("job_")
    assert got["again"] == [got["id"], "Completed", "uploadDatasetItems"]
    assert got["status"] == "Completed"
    assert got["message"]["new_items"] == 3
    assert got["errors"] == []
    assert got["listed"] == [got["id"]]
    assert got["hidden"] == []
    assert got["typed"] == []
    assert got["size"] == 3


@pytest.mark.live
def test_someone_elses_job_does_not_exist(nucleus, manager: Account, make_account) -> None:
    job_id = nucleus(manager.key, JOB + "result = job.job_id", args={"name": "theirs"})
    other = make_account("manager")
    with pytest.raises(ClientRaised) as raised:
        nucleus(other.key, "client.get_job(args['id'])", args={"id": job_id})
    assert raised.value.status == 404


@pytest.mark.parametrize(
    "status, error, nucleus_status",
    [
        ("queued", None, "Running"),
        ("running", None, "Running"),
        ("succeeded", None, "Completed"),
        ("cancelled", None, "Cancelled"),
        ("failed", '{"error": "bad width", "field": "items[1].width"}', "Errored_User"),
        ("failed", "ValueError: boom", "Errored_Server"),
    ],
)
def test_job_statuses_map_to_nucleus_statuses(
    status: str, error: str | None, nucleus_status: str
) -> None:
    job = Job(
        id="0" * 24,
        kind="nucleus.import",
        payload={"what": "items"},
        status=status,
        error=error,
        created_at=dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC),
    )
    assert job_status(job) == nucleus_status
    assert job_json(job) == {
        "job_id": "job_" + "0" * 24,
        "job_last_known_status": nucleus_status,
        "job_type": "uploadDatasetItems",
        "job_creation_time": "2026-12-07T03:00:00Z",
    }
