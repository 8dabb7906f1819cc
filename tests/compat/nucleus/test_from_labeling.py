"""`client.create_dataset_from_project` and `Dataset.ingest_tasks` through the official client
(0.22): a labeling project's completed tasks become items whose ground truth is the labeler's
answer; pending ones are counted; an unknown project or task is the client's 404."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Account, Accounts
from tests.support.servers import LiveServer

pytestmark = pytest.mark.live
TAXONOMY = {"labels": [{"name": "car", "geometries": ["box"]}]}

RUN = """
import nucleus
ds = client.create_dataset_from_project(args["project"], name="labeled cars")
first = {i.reference_id: i for i in ds.items}
boxes = {r: [(b.label, b.x) for b in ds.refloc(r)["annotations"]["box"]] for r in first}
late = client.create_dataset_from_project(args["project"], last_n_tasks=1)
counts = ds.ingest_tasks(args["tasks"])
errors = {}
for name, call in (("project", lambda: client.create_dataset_from_project("0" * 24)),
                   ("task", lambda: ds.ingest_tasks(["nope"]))):
    try:
        call()
        errors[name] = "accepted"
    except nucleus.errors.NucleusAPIError as error:
        errors[name] = error.status_code
result = {"name": ds.name, "refs": sorted(first), "boxes": boxes,
          "late": [i.reference_id for i in late.items], "counts": counts, "errors": errors,
          "size": ds.size}
"""


def test_a_projects_labeled_tasks_become_a_dataset(
    nucleus,
    manager: Account,
    module_accounts: Accounts,
    server: LiveServer,
    name: Callable[[str], str],
) -> None:
    api = f"{server.url}/api/v1"

    def ok(response: httpx.Response) -> dict:
        assert response.status_code < 300, response.text
        return response.json()

    project = ok(
        httpx.post(
            f"{api}/projects",
            json={"name": name("cars"), "task_type": "image", "taxonomy": TAXONOMY},
            headers=manager.headers,
        )
    )
    labeler = module_accounts.make("labeler")
    ok(
        httpx.put(
            f"{api}/projects/{project['id']}/members/{labeler.user.id}",
            json={"role": "labeler"},
            headers=manager.headers,
        )
    )
    tasks = [
        {
            "params": {
                "attachment": f"https://m.test/{n}.jpg",
                "image_width": 320,
                "image_height": 240,
            },
            "unique_id": name(f"shot-{n}"),
        }
        for n in range(3)
    ]
    created = ok(
        httpx.post(
            f"{api}/projects/{project['id']}/tasks/bulk",
            json={"tasks": tasks},
            headers=manager.headers,
        )
    )
    ids = [t["id"] for t in created["tasks"]]
    for n in range(2):  # two of the three labeled
        lease = ok(
            httpx.post(f"{api}/projects/{project['id']}/queue/next", headers=labeler.headers)
        )
        task_id = lease["task"]["id"]
        ok(
            httpx.post(
                f"{api}/tasks/{task_id}/submit",
                json={
                    "lease_token": lease["lease_token"],
                    "response": {
                        "annotations": [
                            {
                                "type": "box",
                                "label": "car",
                                "x": 10 + n,
                                "y": 5,
                                "width": 20,
                                "height": 10,
                            }
                        ]
                    },
                },
                headers=labeler.headers,
            )
        )
    got = nucleus(manager.key, RUN, args={"project": project["id"], "tasks": ids})
    assert got["name"] == "labeled cars" and len(got["refs"]) == 2
    assert all(ref.startswith("shot-") or "shot-" in ref for ref in got["refs"])
    assert sorted(b for boxes in got["boxes"].values() for b in boxes) == [["car", 10], ["car", 11]]
    assert got["late"] == []  # the newest task is the one not labeled yet
    assert got["counts"] == {"ingested_tasks": 2, "ignored_tasks": 0, "pending_tasks": 1}
    assert got["size"] == 2
    assert got["errors"] == {"project": 404, "task": 404}
