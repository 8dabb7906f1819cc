"""`client.queue`: work as a labeler or reviewer — take a task, save drafts, submit."""

from __future__ import annotations

from typing import Any, Literal

from assay.sdk._api.queue import QueueAPI
from assay.sdk._http import HTTP
from assay.sdk.models import Lease, LeaseRenewed, Submitted


class Queue:
    def __init__(self, http: HTTP) -> None:
        self._api = QueueAPI(http)

    def next(self, project_id: str, *, stage: str | None = None) -> Lease | None:
        """Your current lease in the stage (default: the first), or the next task leased
        to you; None when nothing is left for you."""
        data = self._api.next(project_id=project_id, params={"stage": stage})
        return Lease.model_validate(data) if data else None

    def heartbeat(self, task_id: str, lease_token: str) -> LeaseRenewed:
        """Keep the lease while you work; `Conflict` once it was lost."""
        return self._api.heartbeat(task_id=task_id, json={"lease_token": lease_token})

    def draft(self, task_id: str, lease_token: str, response: dict[str, Any]) -> None:
        """Autosave unfinished work; it comes back in `Lease.draft`."""
        self._api.draft(task_id=task_id, json={"lease_token": lease_token, "response": response})

    def submit(
        self,
        task_id: str,
        lease_token: str,
        response: dict[str, Any],
        *,
        feedback: str | None = None,
    ) -> Submitted:
        """Your response; `InvalidInput.field` names what breaks the taxonomy. `feedback`: a
        note on the instructions (calibration reports show it). Training tasks answer with
        `Submitted.feedback`: your score and the expected response."""
        body: dict[str, Any] = {"lease_token": lease_token, "response": response}
        if feedback is not None:
            body["feedback"] = feedback
        return self._api.submit(task_id=task_id, json=body)

    def skip(self, task_id: str, lease_token: str, reason: str, *, broken: bool = False) -> None:
        """Give the task back; `broken=True` reports media that does not load."""
        body = {"lease_token": lease_token, "reason": reason, "broken": broken}
        self._api.skip(task_id=task_id, json=body)

    def review(
        self,
        task_id: str,
        lease_token: str,
        decision: Literal["accept", "fix", "reject"],
        *,
        response: dict[str, Any] | None = None,
        comments: list[dict[str, Any]] | None = None,
    ) -> Submitted:
        """Accept, fix (with the corrected `response`) or reject (with `comments`)."""
        body: dict[str, Any] = {"lease_token": lease_token, "decision": decision}
        if response is not None:
            body["response"] = response
        if comments is not None:
            body["comments"] = comments
        return self._api.review(task_id=task_id, json=body)
