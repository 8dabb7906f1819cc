"""/api/v1/judges: judges as records (single, panel, cascade) with versioned prompts, probe
reports run as jobs against a real OpenAI-protocol stand-in on loopback (a gullible judge is
flagged, an honest one passes), verifier drift, and the provider's key never shown."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from assay.evaluation.judges import DEFAULT_PROMPT
from assay.evaluation.probes import PROBES
from tests.support.judge_rules import gullible, honest, sections
from tests.support.openai_server import ChatCompletionsServer
from tests.support.polling import finished_job

API = "/api/v1"
KEY = "sk-judge-provider-never-shown-42"
# criterion text -> the fact an honest grader looks for
FACTS = {
    "States the boiling point": "100 °C",
    "Mentions that the boiling point changes with height above sea level": "altitude",
    "Claims it boils at fifty degrees": "50 °C",
    "Gives the capital": "Paris",
    "Mentions the river through the city": "Seine",
}
CASES = [
    {
        "conversation": "At what temperature does water boil at sea level?",
        "rubric": {
            "criteria": [
                {"text": "States the boiling point", "points": 5},
                {
                    "text": "Mentions that the boiling point changes with height above sea level",
                    "points": 2,
                },
                {"text": "Claims it boils at fifty degrees", "points": -3},
            ]
        },
        "reference": "Water boils at 100 °C at sea level. At higher altitude it boils at a "
        "lower temperature. This is because air pressure is lower.",
    },
    {
        "conversation": [{"role": "user", "content": "What is the capital of France?"}],
        "rubric": [
            {"text": "Gives the capital", "points": 4},
            {"text": "Mentions the river through the city", "points": 2},
        ],
        "reference": "The capital of France is Paris. The Seine flows through the city. "
        "It has been the capital for centuries.",
    },
]
GAMED = {"rubric_echo", "master_key", "master_key_with_padding", "format_headings"}


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field, response.text


def by_model(request: dict[str, Any]) -> str:
    """The model named `gullible` is fooled by master keys and echoed rubrics; the rest grade
    honestly."""
    rule = gullible if request["model"] == "gullible" else honest
    return rule(FACTS)(request)


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def server():
    with ChatCompletionsServer(by_model) as running:
        yield running


@pytest.fixture
def provider(client, manager, server) -> dict[str, Any]:
    body = {"name": "local", "base_url": server.base_url, "api_key": KEY, "max_retries": 0}
    return ok(client.post(f"{API}/providers", json=body, headers=manager.headers))


def make_judge(client, account, provider, name: str, **body: Any) -> dict[str, Any]:
    body = {"name": name, "provider_id": provider["id"], "model": name, **body}
    return ok(client.post(f"{API}/judges", json=body, headers=account.headers))


def test_a_judge_is_created_once_and_names_its_prompt_version(client, manager, provider):
    headers = {**manager.headers, "Idempotency-Key": "judge-1"}
    body = {"name": "honest", "provider_id": provider["id"], "model": "honest"}
    first = client.post(f"{API}/judges", json=body, headers=headers)
    again = client.post(f"{API}/judges", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    judge = first.json()
    assert again.json()["id"] == judge["id"]
    assert (judge["kind"], judge["mode"], judge["flagged"]) == ("single", "explicit", False)
    assert judge["prompt"]["number"] == 1 and judge["prompt"]["system"] == DEFAULT_PROMPT.system
    assert judge["version"] == f"{DEFAULT_PROMPT.version}/local/honest"
    assert judge["latest_probe_report"] is None
    # Without the key a second create with the name conflicts, naming the field.
    refused(client.post(f"{API}/judges", json=body, headers=manager.headers), 409, "name")

    url = f"{API}/judges/{judge['id']}"
    strict = {"name": "strict", "system": "Grade strictly."}
    second = ok(client.post(f"{url}/prompts", json=strict, headers=manager.headers))
    assert second["number"] == 2 and second["version"].startswith("strict@")
    assert second["criterion"] == DEFAULT_PROMPT.criterion
    # the same texts again add nothing
    same = ok(client.post(f"{url}/prompts", json=strict, headers=manager.headers))
    assert same["number"] == 2
    now = ok(client.get(url, headers=manager.headers))
    assert now["version"] == f"{second['version']}/local/honest" != judge["version"]
    versions = ok(client.get(f"{url}/prompts", headers=manager.headers))
    assert [v["number"] for v in versions] == [1, 2]
    listed = ok(client.get(f"{API}/judges", headers=manager.headers))
    assert [j["id"] for j in listed["items"]] == [judge["id"]]
    # the provider a judge calls cannot be deleted from under it
    refused(
        client.delete(f"{API}/providers/{provider['id']}", headers=manager.headers),
        409,
        "provider_id",
    )
    shown = [first, again, *(client.get(url, headers=manager.headers) for _ in range(1))]
    assert all(KEY not in r.text for r in shown) and KEY not in json.dumps([listed, versions])


def test_bad_judges_are_refused_naming_the_field(client, manager, provider):
    def post(**body: Any):
        return client.post(f"{API}/judges", json={"name": "j", **body}, headers=manager.headers)

    refused(post(model="m"), 422, "provider_id")
    refused(post(provider_id=provider["id"]), 422, "model")
    refused(post(provider_id="nope", model="m"), 404, "provider_id")
    refused(post(provider_id=provider["id"], model="m", temperature=5), 422, "temperature")
    no_response = DEFAULT_PROMPT.criterion.replace("{response}", "")
    refused(
        post(provider_id=provider["id"], model="m", prompt={"criterion": no_response}),
        422,
        "prompt.criterion",
    )
    refused(
        post(provider_id=provider["id"], model="m", prompt={"rubric": "{rubric} {oops"}),
        422,
        "prompt.rubric",
    )
    refused(post(panel={"members": ["nope"]}), 404, "panel.members[0]")
    single = make_judge(client, manager, provider, "one")
    panel = ok(post(name="p", panel={"members": [single["id"]]}))
    cascade = ok(post(name="c", cascade={"cheap": panel["id"], "strong": single["id"]}))
    refused(post(name="p2", panel={"members": [panel["id"]]}), 422, "panel.members[0]")
    refused(
        post(name="c2", cascade={"cheap": cascade["id"], "strong": single["id"]}),
        422,
        "cascade.cheap",
    )
    refused(post(name="c3", panel={"members": [single["id"]]}, model="m"), 422, "model")
    refused(
        client.post(
            f"{API}/judges/{panel['id']}/prompts", json={"name": "x"}, headers=manager.headers
        ),
        422,
        "judge_id",
    )
    assert panel["version"] == f"panel:majority[{single['version']}]"
    assert cascade["version"] == f"cascade[{panel['version']}>{single['version']};n=2;c=0.7]"


def probe(client, account, judge: dict[str, Any], **body: Any) -> dict[str, Any]:
    started = client.post(
        f"{API}/judges/{judge['id']}/probes", json={"cases": CASES, **body}, headers=account.headers
    )
    assert started.status_code == 202, started.text
    report = started.json()
    assert report["status"] == "queued" and report["job_id"]
    job = finished_job(client, account, report["job_id"])
    assert job["status"] == "succeeded", job
    return ok(
        client.get(f"{API}/judges/{judge['id']}/probes/{report['id']}", headers=account.headers)
    )


def test_the_probe_job_flags_a_gullible_judge_and_passes_an_honest_one(
    client, manager, provider, server, pool, caplog
):
    caplog.set_level(logging.DEBUG)
    fooled = make_judge(client, manager, provider, "gullible")
    fair = make_judge(client, manager, provider, "honest")

    report = probe(client, manager, fooled)
    assert report["status"] == "done" and report["flagged"] is True
    assert set(report["flagged_probes"]) == GAMED
    assert report["judge_version"] == fooled["version"]
    assert (report["baseline_score"], report["reference_score"]) == (0.0, 1.0)
    by_name = {p["name"]: p for p in report["probes"]}
    assert set(by_name) == set(PROBES)
    # every criterion met: case 1 (5 + 2 - 3) / 7 = 4/7, case 2 1; mean 11/14
    for name in GAMED:
        assert by_name[name]["inflation"] == pytest.approx(11 / 14)
        assert by_name[name]["credited"] == 4 and by_name[name]["flagged"]
    for name in set(PROBES) - GAMED:
        assert by_name[name]["inflation"] == 0.0 and not by_name[name]["flagged"]

    passed = probe(client, manager, fair, max_edits=2)
    assert passed["flagged"] is False and passed["flagged_probes"] == []
    assert all(p["inflation"] == 0.0 and p["credited"] == 0 for p in passed["probes"])
    curves = {c["kind"]: c for c in passed["perturbation"]}
    # negating the first sentence loses case 1's 5 points (2/7 left) and case 2's 4 (1/3 left);
    # two negations lose everything; irrelevant sentences change nothing
    assert curves["negate"]["scores"] == pytest.approx([1.0, (2 / 7 + 1 / 3) / 2, 0.0])
    assert curves["irrelevant"]["scores"] == [1.0, 1.0, 1.0]
    assert curves["irrelevant"]["fall_per_edit"] == 0.0
    assert curves["negate"]["fall_per_edit"] > 0.4
    assert len(passed["rewording"]) == 3
    assert all(v["mean_shift"] == 0.0 and v["flip_rate"] == 0.0 for v in passed["rewording"])

    shown = {
        j["name"]: j for j in ok(client.get(f"{API}/judges", headers=manager.headers))["items"]
    }
    assert shown["gullible"]["flagged"] is True
    assert (
        shown["gullible"]["latest_probe_report"]["flagged_probes"]
        == sorted(report["flagged_probes"])
        or set(shown["gullible"]["latest_probe_report"]["flagged_probes"]) == GAMED
    )
    assert shown["honest"]["flagged"] is False
    assert shown["honest"]["latest_probe_report"]["id"] == passed["id"]
    # every probe reached the stand-in as a judge question with the response in it
    responses = {sections(json.loads(r.body)).get("response") for r in server.requests}
    assert "" in responses and "N/A" in responses
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    reports = ok(client.get(f"{API}/judges/{fooled['id']}/probes", headers=manager.headers))
    assert [r["id"] for r in reports["items"]] == [report["id"]]
    assert KEY not in caplog.text


def test_the_newest_report_sets_the_flag(client, manager, pool):
    fooled = {"now": True}

    def answer(request: dict[str, Any]) -> str:
        return (gullible if fooled["now"] else honest)(FACTS)(request)

    with ChatCompletionsServer(answer) as server:
        body = {"name": "switching", "base_url": server.base_url}
        provider = ok(client.post(f"{API}/providers", json=body, headers=manager.headers))
        judge = make_judge(client, manager, provider, "judge")
        url = f"{API}/judges/{judge['id']}"
        first = probe(client, manager, judge, max_edits=0, rewording=False)
        assert first["flagged"] is True and first["perturbation"] == first["rewording"] == []
        assert ok(client.get(url, headers=manager.headers))["flagged"] is True
        fooled["now"] = False  # the provider's model was fixed
        second = probe(client, manager, judge, max_edits=0, rewording=False)
    assert second["flagged"] is False
    shown = ok(client.get(url, headers=manager.headers))
    assert shown["flagged"] is False and shown["latest_probe_report"]["id"] == second["id"]


def test_bad_probe_runs_and_drift_checks_name_the_field(client, manager, provider):
    judge = make_judge(client, manager, provider, "honest")
    url = f"{API}/judges/{judge['id']}"
    bad = [{**CASES[0], "rubric": [{"text": "x", "points": 0}]}]
    refused(
        client.post(f"{url}/probes", json={"cases": bad}, headers=manager.headers),
        422,
        "cases[0].rubric.criteria[0].points",
    )
    refused(client.post(f"{url}/probes", json={"cases": []}, headers=manager.headers), 422, "cases")
    series = [
        {"name": "ckpt-1", "rubric_score": 0.50, "independent_score": 0.40},
        {"name": "ckpt-2", "rubric_score": 0.60, "independent_score": 0.55},
        {"name": "ckpt-3", "rubric_score": 0.70, "independent_score": 0.50},
        {"name": "ckpt-4", "rubric_score": 0.80, "independent_score": 0.45},
    ]
    drift = ok(client.post(f"{url}/drift", json={"checkpoints": series}, headers=manager.headers))
    assert drift["drifting"] is True
    assert [(s["start"], s["end"]) for s in drift["steps"]] == [
        ("ckpt-2", "ckpt-3"),
        ("ckpt-3", "ckpt-4"),
    ]
    assert drift["overall"]["start"] == "ckpt-2" and drift["overall"]["end"] == "ckpt-4"
    assert drift["overall"]["rubric_delta"] == pytest.approx(0.2)
    assert drift["overall"]["independent_delta"] == pytest.approx(-0.1)
    steady = ok(
        client.post(f"{url}/drift", json={"checkpoints": series[:2]}, headers=manager.headers)
    )
    assert steady == {"drifting": False, "steps": [], "overall": None}
    refused(
        client.post(f"{url}/drift", json={"checkpoints": series[:1]}, headers=manager.headers),
        422,
        "checkpoints",
    )


def test_judges_do_not_exist_for_labelers_and_the_other_key_mode(
    client, accounts, manager, provider
):
    judge = make_judge(client, manager, provider, "honest")
    url = f"{API}/judges/{judge['id']}"
    labeler = accounts.make("labeler")
    reviewer = accounts.make("reviewer")
    for account in (labeler, reviewer):
        assert client.get(url, headers=account.headers).status_code == 404
        assert client.get(f"{url}/prompts", headers=account.headers).status_code == 404
        assert (
            client.post(f"{url}/probes", json={"cases": CASES}, headers=account.headers).status_code
            == 404
        )
        assert client.get(f"{API}/judges", headers=account.headers).status_code == 403
        assert (
            client.post(
                f"{API}/judges",
                json={"name": "x", "provider_id": provider["id"], "model": "m"},
                headers=account.headers,
            ).status_code
            == 403
        )
    assert client.get(url, headers=manager.test_headers).status_code == 404
    assert ok(client.get(f"{API}/judges", headers=manager.test_headers))["items"] == []
    # a test key cannot build a judge on a live provider
    refused(
        client.post(
            f"{API}/judges",
            json={"name": "t", "provider_id": provider["id"], "model": "m"},
            headers=manager.test_headers,
        ),
        404,
        "provider_id",
    )
    assert client.get(url).status_code == 401
