"""Scale task params that name labels (`geometries`, `labels`, `taxonomies` …) as a native
taxonomy, and the merge of a task's taxonomy into its project's.

Scale lets every task carry its own label set; Assay validates responses against one taxonomy
per project. So the labels a Scale task names are merged into its project's taxonomy when the
task is created, and a project created without labels starts with a placeholder label that the
first task's labels replace. Pure functions: no database, no HTTP.
"""

from __future__ import annotations

from typing import Any

from assay.core.errors import Invalid

IMAGE_GEOMETRIES = ("box", "polygon", "line", "point", "ellipse", "cuboid")
VIDEO_GEOMETRIES = ("box", "polygon", "point")
# Legacy single-geometry Scale types: the geometry comes from the type, the labels from
# `objects_to_annotate` at the top of the params.
LEGACY_GEOMETRY = {
    "annotation": "box",
    "polygonannotation": "polygon",
    "lineannotation": "line",
    "pointannotation": "point",
    "cuboidannotation": "cuboid",
}
VIDEO_TYPES = frozenset(("videoannotation", "videoboxannotation", "videoplaybackannotation"))
TEXT_FIELD_TYPES = frozenset(("text", "string", "paragraph", "long_text"))
PLACEHOLDER_LABEL = "object"
PLACEHOLDER_DESCRIPTION = (
    "Placeholder made for a Scale project created without labels; "
    "replaced by the labels its first task names."
)


def _names(items: Any, path: str) -> list[str]:
    """Label names from Scale's `objects_to_annotate`/`labels`: strings or nested choices."""
    if not isinstance(items, list):
        raise Invalid("must be a list of label names", field=path)
    names: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            names.append(item.strip())
            continue
        if not isinstance(item, dict):
            raise Invalid(
                "must be a label name or a {choice, subchoices} object", field=f"{path}[{i}]"
            )
        children = item.get("subchoices") or item.get("children")
        if children:
            names.extend(_names(children, f"{path}[{i}].subchoices"))
            continue
        name = item.get("choice") or item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise Invalid("needs a `choice` naming the label", field=f"{path}[{i}]")
        names.append(name.strip())
    return [name for name in dict.fromkeys(names) if name]


def _choices(spec: dict, path: str) -> list[str]:
    raw = spec.get("choices")
    if not isinstance(raw, list) or not raw:
        raise Invalid("a category attribute needs a list of choices", field=f"{path}.choices")
    out = []
    for j, choice in enumerate(raw):
        if isinstance(choice, dict):
            choice = choice.get("value", choice.get("choice", choice.get("label")))
        if not isinstance(choice, str | int | float) or isinstance(choice, bool):
            raise Invalid("a choice must be a string", field=f"{path}.choices[{j}]")
        out.append(str(choice))
    return list(dict.fromkeys(out))


def _attribute(name: str, spec: Any, path: str) -> dict[str, Any]:
    """One Scale `annotation_attributes` entry as a native attribute definition."""
    if not isinstance(spec, dict):
        raise Invalid("an attribute must be an object with a type", field=path)
    kind = spec.get("type", "category")
    attr: dict[str, Any] = {"name": name, "description": str(spec.get("description", ""))}
    if kind == "category":
        attr["type"] = "multi_choice" if spec.get("allow_multiple") else "choice"
        attr["choices"] = _choices(spec, path)
    elif kind in ("number", "angle", "integer"):
        attr["type"] = "number"
        low, high = spec.get("min"), spec.get("max")
        if kind == "angle":
            low, high = 0, 360
        for key, value in (("min", low), ("max", high), ("step", spec.get("step"))):
            if value is not None:
                attr[key] = value
        if kind == "integer" and "step" not in attr:
            attr["step"] = 1
    elif kind == "linear_scale":
        attr.update(type="linear_scale", min=spec.get("min", 1), max=spec.get("max", 5))
    elif kind in TEXT_FIELD_TYPES:
        attr["type"] = "text"
    else:
        raise Invalid(
            f"attribute type {kind!r} is not supported; use category, number, angle, "
            "integer, linear_scale or text",
            field=f"{path}.type",
        )
    if spec.get("required"):
        attr["required"] = True
    if spec.get("default") is not None:
        attr["default"] = spec["default"]
    condition = _attribute_condition(spec.get("conditions"), f"{path}.conditions")
    if condition is not None:
        attr["condition"] = condition
    return attr


def _attribute_condition(conditions: Any, path: str) -> dict[str, Any] | None:
    """Scale's first `attribute_conditions` entry as a native condition."""
    if not isinstance(conditions, dict):
        return None
    clauses = conditions.get("attribute_conditions") or []
    if not isinstance(clauses, list) or not clauses or not isinstance(clauses[0], dict):
        return None
    first = clauses[0]
    if not first:
        return None
    attribute, values = next(iter(first.items()))
    values = values if isinstance(values, list) else [values]
    if not values:
        raise Invalid("an attribute condition needs at least one value", field=path)
    return {"attribute": attribute, "in": values}


def _label_condition(spec: Any) -> list[str] | None:
    if not isinstance(spec, dict) or not isinstance(spec.get("conditions"), dict):
        return None
    condition = spec["conditions"].get("label_condition")
    if not isinstance(condition, dict) or condition.get("label") is None:
        return None
    labels = condition["label"]
    return [labels] if isinstance(labels, str) else list(labels)


def _apply_attributes(taxonomy: dict, attributes: Any, path: str) -> None:
    """Scale `annotation_attributes` onto the taxonomy: label-conditioned ones go on labels."""
    if attributes is None:
        return
    if not isinstance(attributes, dict):
        raise Invalid("must be an object of attribute name -> definition", field=path)
    by_label = {label["name"]: label for label in taxonomy["labels"]}
    for name, spec in attributes.items():
        attr = _attribute(name, spec, f"{path}.{name}")
        only_on = _label_condition(spec)
        if only_on is None:
            taxonomy.setdefault("attributes", []).append(attr)
            continue
        for label_name in only_on:
            label = by_label.get(label_name)
            if label is None:
                raise Invalid(
                    f"label_condition names {label_name!r}, which no geometry lists; "
                    f"labels: {', '.join(by_label)}",
                    field=f"{path}.{name}.conditions.label_condition",
                )
            label.setdefault("attributes", []).append(dict(attr))


def _add_label(labels: list[dict], name: str, geometry: str) -> None:
    for label in labels:
        if label["name"] == name:
            if geometry not in label["geometries"]:
                label["geometries"].append(geometry)
            return
    labels.append({"name": name, "geometries": [geometry]})


def _geometry_labels(scale_type: str, params: dict) -> list[dict]:
    labels: list[dict] = []
    if scale_type in LEGACY_GEOMETRY:
        objects = params.get("objects_to_annotate")
        if objects is not None:
            for name in _names(objects, "params.objects_to_annotate"):
                _add_label(labels, name, LEGACY_GEOMETRY[scale_type])
        return labels
    geometries = params.get("geometries")
    if geometries is None:
        return labels
    if not isinstance(geometries, dict):
        raise Invalid("must be an object of geometry -> settings", field="params.geometries")
    allowed = VIDEO_GEOMETRIES if scale_type in VIDEO_TYPES else IMAGE_GEOMETRIES
    for geometry, settings in geometries.items():
        path = f"params.geometries.{geometry}"
        if geometry not in allowed:
            raise Invalid(
                f"geometry {geometry!r} is not supported for {scale_type}; "
                f"supported: {', '.join(allowed)}",
                field=path,
            )
        if not isinstance(settings, dict):
            raise Invalid("must be an object with objects_to_annotate", field=path)
        objects = settings.get("objects_to_annotate")
        if objects is None:
            raise Invalid("objects_to_annotate is required", field=f"{path}.objects_to_annotate")
        for name in _names(objects, f"{path}.objects_to_annotate"):
            _add_label(labels, name, geometry)
    return labels


def _categorization(params: dict) -> dict | None:
    taxonomies = params.get("taxonomies")
    if taxonomies is not None:
        if not isinstance(taxonomies, dict) or not taxonomies:
            raise Invalid(
                "must be an object of taxonomy name -> choices", field="params.taxonomies"
            )
        # The first taxonomy becomes the categories; any others become task attributes.
        items = list(taxonomies.items())
        first_name, first = items[0]
        path = f"params.taxonomies.{first_name}"
        if not isinstance(first, dict):
            raise Invalid("a taxonomy must be an object with choices", field=path)
        taxonomy: dict[str, Any] = {
            "labels": [{"name": name} for name in _choices(first, path)],
            "multi_select": bool(first.get("allow_multiple")),
        }
        others = [
            _attribute(name, {"type": "category", **spec}, f"params.taxonomies.{name}")
            for name, spec in items[1:]
            if isinstance(spec, dict)
        ]
        if others:
            taxonomy["global_attributes"] = others
        return taxonomy
    categories = params.get("categories")
    if categories is None:
        return None
    return {
        "labels": [{"name": name} for name in _names(categories, "params.categories")],
        "multi_select": bool(params.get("allow_multiple")),
    }


def _text_collection(params: dict) -> dict | None:
    """textcollection `fields`: text fields are answered as text; others are task attributes."""
    fields = params.get("fields")
    if not isinstance(fields, list):
        return None
    attributes = []
    for i, spec in enumerate(fields):
        if not isinstance(spec, dict) or spec.get("type", "text") in TEXT_FIELD_TYPES:
            continue
        name = spec.get("field_id")
        if not isinstance(name, str):
            raise Invalid("a field needs a field_id", field=f"params.fields[{i}].field_id")
        spec = {**spec, "type": "category"} if spec.get("type") == "select" else spec
        attributes.append(_attribute(name, spec, f"params.fields[{i}]"))
    return {"global_attributes": attributes} if attributes else None


def taxonomy_from_params(scale_type: str, params: dict) -> dict | None:
    """The native taxonomy the params of a Scale task or project name, or None if none."""
    if (
        scale_type in LEGACY_GEOMETRY
        or scale_type == "imageannotation"
        or scale_type in VIDEO_TYPES
    ):
        labels = _geometry_labels(scale_type, params)
        if not labels:
            return None
        taxonomy: dict[str, Any] = {"labels": labels}
        _apply_attributes(
            taxonomy, params.get("annotation_attributes"), "params.annotation_attributes"
        )
        return taxonomy
    if scale_type == "segmentannotation":
        if params.get("labels") is None:
            return None
        names = _names(params["labels"], "params.labels")
        return {"labels": [{"name": name, "geometries": ["mask"]} for name in names]}
    if scale_type == "namedentityrecognition":
        if params.get("labels") is None:
            return None
        names = _names(params["labels"], "params.labels")
        return {"labels": [{"name": name, "geometries": ["span"]} for name in names]}
    if scale_type == "categorization":
        return _categorization(params)
    if scale_type == "textcollection":
        return _text_collection(params)
    if params.get("criteria") is not None and scale_type in ("chat", "chatlite", "multichat"):
        return {"criteria": params["criteria"]}
    return None


def placeholder_taxonomy(native_type: str) -> dict:
    """What a project starts with when its Scale params name no labels."""
    if native_type in ("image", "video", "categorization", "text_spans"):
        return {"labels": [{"name": PLACEHOLDER_LABEL, "description": PLACEHOLDER_DESCRIPTION}]}
    if native_type == "llm_rating":
        return {"criteria": [{"name": "overall", "min": 1, "max": 5}]}
    return {}


def _is_placeholder(taxonomy: dict) -> bool:
    labels = taxonomy.get("labels") or []
    return len(labels) == 1 and labels[0].get("description") == PLACEHOLDER_DESCRIPTION


def _merge_named(current: list[dict], extra: list[dict]) -> list[dict]:
    merged = [dict(item) for item in current]
    names = {item["name"] for item in merged}
    merged.extend(dict(item) for item in extra if item["name"] not in names)
    return merged


def merge_taxonomy(project: dict, task: dict) -> dict:
    """The project's taxonomy grown by the labels, attributes and criteria a task names."""
    merged = {key: value for key, value in project.items()}
    if _is_placeholder(project) and task.get("labels"):
        merged["labels"] = []
    labels = [dict(label) for label in merged.get("labels", [])]
    by_name = {label["name"]: label for label in labels}
    for label in task.get("labels", []):
        existing = by_name.get(label["name"])
        if existing is None:
            labels.append(dict(label))
            by_name[label["name"]] = labels[-1]
            continue
        wanted = label.get("geometries") or []
        have = list(existing.get("geometries") or [])
        existing["geometries"] = have + [g for g in wanted if g not in have]
        existing["attributes"] = _merge_named(
            existing.get("attributes", []), label.get("attributes", [])
        )
    if labels:
        merged["labels"] = labels
    for key in ("attributes", "global_attributes", "criteria"):
        if task.get(key):
            merged[key] = _merge_named(merged.get(key, []), task[key])
    if task.get("multi_select"):
        merged["multi_select"] = True
    return merged
