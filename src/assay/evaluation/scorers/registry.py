"""The scorer interface and registry. Built-ins register through `@scorer` exactly as a
plugin does; an installed package can also name one in the entry-point group `assay.scorers`.

Two kinds:

- **item** scorers grade one response against its item's target:
  `fn(response: str, target, **options) -> Score`. The target is the item's reference
  answer (a string, or a list of accepted answers), or what the scorer documents (a JSON
  schema for `json_schema`); None when the item has none.
- **corpus** scorers grade a whole run at once (classification F1, corpus BLEU, MAUVE):
  `fn(responses: Sequence[str], targets: Sequence, **options) -> CorpusScore`.

Options are the function's keyword-only parameters, their defaults read from its signature;
`get_scorer(name).bind(options)` checks them (an unknown option or a wrong type is `Invalid`
naming the option) and returns a callable with the options applied.

A plugin, in a module listed in ASSAY_PLUGINS or behind an entry point
(`[project.entry-points."assay.scorers"] shouting = "my_pkg.scorers:shouting"`)::

    from assay.evaluation.scorers import Score, scorer

    @scorer("shouting")
    def shouting(response, target, *, ratio: float = 0.5):
        letters = [c for c in response if c.isalpha()]
        upper = sum(c.isupper() for c in letters) / max(len(letters), 1)
        return Score(float(upper >= ratio), f"{upper:.2f}", None)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any, Literal

from assay.core.errors import Invalid

ENTRY_POINTS = "assay.scorers"
Kind = Literal["item", "corpus"]


@dataclass(frozen=True)
class Score:
    """One response's grade: `value` in [0, 1] for the built-ins, the `answer` the scorer
    read out of the response (None when it found none), and why."""

    value: float
    answer: str | None = None
    explanation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CorpusScore:
    """A whole run's grade: the headline `value` and the other figures in `metrics`."""

    value: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    explanation: str | None = None


@dataclass(frozen=True)
class ScorerSpec:
    name: str
    kind: Kind
    fn: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)  # option → default
    higher_is_better: bool = True
    description: str = ""

    def check_options(
        self, options: dict[str, Any] | None, field_name: str = "options"
    ) -> dict[str, Any]:
        """The given options merged over the defaults, each checked against its default's type."""
        merged = dict(self.options)
        for name, value in (options or {}).items():
            where = f"{field_name}.{name}"
            if name not in self.options:
                takes = ", ".join(sorted(self.options)) or "no options"
                raise Invalid(f"scorer {self.name} takes {takes}; not {name!r}", field=where)
            default = self.options[name]
            if value is not None and default is not None and not _same_kind(value, default):
                raise Invalid(
                    f"{name} must be {type(default).__name__}, not {type(value).__name__}",
                    field=where,
                )
            merged[name] = value
        return merged

    def bind(self, options: dict[str, Any] | None = None, field_name: str = "options") -> Bound:
        return Bound(self, self.check_options(options, field_name))


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int) and not isinstance(default, bool):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, type(default))


@dataclass(frozen=True)
class Bound:
    """A scorer with its options applied."""

    spec: ScorerSpec
    options: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    def score(self, response: str, target: Any = None) -> Score:
        if self.spec.kind != "item":
            raise Invalid(f"{self.name} scores a whole run, not one response", field="scorer")
        return self.spec.fn(response, target, **self.options)

    def score_corpus(self, responses: Sequence[str], targets: Sequence[Any]) -> CorpusScore:
        if len(responses) != len(targets):
            raise Invalid("responses and targets must have the same length", field="targets")
        if self.spec.kind == "corpus":
            return self.spec.fn(responses, targets, **self.options)
        # An item scorer over a run: the mean of its item scores.
        scores = [self.score(r, t) for r, t in zip(responses, targets, strict=True)]
        value = sum(s.value for s in scores) / len(scores) if scores else None
        return CorpusScore(value, {"mean": value, "items": len(scores)})


_scorers: dict[str, ScorerSpec] = {}


def _options_of(fn: Callable[..., Any]) -> dict[str, Any]:
    found = {}
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            if parameter.default is inspect.Parameter.empty:
                raise TypeError(f"option {parameter.name} of {fn.__qualname__} needs a default")
            found[parameter.name] = parameter.default
    return found


def register_scorer(
    name: str,
    fn: Callable[..., Any],
    *,
    kind: Kind = "item",
    higher_is_better: bool = True,
    description: str = "",
) -> ScorerSpec:
    """Make `fn` a scorer runs can name; its keyword-only parameters are its options."""
    if kind not in ("item", "corpus"):
        raise ValueError("kind must be 'item' or 'corpus'")
    doc = description or (inspect.getdoc(fn) or "").split("\n", 1)[0]
    spec = ScorerSpec(name, kind, fn, _options_of(fn), higher_is_better, doc)
    _scorers[name] = spec
    return spec


def scorer(
    name: str, *, kind: Kind = "item", higher_is_better: bool = True, description: str = ""
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator form of `register_scorer`; returns the function unchanged."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        register_scorer(
            name, fn, kind=kind, higher_is_better=higher_is_better, description=description
        )
        return fn

    return register


def _entry_points() -> list[Any]:
    return list(importlib_metadata.entry_points(group=ENTRY_POINTS))


def _from_entry_point(point: Any) -> ScorerSpec:
    loaded = point.load()
    if isinstance(loaded, ScorerSpec):
        return loaded
    if point.name in _scorers:  # the module registered itself with @scorer on import
        return _scorers[point.name]
    return register_scorer(point.name, loaded)


def get_scorer(name: str, field_name: str = "scorer") -> ScorerSpec:
    """The scorer registered under `name` (here, or by an installed entry point)."""
    if name not in _scorers:
        for point in _entry_points():
            if point.name == name:
                _scorers[name] = _from_entry_point(point)
    found = _scorers.get(name)
    if found is None:
        raise Invalid(
            f"no scorer named {name!r} (known: {', '.join(sorted(_scorers))})", field=field_name
        )
    return found


def list_scorers() -> list[ScorerSpec]:
    """Every scorer: the built-ins, the plugins' and the entry points'."""
    for point in _entry_points():
        if point.name not in _scorers:
            _scorers[point.name] = _from_entry_point(point)
    return [_scorers[name] for name in sorted(_scorers)]
