"""The manager's pages in a real browser against a real `assay serve`: projects, a project's
overview with batches, the taxonomy editor (visual ↔ JSON, client and server errors), the
instructions editor (outline, live preview, versions), members, the pipeline, data upload by
drag and drop and the task table's filters; and that label names and instructions stay inert."""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from assay.labeling.synthetic import synthesize
from assay.labeling.taxonomy import parse_taxonomy
from tests.web.conftest import screenshot

API = "/api/v1"
XSS = '<img src=x onerror="window.__xss=1;alert(1)">'
TAXONOMY = {"labels": [{"name": "car", "geometries": ["box"]}]}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def api(live_server, manager) -> Iterator[httpx.Client]:
    """The public API as the manager (API key), for seeding and checking."""
    with httpx.Client(base_url=live_server.url + API, headers=manager.headers, timeout=30) as c:
        yield c


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def make_project(api: httpx.Client, name: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "task_type": "image", "taxonomy": TAXONOMY, **extra}
    return ok(api.post("/projects", json=body))


def log_in(page, url: str, account, next_path: str = "/projects") -> list[str]:
    """Log in through the form; returns the list that collects any JS dialog (none expected)."""
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"{url}/login?next={next_path}")
    page.get_by_label("Email").fill(account.user.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    return dialogs


def shot(page, name: str) -> None:
    """A full-page screenshot from the top (sticky bars would otherwise land mid-page)."""
    page.evaluate("window.scrollTo(0, 0); document.getElementById('toasts')?.replaceChildren()")
    screenshot(page, name)


def png(width: int, height: int, shade: int) -> bytes:
    """A real (tiny) PNG, so the server's sniffing and the browser's decoding both accept it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    rows = b"".join(b"\x00" + bytes([shade, 80, 255 - shade]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def label_some(api: httpx.Client, project: dict[str, Any], count: int) -> None:
    """Label `count` tasks through the queue, as a labeler would."""
    taxonomy = parse_taxonomy(project["taxonomy"], project["task_type"])
    for _ in range(count):
        lease = ok(api.post(f"/projects/{project['id']}/queue/next", params={"stage": "label"}))
        task = lease["task"]
        response = synthesize(taxonomy, project["task_type"], task["params"], seed=task["id"])
        ok(
            api.post(
                f"/tasks/{task['id']}/submit",
                json={"lease_token": lease["lease_token"], "response": response},
            )
        )


def test_projects_page_create_project_and_batches(page, live_server, manager, api):
    seeded = make_project(
        api,
        "Street scenes",
        task_type="categorization",
        taxonomy={"labels": [{"name": "day"}, {"name": "night"}]},
    )
    batch = ok(
        api.post(
            f"/projects/{seeded['id']}/batches", json={"name": "street-1", "kind": "production"}
        )
    )
    tasks = [{"params": {"text": f"scene {i}"}, "metadata": {"n": i}} for i in range(8)]
    bulk = {"batch": batch["id"], "tasks": tasks}
    ok(api.post(f"/projects/{seeded['id']}/tasks/bulk", json=bulk))
    ok(api.post(f"/batches/{batch['id']}/finalize"))
    label_some(api, seeded, 3)
    make_project(api, "Retail shelves")
    make_project(
        api,
        "Support chats",
        task_type="llm_rating",
        taxonomy={"criteria": [{"name": "Helpfulness"}]},
    )

    log_in(page, live_server.url, manager)
    card = page.get_by_role("listitem").filter(has_text="Street scenes")
    expect(card.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "3")
    expect(card).to_contain_text("3 / 8 completed")
    shot(page, "manager-projects")

    page.get_by_role("button", name="New project").click()
    dialog = page.get_by_role("dialog", name="New project")
    dialog.get_by_label("Name").fill("Parking lots")
    dialog.get_by_label("Task type").select_option("image")
    dialog.get_by_label("Labels").fill("car\ntruck")
    dialog.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Parking lots", level=1)).to_be_visible()
    created = [p for p in ok(api.get("/projects"))["items"] if p["name"] == "Parking lots"]
    assert [label["name"] for label in created[0]["taxonomy"]["labels"]] == ["car", "truck"]

    # A second project with the same name: the server's field error shows on the name.
    page.goto(live_server.url + "/projects")
    page.get_by_role("button", name="New project").click()
    dialog = page.get_by_role("dialog", name="New project")
    dialog.get_by_label("Name").fill("Parking lots")
    dialog.get_by_role("button", name="Create project").click()
    expect(dialog.get_by_role("alert")).to_contain_text("needs at least one label")
    expect(dialog.get_by_label("Labels")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Labels").fill("van")
    dialog.get_by_role("button", name="Create project").click()
    expect(dialog.get_by_role("alert")).to_contain_text("already exists")
    expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_role("button", name="Cancel").click()

    # Launch a self-label batch, then see it in the overview with its state.
    page.get_by_role("link", name="Open Street scenes").click()
    expect(page.get_by_role("list", name="Batches")).to_contain_text("street-1")
    page.get_by_role("button", name="Launch batch").click()
    dialog = page.get_by_role("dialog", name="Launch a batch")
    dialog.get_by_label("Kind").select_option("self_label")
    dialog.get_by_label("Name").fill("try-out")
    dialog.get_by_role("button", name="Create batch").click()
    expect(page.get_by_role("tab", name="Data")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="Overview").click()
    row = page.get_by_role("listitem").filter(has_text="try-out")
    expect(row).to_contain_text("Self-label")
    expect(row).to_contain_text("staging")
    shot(page, "manager-project")
    row.get_by_role("button", name="Finalize try-out").click()
    expect(page.get_by_role("listitem").filter(has_text="try-out")).to_contain_text("completed")


def test_taxonomy_editor_json_view_and_field_errors(page, live_server, manager, api):
    project = make_project(api, "Editor")
    dialogs = log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=taxonomy")
    json_view = page.get_by_label("Taxonomy JSON")
    expect(json_view).to_have_value(json.dumps(project["taxonomy"], indent=2))

    page.get_by_role("button", name="Add label").click()
    page.get_by_label("Label 2 name").fill("person")
    page.get_by_label("Label 2 geometry polygon").check()
    expect(json_view).to_have_value(re.compile(r'"name": "person"'))
    assert json.loads(json_view.input_value())["labels"][1]["geometries"] == ["polygon"]

    # A client-side check while typing: a duplicate name is named at its field, no save.
    page.get_by_label("Label 2 name").fill("car")
    inline = page.locator("p.field-error", has_text="Name of label 2")
    expect(inline).to_have_text("Name of label 2 “car”: duplicate label name “car”")
    expect(page.get_by_label("Label 2 name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Save taxonomy")).to_be_disabled()
    page.get_by_label("Label 2 name").fill("person")

    # An attribute with a condition, edited visually.
    label_two = page.get_by_role("listitem").filter(has=page.get_by_label("Label 2 name"))
    label_two.get_by_text("Attributes of this label").click()
    label_two.get_by_role("button", name="Add attribute").click()
    page.get_by_label("Label 2 attribute 1 name").fill("pose")
    page.get_by_label("Label 2 attribute 1 choices").fill("standing\nsitting")
    label_two.get_by_role("button", name="Add attribute").click()
    page.get_by_label("Label 2 attribute 2 name").fill("height")
    page.get_by_label("Label 2 attribute 2 type").select_option("linear_scale")
    page.get_by_label("Label 2 attribute 2 has a condition").check()
    page.get_by_label("Label 2 attribute 2 condition attribute").select_option("pose")
    page.get_by_label("Label 2 attribute 2 condition values").fill("standing")
    attrs = json.loads(json_view.input_value())["labels"][1]["attributes"]
    assert attrs[1] == {
        "name": "height",
        "type": "linear_scale",
        "min": 1,
        "max": 5,
        "condition": {"attribute": "pose", "in": ["standing"]},
    }

    # The server's check on save: an invalid default is a 422 naming the field.
    page.get_by_label("Label 2 attribute 1 default").fill("lying")
    page.get_by_role("button", name="Save taxonomy").click()
    error = page.get_by_role("alert").filter(
        has_text="Default of attribute 1 “pose” of label 2 “person”"
    )
    expect(error).to_contain_text("not a choice")
    default = page.get_by_label("Label 2 attribute 1 default")
    expect(default).to_have_attribute("aria-invalid", "true")
    default.fill("sitting")
    page.get_by_role("button", name="Save taxonomy").click()
    expect(page.locator(".tx-summary")).to_have_text("Valid Saved")
    saved = ok(api.get(f"/projects/{project['id']}"))["taxonomy"]
    assert saved["labels"][1]["attributes"][0]["default"] == "sitting"

    # Editing the JSON repaints the visual editor; a label name with markup stays text.
    payload = {**saved, "labels": [*saved["labels"], {"name": XSS}]}
    json_view.fill(json.dumps(payload, indent=2))
    expect(page.get_by_label("Label 3 name")).to_have_value(XSS)
    page.get_by_role("button", name="Save taxonomy").click()
    expect(page.locator(".tx-summary")).to_have_text("Valid Saved")
    shot(page, "manager-taxonomy")

    # Broken JSON is reported and blocks saving.
    json_view.fill('{"labels": [')
    expect(page.get_by_text("JSON: ")).to_be_visible()
    expect(page.get_by_role("button", name="Save taxonomy")).to_be_disabled()

    # The label name (with markup) through the generated outline and the preview: inert.
    # (Leaving the broken, unsaved JSON asks first.)
    page.get_by_role("tab", name="Instructions").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave without saving").click()
    expect(page.get_by_label("Instructions (markdown)")).to_be_visible()
    ok(api.put(f"/projects/{project['id']}/instructions", json={"body": f"# Labels\n\n{XSS}"}))
    page.reload()
    expect(page.locator(".md-preview h1")).to_have_text("Labels")
    assert page.locator("img[onerror]").count() == 0
    assert page.evaluate("window.__xss") is None and dialogs == []


def test_instructions_outline_preview_versions_and_xss(page, live_server, manager, api):
    project = make_project(api, "Docs")
    dialogs = log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=instructions")
    outline = page.get_by_role("navigation", name="Outline")
    # New projects start from the outline the server generates from the taxonomy.
    expect(outline.get_by_role("link", name="Label: car")).to_be_visible()
    expect(page.get_by_label("Preview").locator("h1")).to_have_text("Docs")
    shot(page, "manager-instructions")
    editor = page.get_by_label("Instructions (markdown)")
    body = (
        "# Guide\n\n## Boxes\n\nDraw **tight** boxes; see [the wiki](https://example.test/w).\n\n"
        f"{XSS}\n\n<script>window.__xss=2</script>\n\n"
        '[click](javascript:window.__xss=3) <a href="#" onclick="window.__xss=4">x</a>\n\n'
        '<iframe src="javascript:window.__xss=5"></iframe>\n'
    )
    editor.fill(body)
    preview = page.get_by_label("Preview")
    expect(preview.locator("h2")).to_have_text(["Boxes"])
    expect(preview.locator("strong")).to_have_text("tight")
    expect(outline.get_by_role("link", name="Boxes")).to_be_visible()
    expect(outline.get_by_role("link", name="Label: car")).to_have_count(0)
    link = preview.get_by_role("link", name="the wiki")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert preview.locator("script, iframe, [onerror], [onclick]").count() == 0
    expect(preview.locator("a", has_text="click")).not_to_have_attribute("href", re.compile("."))
    preview.get_by_role("link", name="x").click()
    assert page.evaluate("window.__xss") is None and dialogs == []

    page.get_by_role("button", name="Publish new version").click()
    expect(page.get_by_text("Instructions v2 published")).to_be_visible()
    versions = ok(api.get(f"/projects/{project['id']}/instructions"))["items"]
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["body"] == body
    expect(page.get_by_label("Version")).to_have_value("2")
    # An earlier version loads into the editor; publishing it restores it.
    page.get_by_label("Version").select_option("1")
    expect(outline.get_by_role("link", name="Label: car")).to_be_visible()
    expect(page.get_by_role("button", name="Publish new version")).to_be_enabled()


def test_upload_by_drag_and_drop_then_filter_the_task_table(page, live_server, manager, api):
    project = make_project(api, "Uploads")
    dialogs = log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=data")
    zone = page.locator(".dropzone")
    expect(zone).to_be_visible()
    files = [
        {"name": name, "data": base64.b64encode(png(4 + i, 3, 60 * i)).decode()}
        for i, name in enumerate(["a.png", "b.png", "c.png"])
    ]
    # A real drop event carrying a DataTransfer with the three files.
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: "image/png" }));
            }
            return transfer;
        }""",
        files,
    )
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.get_by_text("Done: 3 tasks created.")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Upload progress")).to_have_attribute("value", "1")
    shot(page, "manager-upload")
    created = ok(api.get("/tasks", params={"project_id": project["id"]}))["items"]
    assert sorted(t["metadata"]["filename"] for t in created) == ["a.png", "b.png", "c.png"]
    assert {t["params"]["image_width"] for t in created} == {4, 5, 6}
    assert all(t["params"]["attachment"].startswith("blob:") for t in created)

    # A JSONL file of URLs goes through the import job, with progress polled to the end.
    lines = [
        json.dumps(
            {
                "params": {"attachment": f"https://example.test/{i}.jpg"},
                "metadata": {"source": "jsonl", "n": i},
            }
        )
        for i in range(4)
    ]
    page.locator("input[type=file]").set_input_files(
        {
            "name": "more.jsonl",
            "mimeType": "application/x-ndjson",
            "buffer": ("\n".join(lines) + "\n").encode(),
        }
    )
    expect(page.get_by_text("Imported: 4 lines: 4 created")).to_be_visible(timeout=20_000)

    page.get_by_role("button", name="View tasks").click()
    table = page.get_by_role("table", name="Tasks")
    expect(table.locator("tbody tr")).to_have_count(7)
    shot(page, "manager-tasks")
    page.get_by_label("Search metadata").fill("filename=b.png")
    page.get_by_label("Search metadata").press("Enter")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("filename: b.png")
    page.get_by_label("Search metadata").fill("source=jsonl, n=2")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("2.jpg")
    page.get_by_label("Search metadata").fill("")
    page.get_by_label("Status").select_option("completed")
    expect(table).to_contain_text("No tasks match")
    page.get_by_label("Status").select_option("pending")
    page.get_by_label("Stage").select_option("label")
    expect(table.locator("tbody tr")).to_have_count(7)
    page.get_by_label("Search metadata").fill("filename=z.png")
    page.get_by_label("Search metadata").press("Enter")
    expect(table).to_contain_text("No tasks match")

    # Cursor pagination: 50 a page, "Load more" fetches the rest.
    more = [{"params": {"attachment": f"https://example.test/m{i}.jpg"}} for i in range(50)]
    more[-1]["metadata"] = {"note": XSS}
    more[-1]["unique_id"] = XSS
    ok(api.post(f"/projects/{project['id']}/tasks/bulk", json={"tasks": more}))
    page.get_by_label("Search metadata").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(50)
    page.get_by_role("button", name="Load more").click()
    expect(table.locator("tbody tr")).to_have_count(57)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    # Task text shows as text; the detail dialog has the params and the (empty) history.
    expect(table.get_by_role("button", name=XSS)).to_be_visible()
    expect(table.get_by_text(f"note: {XSS}")).to_be_visible()
    assert page.locator("img[onerror]").count() == 0
    table.get_by_role("button", name=XSS).click()
    detail = page.get_by_role("dialog")
    expect(detail).to_contain_text("https://example.test/m49.jpg")
    expect(detail).to_contain_text("Nothing happened to this task yet.")
    page.keyboard.press("Escape")
    expect(detail).to_have_count(0)
    assert page.evaluate("window.__xss") is None and dialogs == []


def test_members_pipeline_and_what_a_labeler_sees(
    page, browser, live_server, manager, api, accounts
):
    labeler = accounts.make("labeler")
    project = make_project(api, "Team")
    log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=members")
    form = page.get_by_role("form", name="Add a member")
    form.get_by_label("User").select_option(labeler.user.id)
    form.get_by_label("Role").select_option("labeler")
    form.get_by_role("button", name="Add member").click()
    members = page.get_by_role("table", name="Members")
    expect(members).to_contain_text(labeler.user.email)
    members.get_by_label(f"Role of {labeler.user.email}").select_option("reviewer")
    expect(page.get_by_text("Role changed to reviewer")).to_be_visible()
    assert ok(api.get(f"/projects/{project['id']}/members"))["items"][0]["role"] == "reviewer"

    page.get_by_role("tab", name="Pipeline").click()
    page.get_by_role("button", name="Add review stage").click()
    page.get_by_label("Stage 2 review sample rate (%)").fill("25")
    page.get_by_label("Stage 2 name").fill("Bad Name")
    page.get_by_role("button", name="Save pipeline").click()
    expect(page.get_by_role("alert")).to_contain_text("Name: ")  # its control's label
    expect(page.get_by_role("alert")).not_to_contain_text("pipeline.stages")
    page.get_by_label("Stage 2 name").fill("qa")
    page.get_by_role("button", name="Save pipeline").click()
    expect(page.get_by_text("Pipeline saved")).to_be_visible()
    stages = ok(api.get(f"/projects/{project['id']}"))["pipeline"]["stages"]
    assert stages[1] == {"name": "qa", "kind": "review", "sample_rate": 0.25}
    expect(page.get_by_role("link", name="Review (qa)")).to_be_visible()

    # The labeler (a reviewer here) sees the project with its work buttons, no management.
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = other.new_page()
        log_in(tab, live_server.url, labeler)
        card = tab.get_by_role("listitem").filter(has_text="Team")
        expect(card.get_by_role("link", name="Start labeling · Team")).to_have_attribute(
            "href", f"/label/{project['id']}?stage=label"
        )
        expect(card.get_by_role("link", name="Review · Team")).to_have_attribute(
            "href", f"/review/{project['id']}?stage=qa"
        )
        expect(tab.get_by_role("button", name="New project")).to_have_count(0)
        expect(card.get_by_role("progressbar")).to_have_count(0)
    finally:
        other.close()
    # Removing the member.
    page.get_by_role("tab", name="Members").click()
    page.get_by_role("button", name=f"Remove {labeler.user.email}").click()
    page.get_by_role("dialog", name="Remove member").get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No members yet")).to_be_visible()


def test_app_pages_need_a_session_and_keep_the_path(page, live_server, manager, api):
    project = make_project(api, "Deep link")
    target = f"/projects/{project['id']}?tab=tasks"
    page.goto(live_server.url + target)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(manager.user.email)
    page.get_by_label("Password").fill(manager.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("tab", name="Tasks")).to_have_attribute("aria-selected", "true")
    assert page.url == live_server.url + target
    # Tabs are keyboard reachable: arrow keys move between them.
    page.get_by_role("tab", name="Tasks").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Data")).to_be_focused()
    expect(page.get_by_role("tab", name="Data")).to_have_attribute("aria-selected", "true")
    page.go_back()
    expect(page.get_by_role("tab", name="Tasks")).to_have_attribute("aria-selected", "true")


def test_a_reviewed_task_becomes_an_evaluation_task_from_its_detail(
    page, live_server, manager, api, accounts
):
    reviewed = {"stages": [{"name": "label", "kind": "label"}, {"name": "qa", "kind": "review"}]}
    project = make_project(
        api,
        "Gold from real work",
        pipeline=reviewed,
        params={"image_width": 64, "image_height": 48},
    )
    ok(
        api.post(
            f"/projects/{project['id']}/tasks/bulk",
            json={
                "tasks": [{"unique_id": "photo-1", "params": {"attachment": "https://x.org/1.png"}}]
            },
        )
    )
    labeler = accounts.make("labeler")
    ok(api.put(f"/projects/{project['id']}/members/{labeler.user.id}", json={"role": "labeler"}))
    with httpx.Client(base_url=live_server.url + "/api/v1", headers=labeler.headers) as as_labeler:
        label_some(as_labeler, project, 1)
    lease = ok(api.post(f"/projects/{project['id']}/queue/next", params={"stage": "qa"}))
    ok(
        api.post(
            f"/tasks/{lease['task']['id']}/review",
            json={"lease_token": lease["lease_token"], "decision": "accept"},
        )
    )
    log_in(page, live_server.url, manager, f"/projects/{project['id']}?tab=tasks")
    page.get_by_role("button", name="photo-1").click()
    dialog = page.get_by_role("dialog", name="Task photo-1")
    dialog.get_by_role("button", name="Make evaluation task").click()
    expect(page.get_by_text("created from this task")).to_be_visible()
    (gold,) = ok(api.get(f"/projects/{project['id']}/quality_tasks"))["items"]
    assert gold["kind"] == "evaluation" and gold["metadata"]["source_task"] == lease["task"]["id"]
    task = ok(api.get(f"/tasks/{lease['task']['id']}"))
    assert gold["expected_response"] == task["response"]


def test_calibration_report_from_the_batch_list(page, live_server, manager, api, accounts):
    project = make_project(
        api,
        "Calibrated",
        task_type="categorization",
        taxonomy={"labels": [{"name": "cat"}, {"name": "dog"}]},
    )
    batch = ok(
        api.post(
            f"/projects/{project['id']}/batches", json={"name": "calib-1", "kind": "calibration"}
        )
    )
    expected = {"annotations": [{"type": "category", "label": "cat"}]}
    ok(
        api.post(
            f"/projects/{project['id']}/tasks/bulk",
            json={
                "batch": batch["id"],
                "tasks": [{"params": {"text": "a cat?"}, "expected_response": expected}],
            },
        )
    )
    ok(api.post(f"/batches/{batch['id']}/finalize"))
    labeler = accounts.make("labeler")
    ok(api.put(f"/projects/{project['id']}/members/{labeler.user.id}", json={"role": "labeler"}))
    with httpx.Client(base_url=live_server.url + "/api/v1", headers=labeler.headers) as as_labeler:
        lease = ok(as_labeler.post(f"/projects/{project['id']}/queue/next"))
        ok(
            as_labeler.post(
                f"/tasks/{lease['task']['id']}/submit",
                json={
                    "lease_token": lease["lease_token"],
                    "response": {"annotations": [{"type": "category", "label": "dog"}]},
                    "feedback": "Cartoons: cat or not?",
                },
            )
        )
    log_in(page, live_server.url, manager, f"/projects/{project['id']}")
    page.get_by_role("button", name="Calibration report of calib-1").click()
    dialog = page.get_by_role("dialog", name="Calibration report: calib-1")
    scores = dialog.get_by_role("table", name="Scores by labeler")
    expect(scores).to_contain_text(labeler.user.email)
    expect(scores).to_contain_text("0%")
    row = dialog.get_by_role("table", name="Disagreements").locator("tbody tr")
    expect(row).to_contain_text("cat")
    expect(row).to_contain_text("dog")
    expect(dialog).to_contain_text("Cartoons: cat or not?")
    shot(page, "manager-calibration-report")
