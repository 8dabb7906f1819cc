"""`client.calibrations`, `client.human_evaluations` and `client.rater_profiles` against a
real `assay serve`: a judge's sampled verdicts graded by a labeler through the queue, the
agreement report, and a rubric grading by a rater chosen by profile."""

from __future__ import annotations

import pytest

from assay.sdk import InvalidInput, NotFound

pytestmark = pytest.mark.live


def test_calibrate_a_judge_and_grade_by_profile(connect, server, accounts):
    manager = connect(server.url, accounts.make("manager").key)
    rater_account = accounts.make("labeler")
    rater = connect(server.url, rater_account.key)
    project = manager.projects.create(name="grading", task_type="rubric_grading", taxonomy={})
    # Two criteria of one answer: the judge says met to both, the rater only to the first.
    verdicts = [
        {
            "prompt": "What is 2 + 2?",
            "response": "4, because I say so.",
            "criterion": text,
            "category": category,
            "judge_met": True,
            "judge_version": "judge-1",
        }
        for text, category in (("Gives 4", "accuracy"), ("Explains why", "reasoning"))
    ]
    calibration = manager.calibrations.create(
        "sdk sample", project_id=project.id, verdicts=verdicts
    )
    assert calibration.tasks == 1 and calibration.verdicts == 2
    with pytest.raises(NotFound):
        rater.calibrations.report(calibration.id)
    manager.projects.set_member(project.id, rater_account.user.id, "labeler")
    lease = rater.queue.next(project.id)
    assert lease is not None
    criteria = lease.task.params["criteria"]
    answer = [{"criterion": c["id"], "met": c["text"] == "Gives 4"} for c in criteria]
    rater.queue.submit(lease.task.id, lease.lease_token, {"annotations": answer})
    report = manager.calibrations.report(calibration.id)
    assert report.verdicts_graded == 2
    # The judge says met twice, the humans met then not: met_met 1, met_not 1 —
    # the one "not met" was missed.
    assert report.overall is not None
    assert (report.overall.met_met, report.overall.met_not) == (1, 1)
    assert report.overall.false_met_rate == 1.0 and report.overall.balanced_f1 == pytest.approx(
        1 / 3
    )
    assert report.by_category["reasoning"].met_not == 1
    assert [c.id for c in manager.calibrations.list()] == [calibration.id]

    manager.rater_profiles.set(rater_account.user.id, languages=["en"], country="GB")
    assert rater.rater_profiles.get(rater_account.user.id).country == "GB"
    with pytest.raises(InvalidInput) as refused:
        manager.human_evaluations.create(
            "nobody",
            project_id=project.id,
            kind="rubric_grading",
            items=[{"prompt": "q", "response": "r", "criteria": [{"text": "t"}]}],
            raters={"countries": ["JP"]},
        )
    assert refused.value.field == "raters"
    evaluation = manager.human_evaluations.create(
        "british raters",
        project_id=project.id,
        kind="rubric_grading",
        items=[
            {
                "prompt": "Spell colour",
                "response": "colour",
                "criteria": [{"text": "British spelling", "points": 2}],
            }
        ],
        raters={"countries": ["GB"]},
    )
    lease = rater.queue.next(project.id)
    assert lease is not None and "points" not in lease.task.params["criteria"][0]
    (criterion,) = lease.task.params["criteria"]
    rater.queue.submit(
        lease.task.id,
        lease.lease_token,
        {"annotations": [{"criterion": criterion["id"], "met": True}]},
    )
    results = manager.human_evaluations.results(evaluation.id)
    assert results.completed == 1 and results.mean_score == 1.0
