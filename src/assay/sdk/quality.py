"""`client.quality`: evaluation and training tasks, the training course, labelers' standing
(pause, re-qualify, audit rate), audits, calibration reports and quality numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Literal

from assay.sdk._api.quality import QualityAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import (
    Audit,
    AuditLease,
    CalibrationReport,
    CourseState,
    LabelerDashboard,
    Lease,
    ProjectQuality,
    QualityTask,
    Recycled,
    Retired,
    Standing,
    Task,
)


def _task_body(
    params: dict[str, Any], expected_response: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    body = {"params": params, "expected_response": expected_response, **fields}
    return {k: v for k, v in body.items() if v is not None}


class Quality:
    def __init__(self, http: HTTP) -> None:
        self._api = QualityAPI(http)

    # --- evaluation and training tasks ----------------------------------------------------

    def create_evaluation_task(
        self,
        project_id: str,
        *,
        params: dict[str, Any],
        expected_response: dict[str, Any],
        unique_id: str | None = None,
        priority: int = 0,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Task:
        """A task served among real ones and scored against `expected_response`. Safe to
        retry."""
        fields = {"unique_id": unique_id, "priority": priority, "metadata": metadata, "tags": tags}
        return self._api.create_evaluation_task(
            project_id=project_id, json=_task_body(params, expected_response, fields)
        )

    def create_training_task(
        self,
        project_id: str,
        *,
        params: dict[str, Any],
        expected_response: dict[str, Any],
        unique_id: str | None = None,
        priority: int = 0,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Task:
        """A task of the training course; labelers see the expected response after
        submitting. Safe to retry."""
        fields = {"unique_id": unique_id, "priority": priority, "metadata": metadata, "tags": tags}
        return self._api.create_training_task(
            project_id=project_id, json=_task_body(params, expected_response, fields)
        )

    def tasks(
        self,
        project_id: str,
        *,
        kind: Literal["evaluation", "training"] | None = None,
        retired: bool | None = None,
        page_size: int | None = None,
    ) -> Iterator[QualityTask]:
        """Evaluation and training tasks with attempts and pass rates, fetched lazily."""
        params: dict[str, Any] = {
            "kind": kind,
            "retired": None if retired is None else str(retired).lower(),
            "limit": page_size,
        }
        return iterate(
            lambda cursor: self._api.tasks(
                project_id=project_id, params={**params, "cursor": cursor}
            )
        )

    def retire(
        self,
        project_id: str,
        *,
        min_pass_rate: float | None = None,
        max_pass_rate: float | None = None,
        min_attempts: int = 0,
        task_ids: list[str] | None = None,
    ) -> Retired:
        """Retire evaluation tasks by pass-rate range (after `min_attempts` completions), or
        the ones named."""
        body: dict[str, Any] = {"min_attempts": min_attempts}
        for name, value in (
            ("min_pass_rate", min_pass_rate),
            ("max_pass_rate", max_pass_rate),
            ("task_ids", task_ids),
        ):
            if value is not None:
                body[name] = value
        return self._api.retire(project_id=project_id, json=body)

    def recycle(self, project_id: str, task_ids: list[str]) -> Recycled:
        """Serve retired evaluation or training tasks again."""
        return self._api.recycle(project_id=project_id, json={"task_ids": task_ids})

    def make_evaluation(self, task_id: str) -> Task:
        """A new evaluation task from a reviewed, completed task (its answer is expected)."""
        return self._api.make_evaluation(task_id=task_id)

    # --- the training course (labelers) ---------------------------------------------------

    def training(self, project_id: str) -> CourseState:
        """Where you stand in the project's training course."""
        return self._api.training(project_id=project_id)

    def next_training(self, project_id: str) -> Lease | None:
        """Your next training task (submit it with `client.queue.submit`; the result carries
        `feedback`); None once the course is passed or no go at it is left."""
        data = self._api.next_training(project_id=project_id)
        return Lease.model_validate(data) if data else None

    # --- people ---------------------------------------------------------------------------

    def workers(self, project_id: str) -> list[Standing]:
        """Every labeler and reviewer with their standing and rolling accuracy (managers)."""
        return self._api.workers(project_id=project_id)

    def me(self, project_id: str) -> Standing:
        """Your own standing in the project."""
        return self._api.me(project_id=project_id)

    def pause(self, project_id: str, user_id: str, reason: str) -> Standing:
        """Stop serving real work to a labeler; they are shown the reason."""
        return self._api.pause(project_id=project_id, user_id=user_id, json={"reason": reason})

    def requalify(self, project_id: str, user_id: str, *, retrain: bool = True) -> Standing:
        """Back to work with a fresh accuracy window (after the training course again, unless
        `retrain=False`)."""
        return self._api.requalify(
            project_id=project_id, user_id=user_id, json={"retrain": retrain}
        )

    def set_audit_rate(self, project_id: str, user_id: str, audit_rate: float | None) -> Standing:
        """The share of a labeler's completed tasks audited (None: the project's rate)."""
        return self._api.update_worker(
            project_id=project_id, user_id=user_id, json={"audit_rate": audit_rate}
        )

    # --- audits ---------------------------------------------------------------------------

    def next_audit(self, project_id: str) -> AuditLease | None:
        """Your audit lease, or the oldest pending audit of someone else's work; None when
        none is waiting."""
        data = self._api.next_audit(project_id=project_id)
        return AuditLease.model_validate(data) if data else None

    def decide_audit(
        self,
        audit_id: str,
        *,
        lease_token: str,
        decision: Literal["accept", "fix", "reject"],
        response: dict[str, Any] | None = None,
        comments: list[dict[str, Any]] | None = None,
    ) -> Audit:
        """Accept, fix (with the corrected `response`) or reject (with `comments`)."""
        body: dict[str, Any] = {"lease_token": lease_token, "decision": decision}
        if response is not None:
            body["response"] = response
        if comments is not None:
            body["comments"] = comments
        return self._api.decide_audit(audit_id=audit_id, json=body)

    def audits(
        self, project_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[Audit]:
        """Audits newest first, fetched lazily; `status`: pending, accepted, fixed, rejected."""
        params = {"status": status, "limit": page_size}
        return iterate(
            lambda cursor: self._api.audits(
                project_id=project_id, params={**params, "cursor": cursor}
            )
        )

    # --- reports --------------------------------------------------------------------------

    def calibration_report(self, batch_id: str) -> CalibrationReport:
        """Where labelers disagreed with a calibration batch's expected answers."""
        return self._api.calibration_report(batch_id=batch_id)

    def labeler_confusions(self, project_id: str) -> dict[str, Any]:
        """Dawid-Skene over a categorization project's overlapping answers: each labeler's
        estimated accuracy and confusion matrix (rows: true class, columns: what they said)."""
        return self._api.labeler_confusions(project_id=project_id)

    def overview(self, project_id: str, *, since: dt.datetime | None = None) -> ProjectQuality:
        """Per labeler: pace, time per task, evaluation accuracy, review and audit rates."""
        params = {"since": since.isoformat() if since is not None else None}
        return self._api.overview(project_id=project_id, params=params)

    def dashboard(self, project_id: str, user_id: str, *, days: int = 30) -> LabelerDashboard:
        """One labeler's work over time (your own as a labeler)."""
        return self._api.dashboard(project_id=project_id, user_id=user_id, params={"days": days})
