"""The one annotation shape used everywhere, and validation of a response against a taxonomy.

A response is `{"annotations": [...], "global_attributes": {...}, "links": [...]}`; a link is
`{"from": id, "to": id, "label": link name, "attributes": {...}}`. Every annotation has `id`
(generated when missing), `type`, `attributes`, optional `confidence` (0..1, predictions),
`label` where the type takes one, and the fields of its type:

    box         x, y, width, height          top-left corner; width, height > 0
    polygon     vertices: [{x, y}]           at least 3
    line        vertices: [{x, y}]           at least 2
    point       x, y
    keypoints   points: [{name, x, y, visible}]   names from the label; a subset is fine
    ellipse     cx, cy, rx, ry, rotation     rotation in degrees, default 0
    cuboid      front, back                  2D cuboid: the near and far faces as boxes
    mask        rle: {size: [h, w], counts}  uncompressed COCO RLE (column-major, 0s first)
    category    label                        one annotation per chosen category
    span        start, end, text             end exclusive; text filled from params.text
    text        text, field                  field optional (which answer box)
    rating      criterion, value, response_index
    ranking     order                        permutation of response indices, best first
    comparison  choice                       a | b | tie | both_good | both_bad
    verdict     criterion, met, comment      rubric_grading: met true/false per criterion

`type` may be left out when the task type has a single geometry (categorization, spans, text,
LLM types). Video annotations also carry `frame` (>= 0), `track_id` (optional; a track keeps
one label and type, one annotation per frame) and `keyframe` (default true). `text`
annotations take a label only when the taxonomy has labels (then one is required).
"""

from __future__ import annotations

from typing import Any

from assay.core.errors import Invalid
from assay.core.ids import uuid4_hexes
from assay.labeling import geometry, rubric_grading
from assay.labeling.attributes import (
    AttributeScope,
    check_attribute_value,
    condition_holds,
)
from assay.labeling.task_types import (
    COMPARISON_CHOICES,
    GEOMETRIES,
    LABELED_GEOMETRIES,
    native_type,
)
from assay.labeling.taxonomy import Taxonomy
from assay.labeling.taxonomy_index import LabelIndex, taxonomy_index

RESPONSE_KEYS = ("annotations", "global_attributes", "links")
LINK_KEYS = frozenset(("from", "to", "label", "attributes"))
_COMMON_KEYS = frozenset(("id", "type", "label", "attributes", "confidence"))
_VIDEO_KEYS = frozenset(("frame", "track_id", "keyframe"))
GEOMETRY_KEYS: dict[str, frozenset[str]] = {
    "box": frozenset(("x", "y", "width", "height")),
    "polygon": frozenset(("vertices",)),
    "line": frozenset(("vertices",)),
    "point": frozenset(("x", "y")),
    "keypoints": frozenset(("points",)),
    "ellipse": frozenset(("cx", "cy", "rx", "ry", "rotation")),
    "cuboid": frozenset(("front", "back")),
    "mask": frozenset(("rle",)),
    "category": frozenset(),
    "span": frozenset(("start", "end", "text")),
    "text": frozenset(("text", "field")),
    "rating": frozenset(("criterion", "value", "response_index")),
    "ranking": frozenset(("order",)),
    "comparison": frozenset(("choice",)),
    "verdict": frozenset(("criterion", "met", "comment")),
}
_UNLABELED_TYPES = frozenset(("rating", "ranking", "comparison", "verdict"))


def allowed_comparison_choices(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The comparison choices a taxonomy's flags allow."""
    flags = {
        "tie": taxonomy.allow_tie,
        "both_good": taxonomy.allow_both_good,
        "both_bad": taxonomy.allow_both_bad,
    }
    return tuple(c for c in COMPARISON_CHOICES if flags.get(c, True))


def validate_params(taxonomy: Taxonomy, task_type: str, params: dict | None) -> dict:
    """Check the task params this module reads (image size, frames, text, responses)."""
    task_type = native_type(task_type)
    params = {} if params is None else params
    limits = geometry.Limits.from_params(params)
    if task_type == "text_spans" and limits.text is None:
        raise Invalid(
            "a text_spans task needs params.text (the text to annotate)", field="params.text"
        )
    responses = limits.responses
    if task_type == "llm_ranking" and not responses:
        raise Invalid(
            "an llm_ranking task needs params.responses to rank", field="params.responses"
        )
    if task_type == "llm_comparison" and responses is not None and responses != 2:
        raise Invalid(
            f"an llm_comparison task compares exactly 2 responses, got {responses}",
            field="params.responses",
        )
    if task_type == "rubric_grading":
        rubric_grading.check_params(params)
    count = responses or 0
    if taxonomy.min_responses is not None and count < taxonomy.min_responses:
        raise Invalid(
            f"the taxonomy asks for at least {taxonomy.min_responses} responses, got {count}",
            field="params.responses",
        )
    if taxonomy.max_responses is not None and count > taxonomy.max_responses:
        raise Invalid(
            f"the taxonomy allows at most {taxonomy.max_responses} responses, got {count}",
            field="params.responses",
        )
    return params


def validate_response(
    taxonomy: Taxonomy, task_type: str, params: dict, response: dict, *, partial: bool = False
) -> dict:
    """Return the normalized response (ids filled in, defaults applied) or raise Invalid.

    `partial=True` (drafts) skips completeness: required attributes, rating every criterion,
    choosing a category, giving the ranking or comparison. Shapes are always checked.
    """
    params = {} if params is None else params
    validator = _ResponseValidator(taxonomy, native_type(task_type), params, partial)
    return validator.run(response)


class _ResponseValidator:
    def __init__(self, taxonomy: Taxonomy, task_type: str, params: dict, partial: bool) -> None:
        self.taxonomy = taxonomy
        self.index = taxonomy_index(taxonomy)
        self.task_type = task_type
        self.types = GEOMETRIES[task_type]
        self.partial = partial
        self.limits = geometry.Limits.from_params(params)
        self.video = task_type == "video"
        extra = _VIDEO_KEYS if self.video else frozenset()
        self.keys = {
            kind: GEOMETRY_KEYS[kind]
            | (_COMMON_KEYS - {"label"} if kind in _UNLABELED_TYPES else _COMMON_KEYS)
            | extra
            for kind in self.types
        }
        self.ids: dict[str, tuple[int, str | None]] = {}
        self.seen: dict[str, list[int]] = {kind: [] for kind in self.types}
        self.ratings: dict[tuple[str, int], int] = {}
        self.criteria: tuple[str, ...] = ()
        if task_type == "rubric_grading":
            self.criteria = rubric_grading.check_params(params)
        self.verdicts: dict[str, int] = {}
        self.tracks: dict[Any, tuple[int, str | None, str]] = {}
        self.track_frames: set[tuple[Any, int]] = set()
        self.position = 0  # index of the annotation being checked, for messages
        self.id_pool: list[str] = []

    def run(self, response: Any) -> dict:
        if type(response) is not dict:
            raise Invalid("response must be a JSON object", field="response")
        for key in response:
            if key not in RESPONSE_KEYS:
                raise Invalid(
                    f"unknown field {key!r}; allowed: {', '.join(RESPONSE_KEYS)}",
                    field=f"response.{key}",
                )
        annotations = _list(response.get("annotations"), "response.annotations")
        links = _list(response.get("links"), "response.links")
        self.missing_ids = sum(1 for a in annotations if type(a) is dict and a.get("id") is None)
        global_attributes = self.attributes(
            self.index.global_, response.get("global_attributes"), "response.global_attributes"
        )
        out = [self.annotation(i, ann) for i, ann in enumerate(annotations)]
        self.check_complete(out)
        return {
            "annotations": out,
            "global_attributes": global_attributes,
            "links": self.links(links),
        }

    def new_id(self) -> str:
        """A uuid4 hex; random bytes are read once per response, not once per annotation."""
        if not self.id_pool:
            self.id_pool = uuid4_hexes(max(self.missing_ids, 1))
        return self.id_pool.pop()

    # --- one annotation ---

    def annotation(self, i: int, ann: Any) -> dict:
        path = f"response.annotations[{i}]"
        if type(ann) is not dict:
            raise Invalid("an annotation must be a JSON object", field=path)
        kind = ann.get("type")
        if kind is None and len(self.types) == 1:
            kind = self.types[0]
        keys = self.keys.get(kind) if type(kind) is str else None
        if keys is None:
            what = "type is required" if kind is None else f"type {kind!r} is not allowed"
            raise Invalid(
                f"{what} for {self.task_type} tasks; allowed: {', '.join(self.types)}",
                field=f"{path}.type",
            )
        if not ann.keys() <= keys:
            name = min(str(k) for k in ann.keys() - keys)
            raise Invalid(
                f"unknown field {name!r} for a {kind} annotation; "
                f"allowed: {', '.join(sorted(keys))}",
                field=f"{path}.{name}",
            )
        ann_id = ann.get("id")
        if ann_id is None:
            ann_id = self.new_id()
        elif type(ann_id) is not str or not ann_id or len(ann_id) > 200:
            raise Invalid(
                "id must be a non-empty string of at most 200 characters", field=f"{path}.id"
            )
        if ann_id in self.ids:
            raise Invalid(
                f"duplicate annotation id {ann_id!r} (also annotations[{self.ids[ann_id][0]}])",
                field=f"{path}.id",
            )
        self.position = i
        out: dict[str, Any] = {"id": ann_id, "type": kind}
        label = self.label(ann, kind, path)
        if label is not None:
            out["label"] = label.name
        self.ids[ann_id] = (i, out.get("label"))
        self.seen[kind].append(i)
        self.geometry(kind, ann, out, path, label)
        attrs = ann.get("attributes")
        scope = self.index.common if label is None else label.scope
        if attrs or scope.ordered or (attrs is not None and type(attrs) is not dict):
            out["attributes"] = self.attributes(scope, attrs, f"{path}.attributes")
        else:
            out["attributes"] = {}
        confidence = ann.get("confidence")
        if confidence is not None:
            if type(confidence) not in (int, float) or not 0 <= confidence <= 1:
                raise Invalid(
                    f"confidence must be a number from 0 to 1, not {confidence!r}",
                    field=f"{path}.confidence",
                )
            out["confidence"] = confidence
        if self.video:
            self.video_fields(ann, out, path)
        return out

    def label(self, ann: dict, kind: str, path: str) -> LabelIndex | None:
        name = ann.get("label")
        labels = self.index.labels
        if kind not in LABELED_GEOMETRIES and not (kind == "text" and labels):
            if name is not None:
                raise Invalid("this taxonomy has no labels; leave label out", field=f"{path}.label")
            return None
        label = labels.get(name) if type(name) is str else None
        if label is None:
            what = "label is required" if name is None else f"label {name!r} is not in the taxonomy"
            raise Invalid(f"{what}; allowed: {self.index.label_names}", field=f"{path}.label")
        if kind not in label.geometries:
            raise Invalid(
                f"label {name!r} does not allow type {kind!r}; "
                f"allowed: {', '.join(label.geometries)}",
                field=f"{path}.type",
            )
        return label

    def geometry(
        self, kind: str, ann: dict, out: dict, path: str, label: LabelIndex | None
    ) -> None:
        limits = self.limits
        if kind == "box":
            out.update(geometry.box(ann, path, limits))
        elif kind in ("polygon", "line"):
            out["vertices"] = geometry.vertices(ann, path, limits, 3 if kind == "polygon" else 2)
        elif kind == "point":
            out["x"], out["y"] = geometry.point(ann, path, limits)
        elif kind == "keypoints":
            assert label is not None
            out["points"] = geometry.keypoints(ann, path, limits, label.keypoints)
        elif kind == "ellipse":
            out.update(geometry.ellipse(ann, path, limits))
        elif kind == "cuboid":
            out["front"] = geometry.box(_object(ann, "front", path), f"{path}.front", limits, True)
            out["back"] = geometry.box(_object(ann, "back", path), f"{path}.back", limits, True)
        elif kind == "mask":
            out["rle"] = geometry.mask(ann, path, limits)
        elif kind == "span":
            out.update(geometry.span(ann, path, limits))
        elif kind == "text":
            out.update(geometry.text(ann, path))
        elif kind == "rating":
            out.update(self.rating(ann, path))
        elif kind == "ranking":
            out["order"] = geometry.ranking(ann, path, limits)
        elif kind == "comparison":
            choice = ann.get("choice")
            allowed = allowed_comparison_choices(self.taxonomy)
            if choice not in allowed:
                what = (
                    "is required"
                    if choice is None
                    else f"{choice!r} is not allowed by the taxonomy"
                )
                raise Invalid(
                    f"choice {what}; allowed: {', '.join(allowed)}",
                    field=f"{path}.choice",
                )
            out["choice"] = choice
        elif kind == "verdict":
            out.update(rubric_grading.verdict_fields(ann, path, self.criteria))
            first = self.verdicts.setdefault(out["criterion"], self.position)
            if first != self.position:
                raise Invalid(
                    f"criterion {out['criterion']!r} already has a verdict (annotations[{first}])",
                    field=f"{path}.criterion",
                )

    def rating(self, ann: dict, path: str) -> dict:
        name = ann.get("criterion")
        criterion = self.index.criteria.get(name) if type(name) is str else None
        if criterion is None:
            what = "criterion is required" if name is None else f"criterion {name!r} is unknown"
            raise Invalid(
                f"{what}; allowed: {', '.join(self.index.criteria)}", field=f"{path}.criterion"
            )
        value = ann.get("value")
        if type(value) is not int or not criterion.min <= value <= criterion.max:
            raise Invalid(
                f"criterion {name!r} takes a whole number from {criterion.min} to "
                f"{criterion.max}, not {value!r}",
                field=f"{path}.value",
            )
        count = self.limits.responses or 0
        index = ann.get("response_index")
        if index is None and count <= 1:
            index = 0
        if type(index) is not int or not 0 <= index < max(count, 1):
            raise Invalid(
                f"response_index must be a whole number from 0 to {max(count, 1) - 1} "
                f"(params.responses has {count}), not {index!r}",
                field=f"{path}.response_index",
            )
        key = (name, index)
        if key in self.ratings:
            raise Invalid(
                f"criterion {name!r} is already rated for response {index} "
                f"(annotations[{self.ratings[key]}])",
                field=f"{path}.criterion",
            )
        self.ratings[key] = self.position
        return {"criterion": name, "value": value, "response_index": index}

    def video_fields(self, ann: dict, out: dict, path: str) -> None:
        frame = ann.get("frame")
        frames = self.limits.frame_count
        if type(frame) is not int or frame < 0 or (frames is not None and frame >= frames):
            upper = f" and below frame_count {frames}" if frames is not None else ""
            raise Invalid(
                f"frame must be a whole number from 0{upper}, not {frame!r}", field=f"{path}.frame"
            )
        out["frame"] = frame
        keyframe = ann.get("keyframe", True)
        if type(keyframe) is not bool:
            raise Invalid(
                f"keyframe must be true or false, not {keyframe!r}", field=f"{path}.keyframe"
            )
        out["keyframe"] = keyframe
        track = ann.get("track_id")
        if track is None:
            return
        if type(track) not in (str, int) or track == "":
            raise Invalid(
                "track_id must be a non-empty string or an integer", field=f"{path}.track_id"
            )
        out["track_id"] = track
        label, kind = out.get("label"), out["type"]
        first = self.tracks.setdefault(track, (self.position, label, kind))
        if first[1] != label:
            raise Invalid(
                f"track {track!r} is labeled {first[1]!r} in annotations[{first[0]}]; "
                "a track keeps one label",
                field=f"{path}.label",
            )
        if first[2] != kind:
            raise Invalid(
                f"track {track!r} is a {first[2]} in annotations[{first[0]}]; "
                "a track keeps one type",
                field=f"{path}.type",
            )
        if (track, frame) in self.track_frames:
            raise Invalid(
                f"track {track!r} already has an annotation on frame {frame}", field=f"{path}.frame"
            )
        self.track_frames.add((track, frame))

    # --- whole-response rules ---

    def check_complete(self, out: list[dict]) -> None:
        task_type = self.task_type
        if task_type == "categorization":
            chosen: dict[str, int] = {}
            for i in self.seen["category"]:
                name = out[i]["label"]
                if name in chosen:
                    raise Invalid(
                        f"category {name!r} is chosen twice (also annotations[{chosen[name]}])",
                        field=f"response.annotations[{i}].label",
                    )
                if chosen and not self.taxonomy.multi_select:
                    raise Invalid(
                        "only one category may be chosen (the taxonomy does not set multi_select)",
                        field=f"response.annotations[{i}]",
                    )
                chosen[name] = i
            if not chosen and not self.partial:
                raise Invalid(
                    f"choose a category; allowed: {self.index.label_names}",
                    field="response.annotations",
                )
        elif task_type in ("llm_ranking", "llm_comparison"):
            kind = "ranking" if task_type == "llm_ranking" else "comparison"
            found = self.seen[kind]
            if len(found) > 1:
                raise Invalid(
                    f"a response holds one {kind} annotation",
                    field=f"response.annotations[{found[1]}]",
                )
            if not found and not self.partial:
                raise Invalid(f"a {kind} annotation is required", field="response.annotations")
        elif task_type == "rubric_grading" and not self.partial:
            for name in self.criteria:
                if name not in self.verdicts:
                    raise Invalid(
                        f"criterion {name!r} has no verdict (met or not met)",
                        field="response.annotations",
                    )
        elif task_type == "llm_rating" and not self.partial:
            for index in range(max(self.limits.responses or 0, 1)):
                for name in self.index.criteria:
                    if (name, index) not in self.ratings:
                        raise Invalid(
                            f"criterion {name!r} is not rated for response {index}",
                            field="response.annotations",
                        )

    def links(self, links: list) -> list[dict]:
        if links and not self.index.links:
            raise Invalid("this taxonomy defines no link types", field="response.links")
        out: list[dict] = []
        seen: dict[tuple, int] = {}
        for j, link in enumerate(links):
            path = f"response.links[{j}]"
            if type(link) is not dict:
                raise Invalid("a link must be a JSON object", field=path)
            for key in link:
                if key not in LINK_KEYS:
                    raise Invalid(
                        f"unknown field {key!r}; allowed: from, to, label, attributes",
                        field=f"{path}.{key}",
                    )
            name = link.get("label")
            link_type = self.index.links.get(name) if type(name) is str else None
            if link_type is None:
                what = "label is required" if name is None else f"link type {name!r} is unknown"
                raise Invalid(
                    f"{what}; allowed: {', '.join(self.index.links)}", field=f"{path}.label"
                )
            ends = []
            for side, allowed in (("from", link_type.from_labels), ("to", link_type.to_labels)):
                ann_id = link.get(side)
                found = self.ids.get(ann_id) if type(ann_id) is str else None
                if found is None:
                    raise Invalid(
                        f"annotation {ann_id!r} is not in this response", field=f"{path}.{side}"
                    )
                if allowed and found[1] not in allowed:
                    raise Invalid(
                        f"link {name!r} cannot {side_verb(side)} a {found[1]!r} annotation; "
                        f"allowed: {', '.join(sorted(allowed))}",
                        field=f"{path}.{side}",
                    )
                ends.append(ann_id)
            if ends[0] == ends[1]:
                raise Invalid("a link cannot join an annotation to itself", field=f"{path}.to")
            key = (ends[0], ends[1], name)
            if key in seen:
                raise Invalid(f"duplicate link (also links[{seen[key]}])", field=path)
            seen[key] = j
            attributes = self.attributes(
                link_type.scope, link.get("attributes"), f"{path}.attributes"
            )
            out.append({"from": ends[0], "to": ends[1], "label": name, "attributes": attributes})
        return out

    def attributes(self, scope: AttributeScope, values: Any, path: str) -> dict:
        """Check attribute values; apply defaults; enforce conditions and required ones."""
        if values is None:
            values = {}
        elif type(values) is not dict:
            raise Invalid("attributes must be a JSON object", field=path)
        for name in values:
            if name not in scope.by_name:
                allowed = f"allowed: {scope.names}" if scope.by_name else "none are defined here"
                raise Invalid(f"unknown attribute {name!r}; {allowed}", field=f"{path}.{name}")
        out: dict[str, Any] = {}
        for attr in scope.ordered:
            name = attr.name
            value = values.get(name)
            if attr.condition is not None and not condition_holds(scope, attr, out):
                if value is not None:
                    condition = attr.condition
                    raise Invalid(
                        f"attribute {name!r} applies only when {condition.attribute!r} is one "
                        f"of: {', '.join(str(v) for v in condition.values)}",
                        field=f"{path}.{name}",
                    )
                continue
            if value is None:
                if attr.default is not None:
                    value = attr.default
                elif attr.required and not self.partial:
                    raise Invalid(f"attribute {name!r} is required", field=f"{path}.{name}")
                else:
                    continue
            out[name] = check_attribute_value(attr, value, f"{path}.{name}")
            if attr.required and not self.partial and (value == "" or value == []):
                raise Invalid(f"attribute {name!r} is required", field=f"{path}.{name}")
        return out


def side_verb(side: str) -> str:
    return "start at" if side == "from" else "end at"


def _list(value: Any, path: str) -> list:
    if value is None:
        return []
    if type(value) is not list:
        raise Invalid("must be a JSON array", field=path)
    return value


def _object(ann: dict, key: str, path: str) -> dict:
    value = ann.get(key)
    if type(value) is not dict:
        raise Invalid(f"{key} must be a box {{x, y, width, height}}", field=f"{path}.{key}")
    return value
