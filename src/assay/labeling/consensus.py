"""Consensus of several labelers' responses to one task, and per-labeler confusion matrices.

`aggregate` turns N labelers' responses into one response of the same shape (it passes
`validate_response`), how much they agreed (0..1), and the method used. The math lives in
`assay.metrics`; this module maps Assay's response shapes onto it, per task type:

    categorization   single: majority vote, agreement = share of labelers who chose the winner;
                     multi: each category kept when more than half chose it (else the most
                     chosen one), agreement = mean pairwise Jaccard
    image, video     shapes clustered by IoU per label, clusters a majority drew kept, boxes by
                     median, other shapes by medoid; agreement = mean pairwise matched IoU
    text_spans       spans kept when a majority gave the same start, end and label;
                     agreement = mean pairwise exact-span F1
    transcription,   the medoid response by edit similarity of the texts;
    text_collection  agreement = mean pairwise similarity
    llm_rating       per criterion and response the lower median; agreement = 1 - mean
                     pairwise distance as a share of the scale (alpha in the details)
    llm_ranking      Kemeny (at most 8 responses) else Borda; agreement = mean pairwise
                     Kendall tau rescaled to [0, 1]
    llm_comparison   majority vote; agreement = share of labelers who chose the winner
    rubric_grading   per criterion majority of met / not met (a tie is not met); agreement =
                     mean over criteria of the share of labelers who gave the winning verdict

Other task types get the medoid response by edit similarity of canonical JSON. Labelers are
taken in user id order and every tie goes to the smallest value, so the result never depends
on the order the responses come in. Attributes, global attributes and links go by majority.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.core.errors import Invalid, NotFound
from assay.labeling import models
from assay.labeling.annotations import (
    GEOMETRY_KEYS,
    validate_response,
)
from assay.labeling.attributes import AttributeScope, condition_holds
from assay.labeling.task_types import native_type
from assay.labeling.taxonomy import Taxonomy
from assay.labeling.taxonomy_index import TaxonomyIndex, taxonomy_index
from assay.metrics.aggregation import cluster_shapes, dawid_skene, majority_vote
from assay.metrics.agreement import krippendorff_alpha, mean_pairwise_iou
from assay.metrics.matching import (
    ranking_similarity,
    score_categories,
    score_response,
    span_prf,
    text_similarity,
)
from assay.metrics.ratings import KEMENY_EXACT_MAX, borda, kemeny


@dataclass(frozen=True, slots=True)
class Consensus:
    """One response standing for all labelers, how much they agreed (0..1), and how."""

    response: dict
    agreement: float
    method: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inputs:
    """What an aggregator sees: normalized responses of distinct labelers, in user id order."""

    task_type: str
    taxonomy: Taxonomy
    index: TaxonomyIndex
    params: dict
    users: tuple[str, ...]
    responses: tuple[dict, ...]

    @property
    def quorum(self) -> int:
        """A strict majority of the labelers."""
        return len(self.users) // 2 + 1


Aggregator = Callable[[Inputs], Consensus]


def aggregate(
    *, task_type: str, taxonomy: Taxonomy, params: dict, responses: Sequence[tuple[str, dict]]
) -> Consensus:
    """The consensus of (user id, response) pairs of distinct labelers for one task."""
    task_type = native_type(task_type)
    if not responses:
        raise Invalid("no responses to aggregate", field="responses")
    users = [user for user, _ in responses]
    if len(set(users)) != len(users):
        raise Invalid("each labeler may give one response", field="responses")
    ordered = sorted(responses, key=lambda pair: pair[0])
    normalized = []
    for user, response in ordered:
        try:
            normalized.append(validate_response(taxonomy, task_type, params, response))
        except Invalid as exc:
            message = f"the response of {user} is invalid: {exc.message}"
            raise Invalid(message, field=exc.field) from None
    inputs = Inputs(
        task_type=task_type,
        taxonomy=taxonomy,
        index=taxonomy_index(taxonomy),
        params=params,
        users=tuple(user for user, _ in ordered),
        responses=tuple(normalized),
    )
    result = AGGREGATORS.get(task_type, json_medoid)(inputs)
    response = validate_response(taxonomy, task_type, params, result.response)
    agreement = min(max(float(result.agreement), 0.0), 1.0)
    return Consensus(response, agreement, result.method, result.details)


# --- votes shared by every type ---


def _key(value: Any) -> str:
    """A canonical, sortable key: multi-choice lists are sets, so their order is ignored."""
    if type(value) is list and all(type(v) is str for v in value):
        value = sorted(value)
    return json.dumps(value, sort_keys=True)


def _winner(values: Sequence[Any]) -> Any:
    """The most frequent value; a tie goes to the smallest canonical key."""
    counts = Counter(_key(v) for v in values)
    best = min(counts, key=lambda k: (-counts[k], k))
    return next(v for v in values if _key(v) == best)


def _vote_attributes(scope: AttributeScope, given: Sequence[dict]) -> dict:
    """Each attribute by majority of those that gave it, when at least half did (or required).

    Walks the scope in condition order like the validator does, so an attribute whose
    condition fails on the voted values is left out, and a default fills what the vote drops.
    """
    out: dict[str, Any] = {}
    for attr in scope.ordered:
        if not condition_holds(scope, attr, out):
            continue
        values = [g[attr.name] for g in given if attr.name in g]
        if values and (attr.required or 2 * len(values) >= len(given)):
            out[attr.name] = _winner(values)
        elif attr.default is not None:
            out[attr.name] = attr.default
    return out


def _global_attributes(inputs: Inputs) -> dict:
    given = [r.get("global_attributes") or {} for r in inputs.responses]
    return _vote_attributes(inputs.index.global_, given)


def _annotation_scope(inputs: Inputs, label: str | None) -> AttributeScope:
    return inputs.index.common if label is None else inputs.index.labels[label].scope


def _new_id(position: int, annotation: dict) -> str:
    """A stable id for a consensus annotation: the same inputs give the same ids."""
    digest = hashlib.blake2b(f"{position}:{_key(annotation)}".encode(), digest_size=16)
    return digest.hexdigest()


def _vote_links(inputs: Inputs, id_map: dict[tuple[int, str], str]) -> list[dict]:
    """Links a majority drew between annotations that ended up in the same consensus ones.

    `id_map` maps (labeler index, that labeler's annotation id) to a consensus annotation id.
    """
    votes: dict[tuple[str, str, str], list[dict]] = {}
    for r, response in enumerate(inputs.responses):
        seen = set()
        for link in response.get("links") or []:
            ends = id_map.get((r, link["from"])), id_map.get((r, link["to"]))
            key = (ends[0], ends[1], link["label"])
            if None in ends or ends[0] == ends[1] or key in seen:
                continue
            seen.add(key)
            votes.setdefault(key, []).append(link.get("attributes") or {})  # type: ignore[arg-type]
    return [
        {
            "from": start,
            "to": end,
            "label": label,
            "attributes": _vote_attributes(inputs.index.links[label].scope, given),
        }
        for (start, end, label), given in sorted(votes.items())
        if len(given) >= inputs.quorum
    ]


def _mean_pairwise(items: Sequence[Any], similarity: Callable[[Any, Any], float]) -> float:
    pairs = list(combinations(items, 2))
    return float(np.mean([similarity(a, b) for a, b in pairs])) if pairs else 1.0


def _response(inputs: Inputs, annotations: list[dict], links: list[dict] | None = None) -> dict:
    return {
        "annotations": annotations,
        "global_attributes": _global_attributes(inputs),
        "links": links or [],
    }


def _single_annotation(inputs: Inputs, kind: str) -> list[dict]:
    """Each labeler's one annotation of this kind (ranking, comparison)."""
    return [next(a for a in r["annotations"] if a["type"] == kind) for r in inputs.responses]


# --- per task type ---


def categories(inputs: Inputs) -> Consensus:
    """Single choice: majority vote; multi-select: each category chosen by more than half."""
    chosen = [list(r["annotations"]) for r in inputs.responses]
    n = len(chosen)
    if not inputs.taxonomy.multi_select:
        labels = [mine[0]["label"] for mine in chosen]
        winner = str(majority_vote([0] * n, labels).labels[0])
        kept = [winner]
        agreement = labels.count(winner) / n
        method = "majority_vote"
    else:
        counts = Counter(a["label"] for mine in chosen for a in mine)
        kept = sorted(label for label, count in counts.items() if 2 * count > n)
        if not kept:  # a response must choose something: the most chosen, smallest name on ties
            kept = [min(counts, key=lambda label: (-counts[label], label))]
        sets = [[a["label"] for a in mine] for mine in chosen]
        agreement = _mean_pairwise(sets, score_categories)
        method = "per_label_majority"
    annotations = []
    for label in kept:
        given = [a.get("attributes") or {} for mine in chosen for a in mine if a["label"] == label]
        attributes = _vote_attributes(_annotation_scope(inputs, label), given)
        annotations.append({"type": "category", "label": label, "attributes": attributes})
    for k, ann in enumerate(annotations):
        ann["id"] = _new_id(k, ann)
    votes = Counter(a["label"] for mine in chosen for a in mine)
    return Consensus(_response(inputs, annotations), agreement, method, {"votes": dict(votes)})


_VIDEO_FIELDS = ("frame", "track_id", "keyframe")


def shapes(inputs: Inputs) -> Consensus:
    """Image and video: IoU clusters of same-label shapes that a majority of labelers drew.

    Video shapes only cluster within a frame (IoU across frames is 0) and within one geometry
    type (a track keeps one type). A consensus track follows the track of the first labeler
    (in user id order) in each cluster: one labeler has one shape per track and frame, so no
    consensus track gets two shapes on one frame; where that labeler missed a frame the
    object continues under another labeler's track id.
    """
    video = inputs.task_type == "video"
    drawn = [list(r["annotations"]) for r in inputs.responses]
    groups = [drawn]
    if video:
        kinds = sorted({a["type"] for mine in drawn for a in mine})
        groups = [[[a for a in mine if a["type"] == kind] for mine in drawn] for kind in kinds]
    annotations: list[dict] = []
    id_map: dict[tuple[int, str], str] = {}
    tracks: dict[tuple[int, Any], str] = {}
    clusters = []
    for group in groups:
        for cluster in cluster_shapes(group, quorum=inputs.quorum):
            members = [(r, group[r][i]) for r, i in cluster.members]
            shape = cluster.shape
            kind = shape["type"]
            ann = {"type": kind, "label": shape["label"]}
            ann.update({key: shape[key] for key in GEOMETRY_KEYS[kind] if key in shape})
            given = [m.get("attributes") or {} for _, m in members]
            ann["attributes"] = _vote_attributes(_annotation_scope(inputs, shape["label"]), given)
            if video:
                ann["frame"] = members[0][1]["frame"]
                ann["keyframe"] = 2 * sum(bool(m.get("keyframe", True)) for _, m in members) >= (
                    len(members)
                )
                tracked = [(r, m["track_id"]) for r, m in members if m.get("track_id") is not None]
                if tracked:
                    ann["track_id"] = tracks.setdefault(tracked[0], f"track-{len(tracks) + 1}")
            ann["id"] = _new_id(len(annotations), ann)
            for r, m in members:
                id_map[(r, m["id"])] = ann["id"]
            annotations.append(ann)
            clusters.append(
                {
                    "id": ann["id"],
                    "members": [[inputs.users[r], m["id"]] for r, m in members],
                    "agreement": cluster.agreement,
                }
            )
    agreement = mean_pairwise_iou(drawn)
    response = _response(inputs, annotations, _vote_links(inputs, id_map))
    details = {"quorum": inputs.quorum, "clusters": clusters}
    return Consensus(response, agreement, "iou_clusters", details)


def spans(inputs: Inputs) -> Consensus:
    """Spans a majority gave with exactly the same start, end and label."""
    votes: dict[tuple[int, int, str], list[tuple[int, dict]]] = {}
    for r, response in enumerate(inputs.responses):
        for ann in response["annotations"]:
            key = (ann["start"], ann["end"], ann["label"])
            mine = votes.setdefault(key, [])
            if not mine or mine[-1][0] != r:  # one vote per labeler, even for a repeated span
                mine.append((r, ann))
    annotations: list[dict] = []
    id_map: dict[tuple[int, str], str] = {}
    for (start, end, label), members in sorted(votes.items()):
        if len(members) < inputs.quorum:
            continue
        given = [m.get("attributes") or {} for _, m in members]
        ann = {"type": "span", "label": label, "start": start, "end": end}
        ann["attributes"] = _vote_attributes(_annotation_scope(inputs, label), given)
        ann["id"] = _new_id(len(annotations), ann)
        for r, m in members:
            id_map[(r, m["id"])] = ann["id"]
        annotations.append(ann)
    sets = [r["annotations"] for r in inputs.responses]
    agreement = _mean_pairwise(sets, lambda a, b: span_prf(a, b, mode="exact").f1)
    response = _response(inputs, annotations, _vote_links(inputs, id_map))
    return Consensus(response, agreement, "span_majority", {"quorum": inputs.quorum})


def _medoid(inputs: Inputs, similarity: Callable[[dict, dict], float], method: str) -> Consensus:
    """The response most similar to all the others (ties: the first labeler by user id)."""
    n = len(inputs.responses)
    sims = np.eye(n)
    for i, j in combinations(range(n), 2):
        sims[i, j] = sims[j, i] = similarity(inputs.responses[i], inputs.responses[j])
    best = int(np.argmax(sims.sum(axis=1)))
    agreement = float(sims[np.triu_indices(n, 1)].mean()) if n > 1 else 1.0
    details = {"medoid": inputs.users[best], "similarity": sims.round(6).tolist()}
    return Consensus(inputs.responses[best], agreement, method, details)


def texts(inputs: Inputs) -> Consensus:
    """Transcription and text collection: the medoid by normalized edit similarity."""

    def similarity(a: dict, b: dict) -> float:
        # The text part only (answers paired by field and label); symmetric.
        return score_response({"annotations": a["annotations"]}, {"annotations": b["annotations"]})

    return _medoid(inputs, similarity, "medoid_edit_similarity")


def _canonical(response: dict) -> str:
    """The response as sorted JSON without annotation ids (links point at positions)."""
    bare = [{k: v for k, v in a.items() if k != "id"} for a in response.get("annotations") or []]
    order = sorted(range(len(bare)), key=lambda i: _key(bare[i]))
    position = {response["annotations"][i]["id"]: p for p, i in enumerate(order)}
    links = sorted(
        _key({**link, "from": position.get(link["from"]), "to": position.get(link["to"])})
        for link in response.get("links") or []
    )
    body = {
        "annotations": [bare[i] for i in order],
        "global_attributes": response.get("global_attributes") or {},
        "links": links,
    }
    return json.dumps(body, sort_keys=True)


def json_medoid(inputs: Inputs) -> Consensus:
    """Any task type: the medoid by edit similarity of the responses' canonical JSON."""

    def similarity(a: dict, b: dict) -> float:
        return text_similarity(_canonical(a), _canonical(b), normalize=False)

    return _medoid(inputs, similarity, "medoid_json_edit_similarity")


def ratings(inputs: Inputs) -> Consensus:
    """Per criterion and response: the lower median (a value someone gave, a whole number).

    Agreement is 1 - the mean pairwise distance as a share of the criterion's scale, per
    criterion and response, averaged. Krippendorff's alpha is in the details only: within
    one task it compares disagreement to the spread of this task's own values, so it is 0
    for any disagreement on a single criterion and low whenever everyone rates alike.
    """
    given: dict[tuple[str, int], list[dict]] = {}
    for response in inputs.responses:
        for ann in response["annotations"]:
            given.setdefault((ann["criterion"], ann["response_index"]), []).append(ann)
    annotations, closeness = [], []
    units, values = [], []
    for unit, ((criterion, index), members) in enumerate(sorted(given.items())):
        scores = sorted(m["value"] for m in members)
        attributes = _vote_attributes(inputs.index.common, [m["attributes"] for m in members])
        ann = {
            "type": "rating",
            "criterion": criterion,
            "response_index": index,
            "value": scores[(len(scores) - 1) // 2],
            "attributes": attributes,
        }
        ann["id"] = _new_id(len(annotations), ann)
        annotations.append(ann)
        definition = inputs.index.criteria[criterion]
        width = max(definition.max - definition.min, 1)
        closeness.append(_mean_pairwise(scores, lambda a, b, w=width: 1 - abs(a - b) / w))
        units += [unit] * len(scores)
        values += scores
    agreement = float(np.mean(closeness)) if closeness else 1.0
    alpha = krippendorff_alpha(units, values, level="interval") if values else float("nan")
    details = {"alpha": None if np.isnan(alpha) else alpha}  # NaN: one labeler or no spread
    return Consensus(_response(inputs, annotations), agreement, "lower_median", details)


def rankings(inputs: Inputs) -> Consensus:
    """Kemeny's order (exact) for at most 8 responses, else the Borda count."""
    given = _single_annotation(inputs, "ranking")
    orders = [a["order"] for a in given]
    if len(orders[0]) <= KEMENY_EXACT_MAX:
        order, method = kemeny(orders), "kemeny"
    else:
        order, method = borda(orders)[0], "borda"
    attributes = _vote_attributes(inputs.index.common, [a["attributes"] for a in given])
    ann = {"type": "ranking", "order": order, "attributes": attributes}
    ann["id"] = _new_id(0, ann)
    agreement = _mean_pairwise(orders, ranking_similarity)
    return Consensus(_response(inputs, [ann]), agreement, method, {})


def comparisons(inputs: Inputs) -> Consensus:
    """Majority of the choices (a, b, tie, both_good, both_bad); ties alphabetically first."""
    given = _single_annotation(inputs, "comparison")
    choices = [a["choice"] for a in given]
    winner = str(majority_vote([0] * len(choices), choices).labels[0])
    attributes = _vote_attributes(inputs.index.common, [a["attributes"] for a in given])
    ann = {"type": "comparison", "choice": winner, "attributes": attributes}
    ann["id"] = _new_id(0, ann)
    agreement = choices.count(winner) / len(choices)
    details = {"votes": dict(Counter(choices))}
    return Consensus(_response(inputs, [ann]), agreement, "majority_vote", details)


def verdicts(inputs: Inputs) -> Consensus:
    """Per criterion, the majority verdict; a tie is "not met" (credit needs a majority)."""
    given: dict[str, list[dict]] = {}
    for response in inputs.responses:
        for ann in response["annotations"]:
            given.setdefault(ann["criterion"], []).append(ann)
    annotations, shares, votes = [], [], {}
    for criterion, members in given.items():
        met = sum(1 for m in members if m["met"])
        winner = met * 2 > len(members)
        attributes = _vote_attributes(inputs.index.common, [m["attributes"] for m in members])
        ann = {"type": "verdict", "criterion": criterion, "met": winner, "attributes": attributes}
        ann["id"] = _new_id(len(annotations), ann)
        annotations.append(ann)
        shares.append((met if winner else len(members) - met) / len(members))
        votes[criterion] = {"met": met, "not_met": len(members) - met}
    agreement = float(np.mean(shares)) if shares else 1.0
    return Consensus(_response(inputs, annotations), agreement, "majority_per_criterion", votes)


AGGREGATORS: dict[str, Aggregator] = {
    "categorization": categories,
    "image": shapes,
    "video": shapes,
    "text_spans": spans,
    "transcription": texts,
    "text_collection": texts,
    "llm_rating": ratings,
    "llm_ranking": rankings,
    "llm_comparison": comparisons,
    "rubric_grading": verdicts,
}


# --- labelers ---

_EVENTS = models.TaskEvent.__table__.c
_TASKS = models.Task.__table__.c


def labeler_confusions(*, session: Session, project_id: str) -> dict:
    """Dawid-Skene over a categorization project's overlapping submissions.

    A unit is a task in one stage and round that more than one labeler submitted. Only
    responses choosing exactly one category count (a multi-select answer with several is
    left out). `accuracy` is the expected share of the labeler's labels that are right
    under the model's posteriors; `confusion[k][l]` is P(labeler says l | truth is k).
    """
    project = session.get(models.Project, project_id)
    if project is None:
        raise NotFound(f"no project with id {project_id}", field="project_id")
    if native_type(project.task_type) != "categorization":
        raise Invalid(
            "labeler confusion matrices need a categorization project", field="project_id"
        )
    submitted = (
        select(_EVENTS.task_id, _EVENTS.stage, _EVENTS.round)
        .join(models.Task.__table__, _TASKS.id == _EVENTS.task_id)
        .where(
            _TASKS.project_id == project_id,
            _EVENTS.action == "submit",
            _EVENTS.user_id.is_not(None),
        )
        .group_by(_EVENTS.task_id, _EVENTS.stage, _EVENTS.round)
        .having(func.count(func.distinct(_EVENTS.user_id)) > 1)
        .subquery()
    )
    rows = session.execute(
        select(_EVENTS.task_id, _EVENTS.stage, _EVENTS.round, _EVENTS.user_id, _EVENTS.response)
        .join(
            submitted,
            (submitted.c.task_id == _EVENTS.task_id)
            & (submitted.c.stage == _EVENTS.stage)
            & (submitted.c.round == _EVENTS.round),
        )
        .where(_EVENTS.action == "submit", _EVENTS.user_id.is_not(None))
        .order_by(_EVENTS.id)
    ).all()
    labels: dict[tuple[int, str], str] = {}  # (unit, user) → label; a later submit wins
    unit_codes: dict[tuple[str, str, int], int] = {}
    for row in rows:
        chosen = [a.get("label") for a in (row.response or {}).get("annotations") or []]
        if len(chosen) == 1 and type(chosen[0]) is str:
            unit = unit_codes.setdefault((row.task_id, row.stage, row.round), len(unit_codes))
            labels[(unit, row.user_id)] = chosen[0]
    per_unit = Counter(unit for unit, _ in labels)
    kept = [(unit, user, label) for (unit, user), label in labels.items() if per_unit[unit] > 1]
    if not kept:
        return {"classes": [], "labelers": [], "tasks": 0}
    units, users, given = (list(column) for column in zip(*kept, strict=True))
    model = dawid_skene(units, users, given)
    task_at = {unit: i for i, unit in enumerate(model.tasks.tolist())}
    class_at = {name: k for k, name in enumerate(model.classes.tolist())}
    labeler_at = {user: w for w, user in enumerate(model.labelers.tolist())}
    rows_t = np.array([task_at[u] for u in units])
    rows_k = np.array([class_at[label] for label in given])
    rows_w = np.array([labeler_at[user] for user in users])
    right = model.posteriors[rows_t, rows_k]
    count = np.bincount(rows_w, minlength=len(labeler_at))
    accuracy = np.bincount(rows_w, weights=right, minlength=len(labeler_at)) / count
    return {
        "classes": [str(name) for name in model.classes.tolist()],
        "labelers": [
            {
                "user_id": str(user),
                "accuracy": float(accuracy[w]),
                "confusion": model.confusion[w].tolist(),
                "labels": int(count[w]),
            }
            for w, user in enumerate(model.labelers.tolist())
        ],
        "tasks": len(task_at),
    }
