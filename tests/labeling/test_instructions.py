"""Generated instruction outlines: sections, per-label content, TODO prompts and escaping."""

from __future__ import annotations

import re

import pytest

from assay.labeling.instructions import escape_markdown, outline
from assay.labeling.task_types import TASK_TYPES
from assay.labeling.taxonomy import parse_taxonomy
from tests.labeling.test_taxonomy import VALID


def sections(text: str) -> list[str]:
    return re.findall(r"^##? (.+)$", text, flags=re.MULTILINE)


def section(text: str, title: str) -> str:
    """The body of `## title`, up to the next heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^#|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r} in:\n{text}"
    return match.group(1)


def test_image_outline_has_every_section_in_order():
    taxonomy = parse_taxonomy(VALID["image"], "image")
    text = outline(taxonomy, "image", "Street scenes")
    assert sections(text) == [
        "Street scenes",
        "Summary",
        "Workflow",
        "Rules",
        "Label: car",
        "Label: person",
        "Label: tree",
        "Links",
        "Attributes",
        "Examples",
    ]
    for title in ("Summary", "Workflow", "Rules", "Label: car", "Attributes", "Examples"):
        assert "TODO:" in section(text, title)


def test_a_keypoint_skeleton_is_listed_with_its_label():
    person = {
        "name": "person",
        "geometries": ["keypoints"],
        "keypoints": ["head", "hip", "left_foot"],
        "skeleton": [["head", "hip"], ["hip", "left_foot"]],
    }
    text = outline(parse_taxonomy({"labels": [person]}, "image"), "image", "p")
    assert "Skeleton: head - hip, hip - left\\_foot" in section(text, "Label: person")


def test_label_sections_list_geometries_and_one_line_per_attribute():
    text = outline(parse_taxonomy(VALID["image"], "image"), "image", "p")
    car = section(text, "Label: car")
    assert "Geometries: box, polygon" in car
    assert "- **occluded** (one of: no, yes; required)" in car
    assert (
        "- **visible\\_pct** (number from 0 to 100, in steps of 5; only when occluded is yes)"
        in car
    )
    person = section(text, "Label: person")
    assert "Keypoints: head, foot" in person
    assert "Skeleton" not in person
    assert "Attributes:" not in person
    attributes = section(text, "Attributes")
    assert "- **weather** (one of: sunny, rain; default: sunny)" in attributes
    assert "- **tags** (any of: night, blur)" in attributes
    assert "- **quality** (scale from 1 to 5)" in attributes
    assert "Answer for every annotation:\n- **note** (free text)" in attributes
    links = section(text, "Links")
    assert "- **drives**: from person to car" in links
    assert "  - **seat** (one of: front, back)" in links


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_every_task_type_gets_an_outline(task_type):
    taxonomy = parse_taxonomy(VALID[task_type], task_type)
    text = outline(taxonomy, task_type, "Project")
    for title in ("Summary", "Workflow", "Rules", "Attributes", "Examples"):
        assert title in sections(text)
    assert [s for s in sections(text) if s.startswith("Label: ")] == [
        f"Label: {label.name}" for label in taxonomy.labels
    ]


def test_llm_outlines_describe_criteria_and_comparison_options():
    rating = outline(parse_taxonomy(VALID["llm_rating"], "llm_rating"), "chat", "Chat")
    criteria = section(rating, "Criteria")
    assert "- **helpfulness**: from 1 to 3" in criteria
    assert "  - 1: bad\n  - 2: ok\n  - 3: good" in criteria
    comparison = outline(
        parse_taxonomy(VALID["llm_comparison"], "llm_comparison"), "llm_comparison", "Pairs"
    )
    workflow = section(comparison, "Workflow")
    assert "- **a**: response A is better" in workflow
    assert "**tie**" not in workflow  # the taxonomy sets allow_tie: false
    assert "No task-level attributes." in section(comparison, "Attributes")


def test_names_are_escaped_against_html_and_markdown():
    hostile = "<script>alert(1)</script> *bold* [x](http://e) & #h"
    taxonomy = parse_taxonomy(
        {
            "labels": [{"name": hostile, "description": "<img src=x onerror=y>"}],
            "global_attributes": [{"name": "a_b", "type": "choice", "choices": ["<b>", "`code`"]}],
        },
        "image",
    )
    text = outline(taxonomy, "image", "My <b>project</b>\n# injected")
    assert "<" not in text and ">" not in text
    assert (
        "&lt;script&gt;alert\\(1\\)&lt;/script&gt; \\*bold\\* \\[x\\]\\(http://e\\) &amp; \\#h"
        in text
    )
    assert text.startswith("# My &lt;b&gt;project&lt;/b&gt; \\# injected\n")
    assert "\n# injected" not in text
    assert "&lt;img src=x onerror=y&gt;" in text
    assert "- **a\\_b** (one of: &lt;b&gt;, \\`code\\`)" in text


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain name", "plain name"),
        ("a&b", "a&amp;b"),
        ("<x>", "&lt;x&gt;"),
        ("*_`#[]()!|~\\", "\\*\\_\\`\\#\\[\\]\\(\\)\\!\\|\\~\\\\"),
        ("line\nbreak", "line break"),
    ],
)
def test_escape_markdown(raw, escaped):
    assert escape_markdown(raw) == escaped
