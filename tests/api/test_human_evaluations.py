"""Human evaluation through the labeling pillar: raters chosen by profile, rubric grading
scored from the humans' verdicts with points they never see, pairwise preferences reported
in the request's terms whatever order the rater saw."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_queue import API, make_project, member, next_lease

PROFILE_FR = {
    "languages": ["fr", "EN"],
    "country": "fr",
    "profession": "Physician",
    "expertise": ["cardiology"],
}
PROFILE_US = {"languages": ["en"], "country": "US", "profession": "lawyer", "expertise": []}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def set_profile(client, manager, account, profile: dict[str, Any]) -> dict[str, Any]:
    response = client.put(
        f"{API}/users/{account.user.id}/rater-profile", json=profile, headers=manager.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def submit(client, account, lease: dict[str, Any], response: dict[str, Any]) -> None:
    done = client.post(
        f"{API}/tasks/{lease['task']['id']}/submit",
        json={"lease_token": lease["lease_token"], "response": response},
        headers=account.headers,
    )
    assert done.status_code == 200, done.text


def test_rater_profiles_are_set_by_managers_and_read_by_their_owner(client, manager, accounts):
    rater, other = accounts.make("labeler"), accounts.make("labeler")
    saved = set_profile(client, manager, rater, PROFILE_FR)
    assert saved == {
        "user_id": rater.user.id,
        "languages": ["fr", "en"],
        "country": "FR",
        "profession": "Physician",
        "expertise": ["cardiology"],
    }
    mine = client.get(f"{API}/users/{rater.user.id}/rater-profile", headers=rater.headers)
    assert mine.status_code == 200 and mine.json() == saved
    empty = client.get(f"{API}/users/{other.user.id}/rater-profile", headers=manager.headers)
    assert empty.json()["languages"] == [] and empty.json()["country"] is None
    assert (
        client.get(f"{API}/users/{rater.user.id}/rater-profile", headers=other.headers).status_code
        == 403
    )
    refused = client.put(
        f"{API}/users/{rater.user.id}/rater-profile", json=PROFILE_US, headers=rater.headers
    )
    assert refused.status_code == 403
    bad = client.put(
        f"{API}/users/{rater.user.id}/rater-profile",
        json={**PROFILE_FR, "country": "France"},
        headers=manager.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "country"
    missing = client.put(
        f"{API}/users/{'0' * 24}/rater-profile", json=PROFILE_FR, headers=manager.headers
    )
    assert missing.status_code == 404


def test_rubric_grading_goes_only_to_raters_whose_profile_matches(client, manager, accounts):
    project = make_project(
        client, manager, name="doctors", task_type="rubric_grading", taxonomy={}, params={}
    )
    cardiologist, lawyer, unprofiled = (accounts.make("labeler") for _ in range(3))
    set_profile(client, manager, cardiologist, PROFILE_FR)
    set_profile(client, manager, lawyer, PROFILE_US)
    for account in (lawyer, unprofiled):
        client.put(
            f"{API}/projects/{project['id']}/members/{account.user.id}",
            json={"role": "labeler"},
            headers=manager.headers,
        )
    criteria = [
        {"text": "Names the right drug", "points": 5, "category": "accuracy"},
        {"text": "Gives the dose", "points": 3, "category": "completeness"},
        {"text": "Recommends stopping all medication", "points": -2, "category": "safety"},
    ]
    body = {
        "name": "cardiology answers",
        "project_id": project["id"],
        "kind": "rubric_grading",
        "raters": {"languages": ["FR"], "expertise": ["Cardiology"]},
        "items": [
            {
                "prompt": "What treats atrial fibrillation?",
                "response": "Apixaban, 5 mg.",
                "criteria": criteria,
                "source": "run-item-1",
            },
        ],
    }
    nobody = client.post(
        f"{API}/human-evaluations",
        json={**body, "name": "nobody", "raters": {"countries": ["JP"]}},
        headers=manager.headers,
    )
    assert nobody.status_code == 422 and nobody.json()["error"]["field"] == "raters"
    created = client.post(f"{API}/human-evaluations", json=body, headers=manager.headers)
    assert created.status_code == 201, created.text
    evaluation = created.json()
    assert evaluation["group_id"] is not None and evaluation["items"] == 1
    for account in (lawyer, unprofiled):
        assert next_lease(client, account, project["id"]).status_code == 204
    lease = next_lease(client, cardiologist, project["id"])
    assert lease.status_code == 200, lease.text
    assert "points" not in lease.text and "run-item" not in lease.text
    shown = lease.json()["task"]["params"]["criteria"]
    assert [c["id"] for c in shown] == ["c1", "c2", "c3"]
    pending = client.get(
        f"{API}/human-evaluations/{evaluation['id']}/results", headers=manager.headers
    ).json()
    assert pending["completed"] == 0 and pending["results"][0]["score"] is None
    # Met the drug, missed the dose, and recommended stopping everything: (5 - 2) / 8.
    verdicts = {"c1": True, "c2": False, "c3": True}
    submit(
        client,
        cardiologist,
        lease.json(),
        {"annotations": [{"criterion": c, "met": m} for c, m in verdicts.items()]},
    )
    results = client.get(
        f"{API}/human-evaluations/{evaluation['id']}/results", headers=manager.headers
    ).json()
    assert results["completed"] == 1
    (item,) = results["results"]
    assert item["verdicts"] == verdicts and item["source"] == "run-item-1"
    assert item["score"] == pytest.approx(3 / 8) and results["mean_score"] == pytest.approx(3 / 8)
    # Raters never reach the evaluation itself.
    for path in (f"/{evaluation['id']}", f"/{evaluation['id']}/results"):
        response = client.get(f"{API}/human-evaluations{path}", headers=cardiologist.headers)
        assert response.status_code == 404
    assert client.get(f"{API}/human-evaluations", headers=cardiologist.headers).status_code == 403


def test_pairwise_preferences_come_back_in_the_requests_terms(client, manager, accounts):
    project = make_project(
        client, manager, name="arena", task_type="llm_comparison", taxonomy={}, params={}
    )
    items = [
        {
            "prompt": f"Question {i}",
            "response": f"model A answer {i}",
            "response_b": f"model B answer {i}",
        }
        for i in range(8)
    ]
    wrong = client.post(
        f"{API}/human-evaluations",
        json={"name": "w", "project_id": project["id"], "kind": "rubric_grading", "items": items},
        headers=manager.headers,
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "project_id"
    no_b = client.post(
        f"{API}/human-evaluations",
        json={
            "name": "n",
            "project_id": project["id"],
            "kind": "pairwise",
            "items": [{"prompt": "q", "response": "a"}],
        },
        headers=manager.headers,
    )
    assert no_b.status_code == 422 and no_b.json()["error"]["field"] == "items[0].response_b"
    created = client.post(
        f"{API}/human-evaluations",
        json={"name": "a vs b", "project_id": project["id"], "kind": "pairwise", "items": items},
        headers=manager.headers,
    ).json()
    assert created["group_id"] is None
    rater = member(client, manager, accounts, project["id"], "labeler")
    first_shown = []
    expected: dict[int, str] = {}
    for _ in items:
        lease = next_lease(client, rater, project["id"]).json()
        responses = lease["task"]["params"]["responses"]
        first = responses[0]["content"]
        first_shown.append(first.split()[1])
        index = int(first.rsplit(" ", 1)[1])
        # The rater always prefers model B, whichever side it is shown on.
        choice = "a" if first.startswith("model B") else "b"
        expected[index] = "response_b"
        submit(client, rater, lease, {"annotations": [{"choice": choice}]})
    assert set(first_shown) == {"A", "B"}  # both orders were shown
    results = client.get(
        f"{API}/human-evaluations/{created['id']}/results", headers=manager.headers
    ).json()
    assert results["completed"] == 8
    assert results["preferences"] == {"response_b": 8}
    assert {r["position"]: r["preference"] for r in results["results"]} == expected
