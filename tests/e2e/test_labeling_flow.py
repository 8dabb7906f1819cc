"""Issue 3 acceptance: a labeling project from creation to a COCO file, through `assay.Client`
against a real `assay serve`.

A manager creates an image project (label → review at 100 %, two rework rounds), a batch and
1,000 tasks in one bulk call, with task and batch callbacks to a loopback receiver; two
labelers label everything at once; a reviewer accepts all but one task, which goes back to its
labeler alone with the comment pinned to a shape, is fixed and accepted; the batch completes;
every callback arrives signed with the project's secret; the COCO export opens in pycocotools
with exactly what was submitted.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Event
from typing import Any

import httpx
import pytest
from pycocotools.coco import COCO

import assay
from assay.core.webhooks import verify_signature
from assay.sdk.models import Lease
from tests.support.polling import wait_for
from tests.support.receiver import Receiver
from tests.support.servers import LiveServer

pytestmark = pytest.mark.live

TASKS = 1_000
WIDTH, HEIGHT = 640, 480
TAXONOMY = {
    "labels": [
        {
            "name": "car",
            "geometries": ["box"],
            "attributes": [{"name": "occluded", "type": "choice", "choices": ["yes", "no"]}],
        },
        {"name": "person", "geometries": ["box"]},
    ]
}
PIPELINE = {
    "stages": [
        {"name": "label", "kind": "label"},
        {"name": "review", "kind": "review", "sample_rate": 1.0},
    ],
    "max_rework_rounds": 2,
}


@pytest.fixture
def server(settings, tmp_path) -> Iterator[LiveServer]:
    """`assay serve` over this test's database, with its default job workers (callbacks)."""
    live = LiveServer(settings, tmp_path / "serve.log")
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def connect() -> Iterator[Callable[..., assay.Client]]:
    clients: list[assay.Client] = []

    def make(url: str, api_key: str) -> assay.Client:
        clients.append(assay.Client(url, api_key))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def boxes_for(task_id: str, extra: int = 0) -> dict[str, Any]:
    """One to three boxes, a different number per task, inside the image."""
    count = zlib.crc32(task_id.encode()) % 3 + 1 + extra
    annotations = []
    for i in range(count):
        box = {"type": "box", "x": 10 + 40 * i, "y": 20, "width": 30, "height": 50}
        if i % 2:
            annotations.append({**box, "label": "person"})
        else:
            annotations.append({**box, "label": "car", "attributes": {"occluded": "no"}})
    return {"annotations": annotations}


def shapes(response: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    """What was drawn, ignoring what the server fills in (annotation ids, defaults)."""
    return [
        (a["label"], a["x"], a["y"], a["width"], a["height"])
        for a in (response or {}).get("annotations", [])
    ]


def label_everything(
    client: assay.Client, project_id: str, user_id: str, submitted: dict[str, Any]
) -> int:
    """next + submit until the queue has nothing left for this labeler."""
    done = 0
    while (lease := client.queue.next(project_id)) is not None:
        params = lease.task.params
        assert (params["image_width"], params["image_height"]) == (WIDTH, HEIGHT)
        response = boxes_for(lease.task.id)
        # Recorded first: the reviewer may lease the task as soon as the submit commits.
        submitted[lease.task.id] = (user_id, response)
        client.queue.submit(lease.task.id, lease.lease_token, response)
        done += 1
    return done


def review_everything(
    reviewer: assay.Client,
    project_id: str,
    submitted: dict[str, Any],
    decide: Callable[[Lease], list[dict[str, Any]] | None],
    labeling: Event,
    timeout: float = 300,
) -> list[str]:
    """next + review (reject when `decide` returns comments, else accept) until the review
    queue is empty and `labeling` is over; the task ids reviewed, in order."""
    reviewed = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Read before asking: if labeling was over by then, an empty queue stays empty.
        labeling_over = not labeling.is_set()
        lease = reviewer.queue.next(project_id, stage="review")
        if lease is None:
            if labeling_over:
                return reviewed
            time.sleep(0.05)  # labelers are still at work: look again
            continue
        assert shapes(lease.previous) == shapes(submitted[lease.task.id][1])
        comments = decide(lease)
        if comments:
            reviewer.queue.review(lease.task.id, lease.lease_token, "reject", comments=comments)
        else:
            reviewer.queue.review(lease.task.id, lease.lease_token, "accept")
        reviewed.append(lease.task.id)
    raise AssertionError(f"review not finished within {timeout}s ({len(reviewed)} reviewed)")


def test_a_batch_from_import_to_reviewed_coco_export(server, connect, accounts, tmp_path):
    manager_account = accounts.make("manager")
    manager = connect(server.url, manager_account.key)
    labeler_accounts = [accounts.make("labeler"), accounts.make("labeler")]
    reviewer_account = accounts.make("reviewer")

    with Receiver() as receiver:
        project = manager.projects.create(
            name="street scenes", task_type="image", taxonomy=TAXONOMY, pipeline=PIPELINE
        )
        for account in labeler_accounts:
            manager.projects.set_member(project.id, account.user.id, "labeler")
        manager.projects.set_member(project.id, reviewer_account.user.id, "reviewer")
        batch = manager.batches.create(
            project.id, name="drive-0412", callback_url=f"{receiver.url}/batch"
        )
        created = manager.tasks.create_many(
            project.id,
            [
                {
                    "params": {
                        "attachment": f"https://images.example.test/drive-0412/{i:04d}.jpg",
                        "image_width": WIDTH,
                        "image_height": HEIGHT,
                    },
                    "unique_id": f"drive-0412-{i:04d}",
                    "callback_url": f"{receiver.url}/task",
                }
                for i in range(TASKS)
            ],
            batch=batch.id,
        )
        assert created.count == TASKS
        task_ids = {ref.id for ref in created.tasks}
        assert manager.batches.finalize(batch.id).status == "in_progress"

        # Two labelers at once, each with its own client, and the reviewer reviewing behind
        # them. It rejects the last task, with a comment on its first box, once labeling is
        # over (so the rework is not picked up mid-run as ordinary work).
        labelers = [connect(server.url, account.key) for account in labeler_accounts]
        reviewer = connect(server.url, reviewer_account.key)
        submitted: dict[str, tuple[str, dict[str, Any]]] = {}
        labeling = Event()
        labeling.set()
        target = created.tasks[-1].id
        rejected: dict[str, Any] = {}

        def reject_last(lease: Lease) -> list[dict[str, Any]] | None:
            if lease.task.id != target:
                return None
            wait_for(lambda: not labeling.is_set(), timeout=300)
            box_id = lease.previous["annotations"][0]["id"]
            comments = [{"text": "this box cuts off the bumper", "annotation_id": box_id}]
            rejected.update(previous=lease.previous, comments=comments)
            return comments

        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(label_everything, client, project.id, account.user.id, submitted)
                for client, account in zip(labelers, labeler_accounts, strict=True)
            ]
            for future in futures:
                future.add_done_callback(
                    lambda _: all(f.done() for f in futures) and labeling.clear()
                )
            reviewed = review_everything(reviewer, project.id, submitted, reject_last, labeling)
            counts = [future.result() for future in futures]
        assert sum(counts) == TASKS and set(submitted) == task_ids
        assert all(counts), f"one labeler got no work: {counts}"
        assert sorted(reviewed) == sorted(task_ids) and rejected
        assert manager.batches.get(batch.id).counts.pending == 1

        # The rejected task goes back to the labeler who did it, and only to them.
        owner_id = submitted[target][0]
        owner, other = (
            (labelers[0], labelers[1])
            if owner_id == labeler_accounts[0].user.id
            else (labelers[1], labelers[0])
        )
        assert other.queue.next(project.id) is None
        rework = owner.queue.next(project.id)
        assert rework is not None and rework.task.id == target
        assert rework.task.round == 1
        assert rework.previous == rejected["previous"]
        assert rework.comments == rejected["comments"]
        fixed = boxes_for(rework.task.id, extra=1)
        owner.queue.submit(rework.task.id, rework.lease_token, fixed)
        submitted[rework.task.id] = (owner_id, fixed)
        reviewed = review_everything(reviewer, project.id, submitted, lambda _: None, Event())
        assert reviewed == [target]

        done = manager.batches.get(batch.id)
        assert done.status == "completed"
        assert (done.counts.completed, done.counts.pending) == (TASKS, 0)

        # Every task callback and the batch callback, signed with the project's secret.
        secret = manager.projects.get(project.id).callback_secret
        assert secret
        # Deduplicated on Assay-Delivery: a retried delivery may arrive twice.
        wait_for(lambda: len({r.headers["assay-delivery"] for r in receiver.requests}) > TASKS, 120)
        deliveries = {r.headers["assay-delivery"]: r for r in receiver.wait_for(TASKS + 1)}
    assert len(deliveries) == TASKS + 1
    assert all(
        verify_signature(secret, r.headers["assay-signature"], r.body) for r in deliveries.values()
    )
    events = Counter((r.path, r.headers["assay-event"]) for r in deliveries.values())
    assert events == {
        ("/hook/task", "task.completed"): TASKS,
        ("/hook/batch", "batch.completed"): 1,
    }
    payloads = [json.loads(r.body) for r in deliveries.values()]
    by_task = {p["task_id"]: p for p in payloads if "task_id" in p}
    assert set(by_task) == task_ids
    assert all(p["status"] == "completed" for p in by_task.values())
    assert all(shapes(p["response"]) == shapes(submitted[t][1]) for t, p in by_task.items())
    (batch_payload,) = [p for p in payloads if "batch_id" in p and "task_id" not in p]
    assert (batch_payload["batch_id"], batch_payload["status"]) == (batch.id, "completed")

    # The COCO export, fetched through a signed blob URL (no key), read by pycocotools.
    with httpx.Client(base_url=server.url, headers=manager_account.headers) as http:
        answer = http.post(
            f"/api/v1/projects/{project.id}/exports", json={"format": "coco", "batch_id": batch.id}
        )
        assert answer.status_code == 202, answer.text
    job = manager.jobs.wait(answer.json()["id"], timeout=60, poll=0.1)
    signed = manager.blobs.url(job.result["blob"]).url
    download = httpx.get(signed, timeout=30)
    assert download.status_code == 200
    path = tmp_path / "export.json"
    path.write_bytes(download.content)
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == TASKS
    boxes = {task_id: len(response["annotations"]) for task_id, (_, response) in submitted.items()}
    assert len(coco.getAnnIds()) == sum(boxes.values())
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["car", "person"]
    per_image = {
        img["task_id"]: len(coco.getAnnIds(imgIds=img["id"])) for img in coco.dataset["images"]
    }
    assert per_image == boxes
