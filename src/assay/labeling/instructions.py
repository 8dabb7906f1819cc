"""A first draft of labeler instructions, generated from the taxonomy for the manager to edit."""

from __future__ import annotations

import re

from assay.labeling.annotations import allowed_comparison_choices
from assay.labeling.attributes import format_number
from assay.labeling.task_types import native_type
from assay.labeling.taxonomy import AttributeDef, Taxonomy

# Characters that start markdown syntax anywhere in a line; names are user input.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f]+")

_SUMMARY = {
    "image": "Draw a shape around every object of the labels below.",
    "video": "Follow every object of the labels below through the video, frame by frame.",
    "categorization": "Choose the category that fits the item.",
    "text_spans": "Mark the spans of text that belong to the labels below.",
    "transcription": "Transcribe the content exactly as it appears.",
    "text_collection": "Write the requested text answers.",
    "llm_rating": "Rate each model response on every criterion below.",
    "llm_ranking": "Rank the model responses from best to worst.",
    "llm_comparison": "Compare the two model responses and choose the better one.",
    "rubric_grading": "Say for each criterion whether the response meets it.",
}

_WORKFLOW = {
    "image": [
        "Look at the whole image before drawing.",
        "Draw one shape per object, using a geometry its label allows.",
        "Fill in the attributes of each shape, then the task attributes.",
    ],
    "video": [
        "Watch the whole clip once before drawing.",
        "Draw each object on its first frame, then adjust it on later keyframes.",
        "Keep one track per object for as long as it is visible.",
    ],
    "categorization": [
        "Read or look at the whole item.",
        "Choose the category that fits best.",
        "Fill in the attributes, then submit.",
    ],
    "text_spans": [
        "Read the whole text once.",
        "Select each span and give it a label; a span covers whole words.",
        "Fill in the attributes of each span.",
    ],
    "transcription": [
        "Read the whole item once.",
        "Type the text exactly as written, keeping spelling and punctuation.",
    ],
    "text_collection": [
        "Read the prompt and any context.",
        "Write each answer in the field it belongs to.",
    ],
    "llm_rating": [
        "Read the prompt and every response in full.",
        "Rate each response on every criterion, independently of the others.",
    ],
    "llm_ranking": [
        "Read the prompt and every response in full.",
        "Order the responses from best (first) to worst (last).",
    ],
    "llm_comparison": [
        "Read the prompt and both responses in full.",
        "Choose the better response, or one of the other options below.",
    ],
    "rubric_grading": [
        "Read the conversation and the response in full.",
        "For each criterion, say met or not met, judging that criterion alone.",
        "Add a comment where the verdict is a close call.",
    ],
}

_COMPARISON_WORDS = {
    "a": "response A is better",
    "b": "response B is better",
    "tie": "both are equally good or bad",
    "both_good": "both are good",
    "both_bad": "both are bad",
}


def escape_markdown(text: str) -> str:
    """Make user text inert in markdown: no HTML, no emphasis, links or headings."""
    text = _LINE_BREAKS.sub(" ", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def outline(taxonomy: Taxonomy, task_type: str, project_name: str) -> str:
    """Markdown instructions with one section per label and TODO prompts for the manager."""
    task_type = native_type(task_type)
    lines: list[str] = [f"# {escape_markdown(project_name)}", ""]
    lines += [
        "## Summary",
        "",
        _SUMMARY[task_type],
        "",
        "TODO: say in two sentences what is being labeled, why, and what matters most.",
        "",
        "## Workflow",
        "",
    ]
    lines += [f"{n}. {step}" for n, step in enumerate(_WORKFLOW[task_type], start=1)]
    if task_type == "llm_comparison":
        lines += ["", "Options:"]
        lines += [
            f"- **{c}**: {_COMPARISON_WORDS[c]}" for c in allowed_comparison_choices(taxonomy)
        ]
    lines += ["", "TODO: add the steps specific to this project.", ""]
    lines += [
        "## Rules",
        "",
        "TODO: list the rules labelers must follow (what to skip, how precise to be, "
        "how to handle unclear cases).",
        "",
    ]
    for label in taxonomy.labels:
        name = escape_markdown(label.name)
        lines += [f"## Label: {name}", ""]
        if label.description:
            lines += [escape_markdown(label.description), ""]
        lines.append(f"Geometries: {', '.join(label.geometries)}")
        if label.keypoints:
            lines.append(f"Keypoints: {', '.join(escape_markdown(k) for k in label.keypoints)}")
        if label.skeleton:
            edges = (f"{escape_markdown(a)} - {escape_markdown(b)}" for a, b in label.skeleton)
            lines.append(f"Skeleton: {', '.join(edges)}")
        if label.attributes:
            lines += ["", "Attributes:"]
            lines += [_attribute_line(attr) for attr in label.attributes]
        lines += ["", f"TODO: describe what counts as a {name}, with borderline cases.", ""]
    if taxonomy.criteria:
        lines += ["## Criteria", ""]
        for criterion in taxonomy.criteria:
            line = (
                f"- **{escape_markdown(criterion.name)}**: from {criterion.min} to {criterion.max}"
            )
            if criterion.description:
                line += f"; {escape_markdown(criterion.description)}"
            lines.append(line)
            for point, caption in enumerate(criterion.labels, start=criterion.min):
                lines.append(f"  - {point}: {escape_markdown(caption)}")
        lines += ["", "TODO: give an example response for the top and bottom of each scale.", ""]
    if taxonomy.links:
        lines += ["## Links", ""]
        for link in taxonomy.links:
            ends = (
                f"from {_names(link.from_labels) or 'any label'} "
                f"to {_names(link.to_labels) or 'any label'}"
            )
            lines.append(f"- **{escape_markdown(link.name)}**: {ends}")
            lines += [f"  {_attribute_line(attr)}" for attr in link.attributes]
        lines += ["", "TODO: explain when two annotations should be linked.", ""]
    lines += ["## Attributes", ""]
    if taxonomy.global_attributes:
        lines.append("Answer once per task:")
        lines += [_attribute_line(attr) for attr in taxonomy.global_attributes]
        lines.append("")
    if taxonomy.attributes:
        lines.append("Answer for every annotation:")
        lines += [_attribute_line(attr) for attr in taxonomy.attributes]
        lines.append("")
    if not taxonomy.global_attributes and not taxonomy.attributes:
        lines += ["No task-level attributes.", ""]
    lines += ["TODO: explain how to choose between similar values.", ""]
    lines += [
        "## Examples",
        "",
        "TODO: add at least one good and one bad example, with a screenshot or a sample "
        "answer and a sentence on why.",
        "",
    ]
    return "\n".join(lines)


def _names(names: list[str]) -> str:
    return ", ".join(escape_markdown(n) for n in names)


def _attribute_line(attr: AttributeDef) -> str:
    parts = [_attribute_kind(attr)]
    if attr.required:
        parts.append("required")
    if attr.default is not None:
        parts.append(f"default: {escape_markdown(str(attr.default))}")
    if attr.condition is not None:
        values = " or ".join(escape_markdown(str(v)) for v in attr.condition.values)
        parts.append(f"only when {escape_markdown(attr.condition.attribute)} is {values}")
    line = f"- **{escape_markdown(attr.name)}** ({'; '.join(parts)})"
    if attr.description:
        line += f": {escape_markdown(attr.description)}"
    return line


def _attribute_kind(attr: AttributeDef) -> str:
    if attr.type == "choice":
        return f"one of: {_names(attr.choices)}"
    if attr.type == "multi_choice":
        return f"any of: {_names(attr.choices)}"
    if attr.type == "text":
        return "free text"
    if attr.type == "linear_scale":
        return f"scale from {attr.min} to {attr.max}"
    low, high = attr.min, attr.max
    if low is not None and high is not None:
        text = f"number from {format_number(low)} to {format_number(high)}"
    elif low is not None:
        text = f"number, at least {format_number(low)}"
    elif high is not None:
        text = f"number, at most {format_number(high)}"
    else:
        text = "number"
    if attr.step is not None:
        text += f", in steps of {format_number(attr.step)}"
    return text
