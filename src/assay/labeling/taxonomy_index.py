"""Lookup tables over a taxonomy: its labels with their geometries and attribute scopes, its
links and rating criteria — what validating, aggregating and synthesising responses look up."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from assay.labeling.attributes import AttributeScope, attribute_scope
from assay.labeling.task_types import GEOMETRIES
from assay.labeling.taxonomy import CriterionDef, LinkDef, Taxonomy


@dataclass(frozen=True, slots=True)
class LabelIndex:
    name: str
    geometries: tuple[str, ...]
    scope: AttributeScope
    keypoints: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LinkIndex:
    definition: LinkDef
    from_labels: frozenset[str]
    to_labels: frozenset[str]
    scope: AttributeScope


@dataclass(frozen=True, slots=True)
class TaxonomyIndex:
    """Lookup tables over a taxonomy."""

    labels: dict[str, LabelIndex]
    common: AttributeScope
    global_: AttributeScope
    links: dict[str, LinkIndex]
    criteria: dict[str, CriterionDef]

    @property
    def label_names(self) -> str:
        return ", ".join(self.labels)


# Indexes by taxonomy object: a project's parsed rules (and so its taxonomy object) live in a
# per-process cache across requests, and rebuilding the index was a third of a submit's
# validation (profiled). Taxonomies are never changed in place — an edit parses a new object
# — and an entry goes when its taxonomy is collected. Keyed by identity (models are not
# hashable), with a weak reference to tell a live taxonomy from a new one at the same id.
_indexes: dict[int, tuple[weakref.ref[Taxonomy], TaxonomyIndex]] = {}


def taxonomy_index(taxonomy: Taxonomy) -> TaxonomyIndex:
    """Lookup tables over a taxonomy, built once per taxonomy object."""
    key = id(taxonomy)
    entry = _indexes.get(key)
    if entry is not None and entry[0]() is taxonomy:
        return entry[1]
    index = _build_index(taxonomy)
    _indexes[key] = (weakref.ref(taxonomy, lambda _: _indexes.pop(key, None)), index)
    return index


def _build_index(taxonomy: Taxonomy) -> TaxonomyIndex:
    all_geometries = tuple(dict.fromkeys(g for gs in GEOMETRIES.values() for g in gs))
    labels = {
        label.name: LabelIndex(
            name=label.name,
            geometries=tuple(label.geometries) or all_geometries,
            scope=attribute_scope([*taxonomy.attributes, *label.attributes]),
            keypoints=tuple(label.keypoints),
        )
        for label in taxonomy.labels
    }
    links = {
        link.name: LinkIndex(
            link,
            frozenset(link.from_labels),
            frozenset(link.to_labels),
            attribute_scope(link.attributes),
        )
        for link in taxonomy.links
    }
    return TaxonomyIndex(
        labels=labels,
        common=attribute_scope(taxonomy.attributes),
        global_=attribute_scope(taxonomy.global_attributes),
        links=links,
        criteria={c.name: c for c in taxonomy.criteria},
    )
