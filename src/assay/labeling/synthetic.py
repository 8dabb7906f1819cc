"""Deterministic synthetic responses for sandbox (test-key) tasks, which complete at once.

The same taxonomy, params and seed always give the same response, and it always passes
`validate_response`: the result is returned through it, so a bug here is loud, not stored.
"""

from __future__ import annotations

import math
import random
from typing import Any

from assay.labeling import rubric_grading
from assay.labeling.annotations import (
    allowed_comparison_choices,
    validate_params,
    validate_response,
)
from assay.labeling.attributes import AttributeScope, condition_holds
from assay.labeling.geometry import Limits
from assay.labeling.task_types import GEOMETRIES, native_type
from assay.labeling.taxonomy import AttributeDef, LabelDef, Taxonomy
from assay.labeling.taxonomy_index import taxonomy_index

# Canvas used when the params do not give the media size.
_DEFAULT_SIZE = 100
_DEFAULT_FRAMES = 10


def synthesize(taxonomy: Taxonomy, task_type: str, params: dict, *, seed: str) -> dict:
    """A valid response, the same for the same inputs (seed it with e.g. the task id)."""
    task_type = native_type(task_type)
    params = validate_params(taxonomy, task_type, params)
    builder = _Builder(taxonomy, task_type, Limits.from_params(params), f"assay:{seed}")
    if task_type == "rubric_grading":
        builder.criteria = rubric_grading.check_params(params)
    return validate_response(taxonomy, task_type, params, builder.response())


class _Builder:
    def __init__(self, taxonomy: Taxonomy, task_type: str, limits: Limits, seed: str) -> None:
        self.taxonomy = taxonomy
        self.index = taxonomy_index(taxonomy)
        self.task_type = task_type
        self.limits = limits
        # Seeding with a string is stable across runs and Python versions (sha512 based).
        self.rng = random.Random(seed)
        self.width = limits.width or _DEFAULT_SIZE
        self.height = limits.height or _DEFAULT_SIZE
        self.annotations: list[dict] = []
        self.tracks = 0
        self.criteria: tuple[str, ...] = ()

    def response(self) -> dict:
        rng = self.rng
        kind = self.task_type
        labels = self.taxonomy.labels
        if kind in ("image", "video", "text_spans"):
            for _ in range(rng.randint(1, 3)):
                self.add(rng.choice(labels))
        elif kind == "categorization":
            count = rng.randint(1, min(3, len(labels))) if self.taxonomy.multi_select else 1
            for label in rng.sample(labels, count):
                self.add(label)
        elif kind in ("transcription", "text_collection"):
            self.add(rng.choice(labels) if labels else None)
        elif kind == "llm_rating":
            for index in range(max(self.limits.responses or 0, 1)):
                for criterion in self.taxonomy.criteria:
                    value = rng.randint(criterion.min, criterion.max)
                    self.add_unlabeled(
                        {"criterion": criterion.name, "value": value, "response_index": index}
                    )
        elif kind == "llm_ranking":
            order = list(range(self.limits.responses or 0))
            rng.shuffle(order)
            self.add_unlabeled({"order": order})
        elif kind == "llm_comparison":
            self.add_unlabeled({"choice": rng.choice(allowed_comparison_choices(self.taxonomy))})
        elif kind == "rubric_grading":
            for criterion in self.criteria:
                self.add_unlabeled({"criterion": criterion, "met": rng.random() < 0.5})
        links = [link for link in (self.link(d) for d in self.taxonomy.links) if link]
        return {
            "annotations": self.annotations,
            "global_attributes": self.attributes(self.index.global_),
            "links": links,
        }

    # --- annotations ---

    def new_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def add_unlabeled(self, fields: dict) -> None:
        kind = GEOMETRIES[self.task_type][0]
        attributes = self.attributes(self.index.common)
        self.annotations.append(
            {"id": self.new_id(), "type": kind, **fields, "attributes": attributes}
        )

    def add(self, label: LabelDef | None) -> dict | None:
        """Add one annotation of `label`; None when no geometry of it fits the media."""
        possible = [
            g
            for g in (label.geometries if label else GEOMETRIES[self.task_type])
            if g in GEOMETRIES[self.task_type] and self.fits(g)
        ]
        if not possible:
            return None
        kind = self.rng.choice(possible)
        fields = self.shape(kind, label)
        ann: dict[str, Any] = {"id": self.new_id(), "type": kind}
        scope = self.index.common
        if label is not None:
            ann["label"] = label.name
            scope = self.index.labels[label.name].scope
        ann.update(fields)
        ann["attributes"] = self.attributes(scope)
        if self.task_type == "video":
            ann.update(self.video_frame())
        self.annotations.append(ann)
        return ann

    def fits(self, kind: str) -> bool:
        if kind == "mask":  # RLE sizes are whole pixels and must equal the image size
            return all(
                v is None or float(v).is_integer() for v in (self.limits.width, self.limits.height)
            )
        if kind == "span":
            return bool(self.limits.text)
        return True

    def video_frame(self) -> dict:
        frames = self.limits.frame_count or _DEFAULT_FRAMES
        self.tracks += 1
        return {"frame": self.rng.randrange(frames), "track_id": f"track-{self.tracks}"}

    def shape(self, kind: str, label: LabelDef | None) -> dict:
        rng = self.rng
        if kind == "box":
            return self.box(0.0, 1.0)
        if kind in ("polygon", "line"):
            count = rng.randint(3, 6) if kind == "polygon" else rng.randint(2, 4)
            return {"vertices": [self.point() for _ in range(count)]}
        if kind == "point":
            return self.point()
        if kind == "keypoints":
            assert label is not None
            return {
                "points": [
                    {"name": name, **self.point(), "visible": rng.random() < 0.8}
                    for name in label.keypoints
                ]
            }
        if kind == "ellipse":
            return {
                "cx": rng.uniform(0, self.width),
                "cy": rng.uniform(0, self.height),
                "rx": self.width * rng.uniform(0.01, 0.2),
                "ry": self.height * rng.uniform(0.01, 0.2),
                "rotation": round(rng.uniform(0, 180), 1),
            }
        if kind == "cuboid":
            return {"front": self.box(0.0, 0.6), "back": self.box(0.4, 1.0)}
        if kind == "mask":
            return {"rle": self.mask()}
        if kind == "span":
            return self.span()
        if kind == "category":
            return {}
        return {"text": f"synthetic answer {rng.randint(1, 999)}"}

    def point(self) -> dict:
        return {"x": self.rng.uniform(0, self.width), "y": self.rng.uniform(0, self.height)}

    def box(self, low: float, high: float) -> dict:
        """A box inside the [low, high] fraction of the canvas on both axes."""
        rng = self.rng
        span = high - low
        x0, x1 = sorted(rng.uniform(0.02, 0.98) for _ in range(2))
        y0, y1 = sorted(rng.uniform(0.02, 0.98) for _ in range(2))
        left, top = low + span * x0, low + span * y0
        width = span * max(x1 - x0, 0.01)
        height = span * max(y1 - y0, 0.01)
        return {
            "x": self.width * left,
            "y": self.height * top,
            "width": self.width * width,
            "height": self.height * height,
        }

    def mask(self) -> dict:
        height = int(self.limits.height or 10)
        width = int(self.limits.width or 10)
        total = height * width
        start = self.rng.randrange(total)
        length = self.rng.randint(1, total - start)
        return {"size": [height, width], "counts": [start, length, total - start - length]}

    def span(self) -> dict:
        text = self.limits.text or ""
        start = self.rng.randrange(len(text))
        end = self.rng.randint(start + 1, min(len(text), start + 30))
        return {"start": start, "end": end}

    # --- attributes and links ---

    def attributes(self, scope: AttributeScope) -> dict:
        values: dict[str, Any] = {}
        for attr in scope.ordered:
            if not condition_holds(scope, attr, values):
                continue
            if attr.required or self.rng.random() < 0.6:
                values[attr.name] = self.value(attr)
            elif attr.default is not None:
                # The validator would fill it in; later conditions must see it too.
                values[attr.name] = attr.default
        return values

    def value(self, attr: AttributeDef) -> Any:
        rng = self.rng
        if attr.type == "choice":
            return rng.choice(attr.choices)
        if attr.type == "multi_choice":
            return rng.sample(attr.choices, rng.randint(1, len(attr.choices)))
        if attr.type == "linear_scale":
            return rng.randint(int(attr.min), int(attr.max))
        if attr.type == "text":
            return f"synthetic {rng.randint(1, 999)}"
        return self.number(attr)

    def number(self, attr: AttributeDef) -> float:
        rng = self.rng
        low, high, step = attr.min, attr.max, attr.step
        if step is None:
            low = low if low is not None else (high - 10 if high is not None else 0)
            high = high if high is not None else low + 10
            return rng.uniform(low, high)
        base = low if low is not None else 0
        if low is not None and high is not None:
            first, last = 0, math.floor((high - low) / step)
        elif high is not None:
            last = math.floor((high - base) / step)
            first = last - 10
        else:
            first, last = 0, 10
        value = base + rng.randint(first, last) * step
        if high is not None:
            value = min(value, high)
        return value

    def link(self, definition: Any) -> dict | None:
        """One link of this type, adding annotations for its ends when none fit."""
        if self.rng.random() < 0.3:
            return None
        labels = {label.name: label for label in self.taxonomy.labels}
        ends = []
        for allowed in (definition.from_labels, definition.to_labels):
            taken = {end["id"] for end in ends}
            fitting = [
                a
                for a in self.annotations
                if a["id"] not in taken and (not allowed or a.get("label") in allowed)
            ]
            end = self.rng.choice(fitting) if fitting else None
            if end is None:
                names = list(allowed) or list(labels)
                end = self.add(labels[self.rng.choice(names)])
            if end is None:
                return None
            ends.append(end)
        return {
            "from": ends[0]["id"],
            "to": ends[1]["id"],
            "label": definition.name,
            "attributes": self.attributes(self.index.links[definition.name].scope),
        }
